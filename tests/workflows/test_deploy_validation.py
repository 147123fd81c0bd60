"""Deploy-time validation: compile_definition(xml, rules) lists every problem by element id and reason."""

from __future__ import annotations

import pytest

from tests.support.engine import (
    compile_xml,
    linear,
    messages_for,
    problem_ids,
    problems,
    read,
    user_task,
    wrap,
)
from workflows import engine
from workflows.parser import InvalidDiagram

pytestmark = pytest.mark.no_db

SIGN = user_task("sign")


def _with_boundary_timer(kind: str, text: str) -> str:
    boundary = (f'<bpmn:boundaryEvent id="late" attachedToRef="sign" cancelActivity="true">'
                f'<bpmn:timerEventDefinition><bpmn:{kind}>{text}</bpmn:{kind}></bpmn:timerEventDefinition>'
                f'</bpmn:boundaryEvent><bpmn:sequenceFlow id="f_late" sourceRef="late" targetRef="late_end"/>'
                f'<bpmn:endEvent id="late_end"/>')
    return wrap(linear(SIGN) + boundary)


def _gateway(condition: str) -> str:
    """start → gw; gw → end by default, gw → other when `condition`."""
    return wrap(linear('<bpmn:exclusiveGateway id="gw" default="flow_gw_end"/>')
                + f'<bpmn:sequenceFlow id="f_cond" sourceRef="gw" targetRef="other">'
                  f'<bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>'
                  '<bpmn:endEvent id="other"/>')


def test_valid_diagram_deploys_with_key_and_name():
    definition = compile_xml(read("approval.bpmn"))
    assert (definition.key, definition.name) == ("approval", "Three-step approval")


def test_four_different_problems_are_all_reported_in_one_go():
    found = problems(read("invalid_four_problems.bpmn"))
    assert {element_id for element_id, _ in found} == {"lookup", "sign", "f_big", "sign_late"}
    assert "crm.lookup" in messages_for(found, "lookup")
    assert "auditor" in messages_for(found, "sign")
    assert "SyntaxError" in messages_for(found, "f_big")
    assert "P2X" in messages_for(found, "sign_late")


def test_invalid_diagram_message_names_every_element():
    with pytest.raises(InvalidDiagram) as info:
        compile_xml(read("invalid_four_problems.bpmn"))
    for element_id in ("lookup", "sign", "f_big", "sign_late"):
        assert f"{element_id}:" in str(info.value)


def test_process_not_executable():
    found = problems(wrap(linear(SIGN), executable=False))
    assert found[0][0] == "p" and "not executable" in found[0][1]


def test_unknown_topic():
    found = problems(wrap(linear('<bpmn:serviceTask id="svc" camunda:type="external" camunda:topic="nope.x"/>')))
    assert [element_id for element_id, _ in found] == ["svc"]
    assert "unknown topic 'nope.x'" in messages_for(found, "svc")
    assert "fx.convert" in messages_for(found, "svc")  # says which topics exist


def test_external_service_task_without_topic():
    found = problems(wrap(linear('<bpmn:serviceTask id="svc" camunda:type="external"/>')))
    assert {element_id for element_id, _ in found} == {"svc"}


def test_service_task_that_is_not_external():
    found = problems(wrap(linear('<bpmn:serviceTask id="svc" camunda:class="com.example.Delegate"/>')))
    assert {element_id for element_id, _ in found} == {"svc"}
    assert 'camunda:type="external"' in messages_for(found, "svc")


def test_known_topic_deploys():
    compile_xml(wrap(linear('<bpmn:serviceTask id="svc" camunda:type="external" camunda:topic="history.note"/>')))


def test_unknown_role_in_candidate_groups():
    found = problems(wrap(linear(user_task("sign", 'camunda:candidateGroups="approver,auditor"'))))
    assert [element_id for element_id, _ in found] == ["sign"]
    assert "unknown role 'auditor'" in found[0][1]


def _in_lane(lane_name: str) -> str:
    lanes = (f'<bpmn:laneSet id="ls"><bpmn:lane id="lane1" name="{lane_name}">'
             f'<bpmn:flowNodeRef>sign</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>')
    return wrap(lanes + linear('<bpmn:userTask id="sign"/>'))


