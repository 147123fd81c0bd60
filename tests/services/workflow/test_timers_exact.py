"""timers.py, exactly: found by the mutation run (docs/testing.md, "Mutation run").

Each test pins one outcome of the timer sweep: which timers a batch takes (due by then, not fired, not set
aside, oldest first, up to the limit, 500 by default), the `timer_fired` history line, what the sweep logs and
counts for an instance busy in another transaction, what it records for a timer whose firing raises, and that
it reads the timer afresh once it holds the instance, so a timer changed or removed meanwhile is not fired or
set aside on stale data.

"Meanwhile" (another transaction, between the sweep's list of due timers and its lock on the instance) is
played here by a hook on `instances.lock_if_free`, the call that takes that lock.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import delete, insert, select, update

from portal.extensions import db
from portal.models import WorkflowTimer
from portal.services.workflow import instances, steps, timers
from tests.support.workflow import T0, commit, deploy, events, instance, open_elements, timers_of
from workflows import engine

LOGGER = "portal.services.workflow.timers"


def _deadline(business_key: str = "T-1"):
    """A `deadline` instance (sign within an hour, else escalate) and its one timer."""
    deploy("deadline.bpmn")
    row = steps.start("deadline", business_key, now=T0)
    [timer] = timers_of(row.id)
    return row, timer


def _messages(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == LOGGER]


def _raising_fire(monkeypatch):
    def fire_badly(self, guid, now):
        raise RuntimeError("bug in a timer")

    monkeypatch.setattr(engine.Instance, "fire_timer", fire_badly)


def _meanwhile(monkeypatch, *actions):
    """Before each call of lock_if_free, run the next of `actions` (None: nothing) as another transaction
    would; an action may also answer for the call: "busy" (None, the row is held) or "raise"."""
    real, pending = instances.lock_if_free, list(actions)

    def lock_if_free(instance_id):
        action = pending.pop(0) if pending else None
        if action == "busy":
            return None
        if action == "raise":
            raise RuntimeError("lock failed")
        if action is not None:
            action()
        return real(instance_id)

    monkeypatch.setattr(instances, "lock_if_free", lock_if_free)


# ---------------------------------------------------------------------------- which timers a batch takes

@pytest.fixture
def batch(monkeypatch):
    """Timer rows of a running and a cancelled instance (none of them the engine's); _fire_apart records the
    timers the sweep hands it, by element id, and fires nothing."""
    deploy("note_only.bpmn")
    live, dead = steps.start("note_only", "B-1", now=T0), steps.start("note_only", "B-2", now=T0)
    steps.cancel(dead.id, by="ops", now=T0)
    rows = [  # (instance, element id, due, fired_at, failed_at), inserted in this order
        (live, "fired", T0 - timedelta(hours=5), T0, None),
        (live, "parked", T0 - timedelta(hours=4), None, T0),
        (dead, "dead", T0 - timedelta(hours=3), None, None),
        (live, "late_1h", T0 - timedelta(hours=1), None, None),
        (live, "late_2h", T0 - timedelta(hours=2), None, None),
        (live, "due_now", T0, None, None),
        (live, "future", T0 + timedelta(seconds=1), None, None),
    ]
    db.session.execute(insert(WorkflowTimer), [
        {"instance_id": row.id, "task_guid": f"{number:036d}", "element_id": element, "due_at": due,
         "fired_at": fired, "failed_at": failed, "last_error": ""}
        for number, (row, element, due, fired, failed) in enumerate(rows)])
    names = {t.id: t.element_id for t in db.session.scalars(select(WorkflowTimer))}
    handed: list[str] = []

    def record(timer_id, instance_id, now):
        handed.append(names[timer_id])
        return "gone"

    monkeypatch.setattr(timers, "_fire_apart", record)
    return handed


def test_a_batch_takes_the_oldest_due_timers_that_are_neither_fired_nor_set_aside_up_to_the_limit(batch):
    timers.fire_due(T0, limit=2)
    assert batch == ["late_2h", "late_1h"]  # kills fire_due 5, 6, 11, 12


def test_a_timer_due_exactly_at_the_sweeps_clock_is_due(batch):
    timers.fire_due(T0, limit=10)
    assert batch == ["late_2h", "late_1h", "due_now"]  # kills fire_due 24


def test_a_batch_holds_500_timers_by_default(monkeypatch):
    deploy("note_only.bpmn")
    row = steps.start("note_only", "B-3", now=T0)
    db.session.execute(insert(WorkflowTimer), [
        {"instance_id": row.id, "task_guid": f"{n:036d}", "element_id": "many", "due_at": T0 - timedelta(minutes=n),
         "last_error": ""} for n in range(501)])
    monkeypatch.setattr(timers, "_fire_apart", lambda timer_id, instance_id, now: "fired")
    assert timers.fire_due(T0) == (500, 0)  # kills fire_due 1


# ---------------------------------------------------------------------------- a timer that fires

def test_a_fired_timer_records_when_it_was_due():
    row, timer = _deadline()
    due = timer.due_at
    assert timers.fire_due(due) == (1, 0)  # due exactly now: kills fire_due 24 on the engine's own timer
    # kills _fire 28, 32, 35, 36
    assert [(e.element_id, e.details) for e in events(row.id, "timer_fired")] == [("sign_late",
                                                                                    {"due_at": due.isoformat()})]


# ---------------------------------------------------------------------------- an instance busy elsewhere

def test_a_timer_of_an_instance_busy_in_another_transaction_waits(monkeypatch):
    row, timer = _deadline()
    _meanwhile(monkeypatch, "busy")
    assert timers.fire_due(timer.due_at) == (0, 1)  # kills _fire 4, 5; fire_due 40, 42, 43
    assert timers_of(row.id) == [timer] and timer.fired_at is None and open_elements(row.id) == ["sign"]


def test_the_sweep_logs_how_many_timers_wait_for_busy_instances(monkeypatch, caplog):
    _, timer = _deadline()
    _meanwhile(monkeypatch, "busy")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        timers.fire_due(timer.due_at)
    # kills fire_due 44, 45, 46, 47, 48, 49
    assert _messages(caplog) == ["timer sweep: 1 due timer(s) wait for instances busy in other transactions"]


# ---------------------------------------------------------------------------- a firing that raises

def test_a_timer_whose_firing_raises_is_an_incident_naming_the_timer_and_the_error(monkeypatch):
    row, timer = _deadline()
    _raising_fire(monkeypatch)
    assert timers.fire_due(timer.due_at) == (0, 0)
    [failed] = events(row.id, "failed")
    # kills _park 17, 18, 21, 22
    assert (failed.element_id, failed.details) == ("sign_late", {"timer": "sign_late",
                                                                 "error": "RuntimeError: bug in a timer"})
    assert (timer.failed_at, timer.last_error) == (timer.due_at, "RuntimeError: bug in a timer")


def test_the_sweep_logs_which_timer_of_which_instance_failed(monkeypatch, caplog):
    row, timer = _deadline()
    _raising_fire(monkeypatch)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        timers.fire_due(timer.due_at)
    # kills _fire_apart 8, 9, 13
    assert _messages(caplog) == [f"timer sweep: firing timer {timer.id} of instance {row.id} failed"]


def test_a_timer_whose_instance_is_busy_once_its_firing_raised_is_not_set_aside(monkeypatch):
    row, timer = _deadline()
    _raising_fire(monkeypatch)
    _meanwhile(monkeypatch, None, "busy")  # fires (and raises) under the lock; then the instance is held
    assert timers.fire_due(timer.due_at) == (0, 0)  # kills _park 11
    assert (timer.failed_at, instance(row.id).status, events(row.id, "failed")) == (None, "running", [])


# ---------------------------------------------------------------------------- changed meanwhile

def _set(timer_id: int, **values):
    """An UPDATE of the timer row that leaves this session's copy of it as it was (another transaction's)."""
    def action():
        db.session.execute(update(WorkflowTimer).where(WorkflowTimer.id == timer_id).values(**values),
                           execution_options={"synchronize_session": False})
    return action


def test_a_timer_fired_meanwhile_by_another_sweep_is_not_fired_again(monkeypatch):
    row, timer = _deadline()
    commit()
    timer = timers_of(row.id)[0]  # this session holds the timer as it was listed: not fired
    _meanwhile(monkeypatch, _set(timer.id, fired_at=T0))
    assert timers.fire_due(timer.due_at) == (0, 0)  # kills _fire 8, 12, 14, 15
    assert events(row.id, "timer_fired") == [] and open_elements(row.id) == ["sign"]


def test_a_timer_set_aside_meanwhile_is_not_fired(monkeypatch):
    row, timer = _deadline()
    _meanwhile(monkeypatch, _set(timer.id, failed_at=T0, last_error="RuntimeError: elsewhere"))
    assert timers.fire_due(timer.due_at) == (0, 0)  # kills _fire 13, 14
    assert events(row.id, "timer_fired") == [] and open_elements(row.id) == ["sign"]


def test_a_timer_of_an_instance_that_ended_meanwhile_is_not_fired(monkeypatch):
    row, timer = _deadline()

    def completed():
        instance(row.id).status = "completed"

    _meanwhile(monkeypatch, completed)
    assert timers.fire_due(timer.due_at) == (0, 0)  # kills _fire 13
    assert events(row.id, "timer_fired") == []


def test_a_timer_removed_while_its_firing_failed_is_not_set_aside(monkeypatch):
    """The firing fails before it touches the timer; by the time the sweep would set the timer aside, another
    transaction has removed it (its task was completed, say): no incident on stale data."""
    row, timer = _deadline()
    commit()
    timer = timers_of(row.id)[0]

    def removed():
        db.session.execute(delete(WorkflowTimer).where(WorkflowTimer.id == timer.id),
                           execution_options={"synchronize_session": False})

    _meanwhile(monkeypatch, "raise", removed)
    assert timers.fire_due(timer.due_at) == (0, 0)
    assert (instance(row.id).status, events(row.id, "failed")) == ("running", [])  # kills _park 6, 9, 10
