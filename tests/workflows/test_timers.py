"""Timers: boundary and intermediate, duration/date/cycle, due times in naive UTC, fired by the portal's clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from tests.support.engine import (
    APPROVAL_START,
    compile_xml,
    complete,
    linear,
    only,
    read,
    ready_ids,
    restored,
    task_for,
    user_task,
    wrap,
)
from workflows import engine

pytestmark = pytest.mark.no_db


def _catch(kind: str, text: str) -> str:
    return (f'<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:{kind}>{text}</bpmn:{kind}>'
            f'</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>')


def _waiting(kind: str, text: str, variables: dict | None = None) -> engine.Instance:
    definition = compile_xml(wrap(linear(_catch(kind, text), user_task("after"))))
    return restored(engine.Instance.start(definition, variables or {}))


REMIND_SERVICE = ('<bpmn:serviceTask id="remind" camunda:type="external" camunda:topic="history.note">'
                  '<bpmn:extensionElements><camunda:inputOutput><camunda:inputParameter name="text">Reminder'
                  '</camunda:inputParameter></camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>')


def _reminders(cycle: str = "R2/PT1H", remind: str = REMIND_SERVICE) -> engine.Instance:
    """approve, with a non-interrupting cycle timer that runs a `remind` service task each time it fires."""
    body = linear(user_task("approve", 'camunda:candidateGroups="approver"')) + f"""
    <bpmn:boundaryEvent id="tick" attachedToRef="approve" cancelActivity="false">
      <bpmn:timerEventDefinition><bpmn:timeCycle>{cycle}</bpmn:timeCycle></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f_tick" sourceRef="tick" targetRef="remind"/>
    {remind}
    <bpmn:sequenceFlow id="f_remind" sourceRef="remind" targetRef="remind_end"/>
    <bpmn:endEvent id="remind_end"/>"""
    return restored(engine.Instance.start(compile_xml(wrap(body)), {}))


def _count(instance: engine.Instance, element_id: str) -> int:
    views = [*instance.user_tasks(), *instance.external_tasks()]
    return sum(1 for view in views if view.element_id == element_id)


def _approval_at_approve() -> engine.Instance:
    instance = engine.Instance.start(compile_xml(read("approval.bpmn")), dict(APPROVAL_START))
    complete(instance, "prepare", {"amount": Decimal("20000")}, "alice")
    instance.deliver(only(instance.external_tasks()).guid, {"base_amount": Decimal("21690")})
    complete(instance, "review", {}, "bob")
    return restored(instance)


# ---------------------------------------------------------------------------- duration

def test_boundary_timer_due_in_plain_p2d(clock):
    timer = only(_approval_at_approve().timers())
    assert timer.element_id == "approve_timeout"
    assert timer.due_at == clock.naive + timedelta(days=2)
    assert timer.due_at.tzinfo is None


def test_boundary_timer_fires_and_cancels_the_task(clock):
    instance = _approval_at_approve()
    instance.fire_timer(only(instance.timers()).guid, clock.advance(days=2, seconds=1))
    instance = restored(instance)
    assert instance.is_completed and instance.user_tasks() == [] and instance.timers() == []
    markers = instance.markers()
    assert "approve" in markers["cancelled"]
    assert {"approve_timeout", "escalated"} <= set(markers["completed"])
    assert "note" not in markers["completed"]


def test_completing_the_task_drops_its_boundary_timer(clock):
    instance = _approval_at_approve()
    complete(instance, "approve", {}, "carol")
    instance = restored(instance)
    assert instance.timers() == []
    assert "approve_timeout" in instance.markers()["cancelled"]


def test_boundary_timer_after_long_downtime_fires_once(clock):
    instance = _approval_at_approve()
    guid = only(instance.timers()).guid
    instance.fire_timer(guid, clock.advance(days=40))
    instance = restored(instance)
    assert instance.is_completed and "escalated" in instance.markers()["completed"]
    with pytest.raises((KeyError, ValueError)):
        instance.fire_timer(guid, clock.advance(days=1))


def test_intermediate_duration_timer(clock):
    instance = _waiting("timeDuration", "PT1H")
    timer = only(instance.timers())
    assert (timer.element_id, timer.due_at) == ("wait", clock.naive + timedelta(hours=1))
    assert ready_ids(instance) == []
    instance.fire_timer(timer.guid, clock.advance(hours=1))
    assert ready_ids(restored(instance)) == ["after"] and instance.timers() == []


def test_duration_from_an_expression(clock):
    timer = only(_waiting("timeDuration", "${wait_for}", {"wait_for": "P3D"}).timers())
    assert timer.due_at == clock.naive + timedelta(days=3)


def test_timer_does_not_fire_by_itself_before_it_is_due(clock):
    instance = _waiting("timeDuration", "PT1H")
    clock.advance(minutes=59)
    instance = restored(instance)
    instance.advance()
    assert ready_ids(instance) == [] and len(instance.timers()) == 1


def test_fire_timer_on_a_task_that_is_not_a_waiting_timer_raises(clock):
    instance = _approval_at_approve()
    before = instance.dumps()
    with pytest.raises(ValueError):
        instance.fire_timer(task_for(instance, "approve").guid, clock.now)
    assert instance.dumps() == before


# ---------------------------------------------------------------------------- date

def test_time_date_with_offset_is_due_in_naive_utc(clock):
    instance = _waiting("timeDate", "2026-06-01T12:00:00+02:00")
    timer = only(instance.timers())
    assert timer.due_at == datetime(2026, 6, 1, 10, 0)
    instance.fire_timer(timer.guid, datetime(2026, 6, 1, 10, 0))
    assert ready_ids(restored(instance)) == ["after"]


def test_time_date_from_an_expression(clock):
    instance = _waiting("timeDate", "${pay_by}", {"pay_by": "2026-07-01T00:00:00Z"})
    assert only(instance.timers()).due_at == datetime(2026, 7, 1)


# ---------------------------------------------------------------------------- cycle

def test_cycle_is_due_after_its_first_interval(clock):
    timer = only(_reminders().timers())
    assert (timer.element_id, timer.due_at) == ("tick", clock.naive + timedelta(hours=1))


def test_cycle_r2_fires_twice_then_ends(clock):
    instance = _reminders("R2/PT1H")
    for fired in (1, 2):
        timer = only(instance.timers())
        instance.fire_timer(timer.guid, clock.advance(hours=1))
        instance = restored(instance)
        assert _count(instance, "remind") == fired
        assert _count(instance, "approve") == 1  # non-interrupting
    assert instance.timers() == []
    for view in instance.external_tasks():  # the reminders are sent
        instance.deliver(view.guid, {})
    complete(instance, "approve", {}, "someone")
    assert restored(instance).is_completed


def test_a_cycle_that_would_open_tasks_for_people_is_refused_at_deploy(clock):
    """Spiff 3.2 drops such tasks, unseen, when the attached task completes: refuse the shape instead."""
    with pytest.raises(engine.InvalidDiagram) as info:
        _reminders("R2/PT1H", remind=user_task("remind"))
    assert [p.element_id for p in info.value.problems] == ["tick"]
    assert "cannot open tasks for people" in info.value.problems[0].message


def test_cycle_after_long_downtime_fires_once_and_is_due_again_later(clock):
    instance = _reminders("R5/PT1H")
    now = clock.advance(days=10)
    instance.fire_timer(only(instance.timers()).guid, now)
    instance = restored(instance)
    assert _count(instance, "remind") == 1
    timer = only(instance.timers())
    assert now < timer.due_at.replace(tzinfo=now.tzinfo) <= now + timedelta(hours=1)


def test_cycle_fires_with_the_real_clock():
    """No frozen clock: the portal passes the current time."""
    instance = _reminders("R2/PT1H")
    instance.fire_timer(only(instance.timers()).guid, datetime.now())
    assert _count(restored(instance), "remind") == 1


def test_cycle_fires_when_the_portal_clock_is_ahead_of_the_machine_clock(clock):
    instance = _reminders("R2/PT1H")
    instance.fire_timer(only(instance.timers()).guid, clock.now + timedelta(minutes=5))
    assert _count(instance, "remind") == 1


def test_timer_expression_with_a_bad_value_is_a_step_failure(clock):
    with pytest.raises(engine.StepFailed) as info:
        _waiting("timeDuration", "${wait_for}", {"wait_for": "P2X"})
    assert info.value.element_id == "wait"


@pytest.mark.parametrize(("value", "due"), [
    (datetime(2026, 7, 1, 9, 30).date(), datetime(2026, 7, 1)),
    (datetime(2026, 7, 1, 9, 30), datetime(2026, 7, 1, 9, 30)),
])
def test_time_date_from_a_date_or_datetime_variable(clock, value, due):
    """A date or a naive date-time in the case data is a due moment in UTC, like every portal time."""
    instance = _waiting("timeDate", "${pay_by}", {"pay_by": value})
    assert only(instance.timers()).due_at == due


def test_duration_from_a_timedelta_variable(clock):
    instance = _waiting("timeDuration", "${grace}", {"grace": timedelta(days=2)})
    assert only(instance.timers()).due_at == clock.naive + timedelta(days=2)