def test_unknown_role_from_lane_name():
    found = problems(_in_lane("Chief Wizard"))
    assert [element_id for element_id, _ in found] == ["sign"]
    assert "unknown role 'chief_wizard'" in found[0][1]


def test_lane_named_like_a_role_deploys():
    compile_xml(_in_lane("Finance manager"))


def test_user_task_nobody_can_do():
    found = problems(wrap(linear('<bpmn:userTask id="sign"/>')))
    assert [element_id for element_id, _ in found] == ["sign"]
    assert "nobody can do this task" in found[0][1]


@pytest.mark.parametrize("attrs", ['camunda:candidateUsers="alice"', 'camunda:assignee="${owner}"',
                                   'camunda:candidateGroups="${group}"'])
def test_users_assignee_or_group_expression_are_enough(attrs):
    compile_xml(wrap(linear(user_task("sign", attrs))))


def test_condition_syntax_error():
    found = problems(_gateway("${amount &gt;}"))
    assert [element_id for element_id, _ in found] == ["f_cond"]
    assert "amount >" in found[0][1]


def test_condition_touching_dunders_is_refused_at_deploy():
    assert problem_ids(_gateway("${amount.__class__ is int}")) == ["f_cond"]


@pytest.mark.parametrize("element", ['<bpmn:complexGateway id="odd"/>',
                                     '<bpmn:businessRuleTask id="odd" camunda:decisionRef="risk"/>'])
def test_unsupported_element(element):
    found = problems(wrap(linear(element)))
    assert {element_id for element_id, _ in found} == {"odd"}
    assert "not supported" in messages_for(found, "odd")


def test_business_rule_task_without_decision_ref_is_a_problem_not_a_crash():
    assert problem_ids(wrap(linear('<bpmn:businessRuleTask id="odd"/>'))) == ["odd"]


@pytest.mark.parametrize(("kind", "text"), [("timeDuration", "P2X"), ("timeDuration", "2 days"),
                                            ("timeDate", "2026-13-01"), ("timeCycle", "every hour")])
def test_bad_timer(kind, text):
    found = problems(_with_boundary_timer(kind, text))
    assert [element_id for element_id, _ in found] == ["late"]
    assert text in found[0][1]


@pytest.mark.parametrize(("kind", "text"), [("timeDuration", "P2D"), ("timeDuration", "PT12H"),
                                            ("timeDate", "2026-12-01T09:00:00Z"), ("timeCycle", "R3/PT1H"),
                                            ("timeDuration", "${wait}")])
def test_good_timer_deploys(kind, text):
    compile_xml(_with_boundary_timer(kind, text))


def test_cycle_with_bad_interval_is_refused():
    assert problem_ids(_with_boundary_timer("timeCycle", "R2/P2X")) == ["late"]


def _four_eyes(value: str) -> str:
    prop = (f'<bpmn:extensionElements><camunda:properties><camunda:property name="fourEyesExcludes" '
            f'value="{value}"/></camunda:properties></bpmn:extensionElements>')
    return wrap(linear(user_task("prepare"), '<bpmn:serviceTask id="svc" camunda:type="external" '
                       'camunda:topic="history.note"/>', user_task("sign", inner=prop)))


def test_four_eyes_naming_a_missing_task():
    found = problems(_four_eyes("prepare,ghost"))
    assert [element_id for element_id, _ in found] == ["sign"]
    assert "'ghost'" in found[0][1]


def test_four_eyes_naming_a_service_task():
    assert problem_ids(_four_eyes("svc")) == ["sign"]


def test_four_eyes_naming_a_user_task_deploys():
    compile_xml(_four_eyes("prepare"))


def test_malformed_xml():
    found = problems(read("approval.bpmn").replace("</bpmn:process>", ""))
    assert len(found) == 1 and found[0][0] == "" and "not well-formed XML" in found[0][1]


def test_two_executable_processes():
    second = '<bpmn:process id="second" isExecutable="true">' + linear(user_task("other")) + "</bpmn:process>\n"
    found = problems(wrap(linear(SIGN), extra=second))
    assert [element_id for element_id, _ in found] == ["second"]


def test_a_non_executable_second_process_is_ignored():
    second = '<bpmn:process id="second" isExecutable="false">' + linear('<bpmn:userTask id="x"/>') + "</bpmn:process>"
    assert compile_xml(wrap(linear(SIGN), extra=second)).key == "p"


