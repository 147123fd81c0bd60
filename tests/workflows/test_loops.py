"""Loops: a user task repeated many times keeps working when the state is saved and loaded at every step."""

from __future__ import annotations

import pytest

from tests.support.engine import compile_xml, only, read, ready_ids, restored, user_task, wrap
from workflows import engine

pytestmark = pytest.mark.no_db

ROUNDS = 200


def test_two_hundred_rounds_with_save_and_load_at_every_step():
    definition = compile_xml(read("loop.bpmn"))
    instance = restored(engine.Instance.start(definition, {"done": False}))
    seen = set()
    for round_number in range(1, ROUNDS + 1):
        view = only(instance.user_tasks())
        assert view.element_id == "work" and view.guid not in seen
        seen.add(view.guid)
        instance.complete_user_task(view.guid, {"done": round_number == ROUNDS, "round": round_number},
                                    f"user{round_number % 3}")
        instance = restored(instance)
        assert instance.is_completed == (round_number == ROUNDS)
    assert instance.variables()["round"] == ROUNDS
    assert instance.markers()["completed"] == ["end", "gw", "join", "start", "work"]
    assert instance.completed_by(["work"]) == ["user0", "user1", "user2"]


def _counting_loop(rounds: int) -> str:
    """join → count (script) → gw → back to join until n reaches `rounds`, then a user task."""
    body = f"""<bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="join"/>
    <bpmn:exclusiveGateway id="join"/>
    <bpmn:sequenceFlow id="f2" sourceRef="join" targetRef="count"/>
    <bpmn:scriptTask id="count" scriptFormat="python"><bpmn:script>n += 1</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="count" targetRef="gw"/>
    <bpmn:exclusiveGateway id="gw" default="f_back"/>
    <bpmn:sequenceFlow id="f_back" sourceRef="gw" targetRef="join"/>
    <bpmn:sequenceFlow id="f_out" sourceRef="gw" targetRef="done">
      <bpmn:conditionExpression>n &gt;= {rounds}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    {user_task("done")}
    <bpmn:sequenceFlow id="f4" sourceRef="done" targetRef="end"/>
    <bpmn:endEvent id="end"/>"""
    return wrap(body)


def test_automatic_loop_of_a_hundred_rounds():
    instance = restored(engine.Instance.start(compile_xml(_counting_loop(100)), {"n": 0}))
    assert ready_ids(instance) == ["done"] and instance.variables()["n"] == 100


def test_loop_deeper_than_a_thousand_tasks_still_runs():
    instance = engine.Instance.start(compile_xml(_counting_loop(400)), {"n": 0})  # 3 levels a round → 1200
    assert not instance.is_completed
    assert ready_ids(instance) == ["done"] and instance.variables()["n"] == 400
