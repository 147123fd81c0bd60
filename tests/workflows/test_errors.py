"""Run-time failures: StepFailed names the element, the state can be saved, retry_failed continues."""

from __future__ import annotations

from decimal import Decimal

import pytest
from SpiffWorkflow.util.task import TaskState

from tests.support.engine import compile_xml, complete, ready_ids, restored, user_task, wrap
from workflows import engine

pytestmark = pytest.mark.no_db


def _definition() -> engine.Definition:
    """prepare → gw → big (amount > 10000) | small (default)."""
    body = f"""<bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="prepare"/>
    {user_task("prepare")}
    <bpmn:sequenceFlow id="f1" sourceRef="prepare" targetRef="gw"/>
    <bpmn:exclusiveGateway id="gw" default="f_small"/>
    <bpmn:sequenceFlow id="f_big" sourceRef="gw" targetRef="big">
      <bpmn:conditionExpression>${{amount &gt; 10000}}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_small" sourceRef="gw" targetRef="small"/>
    {user_task("big")}{user_task("small")}
    <bpmn:sequenceFlow id="f2" sourceRef="big" targetRef="end"/>
    <bpmn:sequenceFlow id="f3" sourceRef="small" targetRef="end"/>
    <bpmn:endEvent id="end"/>"""
    return compile_xml(wrap(body))


def _failed() -> tuple[engine.Instance, engine.StepFailed]:
    instance = engine.Instance.start(_definition(), {})
    with pytest.raises(engine.StepFailed) as info:
        complete(instance, "prepare", {"note": "no amount entered"}, "alice")
    return instance, info.value


def _mend(instance: engine.Instance, **variables) -> None:
    """There is no facade call for this yet: set data on the failed task directly."""
    for task in instance.workflow.get_tasks(state=TaskState.ERROR):
        task.data.update(variables)


def test_missing_variable_in_a_condition_names_the_gateway():
    _, failure = _failed()
    assert failure.element_id == "gw"
    assert str(failure).startswith("gw: ") and "amount > 10000" in failure.message


def test_failed_state_can_be_saved_and_shows_the_failure():
    instance, _ = _failed()
    loaded = restored(instance)
    assert loaded.markers()["failed"] == ["gw"]
    assert "prepare" in loaded.markers()["completed"]
    assert loaded.user_tasks() == [] and not loaded.is_completed
    assert loaded.variables()["note"] == "no amount entered"


@pytest.mark.parametrize(("amount", "expected"), [(Decimal("20000"), "big"), (Decimal("10"), "small")])
def test_retry_after_setting_the_variable_continues(amount, expected):
    instance, _ = _failed()
    instance = restored(instance)
    _mend(instance, amount=amount)
    instance.retry_failed()
    instance = restored(instance)
    assert ready_ids(instance) == [expected]
    assert instance.markers()["failed"] == [] and "gw" in instance.markers()["completed"]
    complete(instance, expected)
    assert instance.is_completed


def test_retry_with_nothing_failed_is_harmless():
    instance = engine.Instance.start(_definition(), {})
    before = instance.dumps()
    instance.retry_failed()
    assert instance.dumps() == before


def test_retry_that_fails_again_is_a_step_failure():
    instance, _ = _failed()
    instance = restored(instance)
    with pytest.raises(engine.StepFailed) as info:
        instance.retry_failed()
    assert info.value.element_id == "gw"


def test_step_failure_message_says_what_is_missing():
    _, failure = _failed()
    assert "amount" in failure.message.replace("'amount > 10000'", "") and "NameError" in failure.message


def test_failure_right_after_the_start_can_still_be_saved():
    body = f"""<bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="gw"/>
    <bpmn:exclusiveGateway id="gw" default="f_b"/>
    <bpmn:sequenceFlow id="f_a" sourceRef="gw" targetRef="a">
      <bpmn:conditionExpression>missing &gt; 1</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_b" sourceRef="gw" targetRef="b"/>
    {user_task("a")}{user_task("b")}
    <bpmn:sequenceFlow id="f1" sourceRef="a" targetRef="end"/><bpmn:sequenceFlow id="f2" sourceRef="b" targetRef="end"/>
    <bpmn:endEvent id="end"/>"""
    definition = compile_xml(wrap(body))
    with pytest.raises(engine.StepFailed):
        engine.Instance.start(definition, {})
    instance = engine.Instance.new(definition, {})
    with pytest.raises(engine.StepFailed) as info:
        instance.advance()
    assert info.value.element_id == "gw"
    loaded = restored(instance)
    assert loaded.markers()["failed"] == ["gw"]
    _mend(loaded, missing=0)
    loaded.retry_failed()
    assert ready_ids(loaded) == ["b"]
