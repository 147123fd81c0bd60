"""User tasks: who may do them (lanes, groups, users, assignee), when they are due, their forms, four-eyes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.support.engine import (
    APPROVAL_START,
    compile_xml,
    complete,
    linear,
    read,
    ready_ids,
    restored,
    task_for,
    user_task,
    wrap,
)
from workflows import engine

pytestmark = pytest.mark.no_db

NOW = datetime(2026, 5, 1, 9, 0)
START = {"owner": "carol", "deputy": "bob", "team": "reviewer", "deadline": "2026-12-24T12:00:00Z"}


@pytest.fixture
def instance() -> engine.Instance:
    return restored(engine.Instance.start(compile_xml(read("user_tasks.bpmn")), dict(START)))


def test_lane_names_the_role(instance):
    view = task_for(instance, "by_lane")
    assert (view.candidate_roles, view.candidate_users, view.assignee) == (["finance_manager"], [], None)
    assert view.name == "Sign off"


def test_candidate_groups_are_split_and_stripped(instance):
    assert task_for(instance, "by_groups").candidate_roles == ["approver", "finance_manager"]


def test_candidate_groups_win_over_the_lane(instance):
    view = task_for(instance, "groups_win")
    assert view.candidate_roles == ["reviewer"] and view.assignee == "dave"


def test_candidate_users_and_expressions(instance):
    view = task_for(instance, "by_users")
    assert view.candidate_users == ["alice", "bob"]
    assert view.candidate_roles == ["reviewer"]  # ${team}


def test_assignee_expression_is_resolved_from_data(instance):
    assert task_for(instance, "by_assignee").assignee == "carol"


def test_name_falls_back_to_the_element_id(instance):
    assert task_for(instance, "by_groups").name == "by_groups"


def test_due_date_duration_is_relative_to_now(instance):
    assert task_for(instance, "by_lane", NOW).due_at == datetime(2026, 5, 3, 9, 0)
    assert task_for(instance, "by_assignee", NOW).due_at == datetime(2026, 5, 2, 21, 0)


def test_due_date_duration_from_an_aware_now_is_naive_utc(instance):
    berlin = datetime(2026, 5, 1, 11, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # 09:00 UTC
    assert task_for(instance, "by_lane", berlin).due_at == datetime(2026, 5, 3, 9, 0)


def test_due_date_duration_without_now_uses_the_current_time(instance):
    before = datetime.now(UTC).replace(tzinfo=None)
    due = task_for(instance, "by_lane").due_at
    after = datetime.now(UTC).replace(tzinfo=None)
    assert due.tzinfo is None
    assert before + timedelta(days=2) <= due <= after + timedelta(days=2)


def test_due_date_iso_datetime_with_offset_is_naive_utc(instance):
    assert task_for(instance, "by_groups", NOW).due_at == datetime(2026, 12, 1, 15, 0)


def test_due_date_expression(instance):
    assert task_for(instance, "by_users", NOW).due_at == datetime(2026, 12, 24, 12, 0)


def test_no_due_date(instance):
    assert task_for(instance, "with_form", NOW).due_at is None


def test_form_fields_with_constraints_and_options(instance):
    view = task_for(instance, "with_form")
    assert view.name == "Enter the invoice"
    amount, currency, memo = view.form
    assert amount == {"id": "amount", "type": "long", "label": "Amount", "default": "0",
                      "validation": {"required": None, "min": "1", "max": "1000000"}, "options": []}
    assert currency["type"] == "enum" and currency["default"] == "EUR"
    assert currency["options"] == [{"id": "EUR", "name": "Euro"}, {"id": "USD", "name": "US dollar"}]
    assert memo["label"] == "memo" and memo["validation"] == {"maxlength": "20"}


def test_completing_stores_the_values(instance):
    complete(instance, "with_form", {"amount": 120, "currency": "USD"}, "alice")
    assert "with_form" not in ready_ids(restored(instance))
    for element_id in ("by_lane", "by_groups", "by_users", "by_assignee", "groups_win"):
        complete(instance, element_id)
    assert instance.is_completed
    assert {"amount": 120, "currency": "USD"}.items() <= instance.variables().items()


def test_completing_an_unknown_or_finished_task_raises(instance):
    guid = task_for(instance, "by_lane").guid
    complete(instance, "by_lane")
    with pytest.raises(ValueError, match="COMPLETED"):
        instance.complete_user_task(guid, {}, "bob")
    with pytest.raises(KeyError):
        instance.complete_user_task("00000000-0000-0000-0000-000000000000", {}, "bob")


# ---------------------------------------------------------------------------- four-eyes

def _approval_at_approve() -> engine.Instance:
    instance = engine.Instance.start(compile_xml(read("approval.bpmn")), dict(APPROVAL_START))
    complete(instance, "prepare", {"amount": Decimal("20000")}, "alice")
    instance = restored(instance)
    job = instance.external_tasks()[0]
    instance.deliver(job.guid, {"base_amount": Decimal("21690"), "rate": Decimal("1.0845")})
    assert task_for(restored(instance), "review").excluded_users == ["alice"]
    complete(instance, "review", {}, "bob")
    return restored(instance)


def test_four_eyes_excludes_who_did_the_named_tasks():
    instance = _approval_at_approve()
    assert task_for(instance, "approve").excluded_users == ["alice", "bob"]
    assert instance.completed_by(["prepare"]) == ["alice"]


def test_no_four_eyes_property_excludes_nobody():
    instance = engine.Instance.start(compile_xml(read("approval.bpmn")), dict(APPROVAL_START))
    assert task_for(instance, "prepare").excluded_users == []


def _four_eyes_loop() -> str:
    prop = ('<bpmn:extensionElements><camunda:properties><camunda:property name="fourEyesExcludes" '
            'value="prepare"/></camunda:properties></bpmn:extensionElements>')
    body = f"""<bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="join"/>
    <bpmn:exclusiveGateway id="join"/>
    <bpmn:sequenceFlow id="f1" sourceRef="join" targetRef="prepare"/>
    {user_task("prepare")}
    <bpmn:sequenceFlow id="f2" sourceRef="prepare" targetRef="gw"/>
    <bpmn:exclusiveGateway id="gw" default="f_on"/>
    <bpmn:sequenceFlow id="f_again" sourceRef="gw" targetRef="join">
      <bpmn:conditionExpression>again</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_on" sourceRef="gw" targetRef="check"/>
    {user_task("check", 'camunda:candidateGroups="reviewer"', prop)}
    <bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="end"/>
    <bpmn:endEvent id="end"/>"""
    return wrap(body)


def test_four_eyes_lists_everyone_who_did_a_repeated_task():
    instance = engine.Instance.start(compile_xml(_four_eyes_loop()), {})
    complete(instance, "prepare", {"again": True}, "zoe")
    instance = restored(instance)
    complete(instance, "prepare", {"again": False}, "alice")
    assert task_for(restored(instance), "check").excluded_users == ["alice", "zoe"]


def test_four_eyes_inside_an_embedded_subprocess():
    prop = ('<bpmn:extensionElements><camunda:properties><camunda:property name="fourEyesExcludes" '
            'value="prepare"/></camunda:properties></bpmn:extensionElements>')
    inner = linear(user_task("prepare"), user_task("check", 'camunda:candidateGroups="reviewer"', prop))
    inner = inner.replace('"start"', '"sub_start"').replace('"end"', '"sub_end"').replace('id="flow_', 'id="s_')
    definition = compile_xml(wrap(linear(f'<bpmn:subProcess id="sub">{inner}</bpmn:subProcess>')))
    instance = engine.Instance.start(definition, {})
    complete(instance, "prepare", {}, "alice")
    assert task_for(restored(instance), "check").excluded_users == ["alice"]


def test_four_eyes_sees_tasks_done_in_a_non_interrupting_timer_branch(clock):
    prop = ('<bpmn:extensionElements><camunda:properties><camunda:property name="fourEyesExcludes" '
            'value="remind"/></camunda:properties></bpmn:extensionElements>')
    body = linear(user_task("approve", 'camunda:candidateGroups="approver"', prop)) + """
    <bpmn:boundaryEvent id="tick" attachedToRef="approve" cancelActivity="false">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f_tick" sourceRef="tick" targetRef="remind"/>
    <bpmn:userTask id="remind" camunda:candidateGroups="accountant"/>
    <bpmn:sequenceFlow id="f_remind" sourceRef="remind" targetRef="remind_end"/>
    <bpmn:endEvent id="remind_end"/>"""
    instance = engine.Instance.start(compile_xml(wrap(body)), {})
    instance.fire_timer(instance.timers()[0].guid, clock.advance(hours=1))
    complete(instance, "remind", {}, "carol")
    assert task_for(restored(instance), "approve").excluded_users == ["carol"]


def _due_from(value_text: str, variables: dict) -> engine.Instance:
    xml = wrap(linear(user_task("sign", f'camunda:candidateGroups="approver" camunda:dueDate="{value_text}"')))
    return engine.Instance.start(compile_xml(xml), variables)


@pytest.mark.parametrize(("value", "due"), [
    (datetime(2026, 12, 24).date(), datetime(2026, 12, 24)),
    (datetime(2026, 12, 24, 17, 30), datetime(2026, 12, 24, 17, 30)),
    ("2026-12-24T18:30:00+01:00", datetime(2026, 12, 24, 17, 30)),
    (None, None),
])
def test_due_date_from_a_variable_is_naive_utc_and_none_means_no_due_date(value, due):
    assert task_for(_due_from("${pay_by}", {"pay_by": value}), "sign", NOW).due_at == due


@pytest.mark.parametrize(("attrs", "cause"), [
    ('camunda:candidateGroups="approver" camunda:dueDate="${pay_by}"', "pay_by"),
    ('camunda:candidateGroups="approver" camunda:dueDate="${when}"', "not-a-date"),
    ('camunda:candidateGroups="${team}"', "team"),
    ('camunda:candidateGroups="approver" camunda:assignee="${owner.name}"', "owner"),
])
def test_a_task_whose_people_or_due_date_cannot_be_worked_out_is_a_step_failure_naming_it(attrs, cause):
    instance = engine.Instance.start(compile_xml(wrap(linear(user_task("sign", attrs)))), {"when": "not-a-date"})
    with pytest.raises(engine.StepFailed) as info:
        instance.user_tasks(NOW)
    assert info.value.element_id == "sign"
    assert "cannot set up the task" in info.value.message and cause in info.value.message