def test_problems_from_the_engine_parser_are_included():
    assert problem_ids(wrap(SIGN)) == ["p"]  # no start event: found by Spiff, not by the lint


def test_modeler_output_with_documentation_and_subprocess_refs_deploys():
    body = """<bpmn:documentation>Pays suppliers.</bpmn:documentation>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="sub"/>
    <bpmn:subProcess id="sub">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:startEvent id="sub_start"/>
      <bpmn:sequenceFlow id="sf1" sourceRef="sub_start" targetRef="sign"/>
      <bpmn:userTask id="sign" camunda:candidateGroups="accountant"/>
      <bpmn:sequenceFlow id="sf2" sourceRef="sign" targetRef="sub_end"/>
      <bpmn:endEvent id="sub_end"/>
    </bpmn:subProcess>
    <bpmn:sequenceFlow id="f2" sourceRef="sub" targetRef="end"/>
    <bpmn:endEvent id="end"/>"""
    compile_xml(wrap(body))


def test_not_executable_without_rules_is_an_invalid_diagram():
    with pytest.raises(InvalidDiagram):
        engine.compile_definition(wrap(linear(SIGN), executable=False))


@pytest.mark.parametrize(("attrs", "expected"), [
    ('camunda:candidateGroups="accountant" camunda:dueDate="tomorrow"', "dueDate 'tomorrow' is neither"),
    ('camunda:candidateGroups="accountant" camunda:dueDate="${import os}"', "dueDate"),
    ('camunda:candidateGroups="${team.__class__}"', "candidateGroups"),
    ('camunda:candidateGroups="accountant" camunda:assignee="${owner +}"', "assignee"),
    ('camunda:candidateUsers="${a b}"', "candidateUsers"),
])
def test_user_task_attributes_that_could_never_work_are_refused(attrs, expected):
    found = problems(wrap(linear(user_task("sign", attrs))))
    assert [element_id for element_id, _ in found] == ["sign"]
    assert expected in messages_for(found, "sign")


@pytest.mark.parametrize("due", ["P3D", "PT12H", "2026-12-01T09:00:00Z", "2026-12-01", "${deadline}"])
def test_good_due_dates_deploy(due):
    compile_xml(wrap(linear(user_task("sign", f'camunda:candidateGroups="accountant" camunda:dueDate="{due}"'))))


def _form(field: str) -> str:
    return ('<bpmn:extensionElements><camunda:formData>' + field + '</camunda:formData></bpmn:extensionElements>')


@pytest.mark.parametrize(("field", "expected"), [
    ('<camunda:formField id="amount" type="currency"/>', "type 'currency'"),
    ('<camunda:formField type="string"/>', "needs an id"),
    ('<camunda:formField id="amount" type="long"><camunda:validation>'
     '<camunda:constraint name="min" config="one"/></camunda:validation></camunda:formField>',
     "form field amount: min needs a number, not 'one'"),
    ('<camunda:formField id="amount" type="long"><camunda:validation>'
     '<camunda:constraint name="max" config="NaN"/></camunda:validation></camunda:formField>', "max needs a number"),
    ('<camunda:formField id="note" type="string"><camunda:validation>'
     '<camunda:constraint name="minlength"/></camunda:validation></camunda:formField>',
     "minlength needs a whole number, not None"),
    ('<camunda:formField id="note" type="string"><camunda:validation>'
     '<camunda:constraint name="pattern" config="[a-z]+"/></camunda:validation></camunda:formField>',
     "unknown constraint 'pattern'"),
])
def test_form_fields_the_inbox_cannot_check_are_refused(field, expected):
    found = problems(wrap(linear(user_task("sign", inner=_form(field)))))
    assert expected in messages_for(found, "sign")


def test_output_parameters_are_checked_like_input_parameters():
    service = ('<bpmn:serviceTask id="fx" camunda:type="external" camunda:topic="history.note">'
               '<bpmn:extensionElements><camunda:inputOutput>'
               '<camunda:inputParameter name="text">hello</camunda:inputParameter>'
               '<camunda:outputParameter name="total">${result +}</camunda:outputParameter>'
               '</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>')
    assert "output parameter total" in messages_for(problems(wrap(linear(service))), "fx")
