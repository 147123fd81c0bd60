"""The periodic sweep: fire due timers and queue due job retries, catching up by state after downtime."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from portal.extensions import db
from portal.models import ProcessInstance, WorkflowTimer
from portal.models.types import utcnow
from portal.services.workflow import instances, service_jobs, steps

log = logging.getLogger(__name__)


LIVE = ("running", "incident")  # an incident in one branch does not stop another branch's deadlines


def fire_due(now: datetime, limit: int = 500) -> tuple[int, int]:
    """Fire every timer due at `now` (each once, however late); returns how many fired and how many waited.

    On PostgreSQL an instance busy in another transaction (a long upload, say) is passed over, not waited
    for: its timer stays due and the next sweep fires it. A timer whose firing raises is set aside with an
    incident on its instance, so it cannot hold up the others.
    """
    due = list(db.session.execute(
        select(WorkflowTimer.id, WorkflowTimer.instance_id)
        .join(ProcessInstance, ProcessInstance.id == WorkflowTimer.instance_id)
        .where(WorkflowTimer.fired_at.is_(None), WorkflowTimer.failed_at.is_(None), WorkflowTimer.due_at <= now,
               ProcessInstance.status.in_(LIVE))
        .order_by(WorkflowTimer.due_at).limit(limit)))
    fired = busy = 0
    for timer_id, instance_id in due:
        outcome = _fire_apart(timer_id, instance_id, now)
        fired, busy = fired + (outcome == "fired"), busy + (outcome == "busy")
    if busy:
        log.info("timer sweep: %d due timer(s) wait for instances busy in other transactions", busy)
    return fired, busy


def _fire_apart(timer_id: int, instance_id: int, now: datetime) -> str:
    """Fire one timer in a SAVEPOINT; if it raises, undo it and park the timer with an incident."""
    try:
        with db.session.begin_nested():
            return _fire(timer_id, instance_id, now)
    except Exception as exc:  # a bug or bad data in one instance must not stop every other timer
        log.exception("timer sweep: firing timer %s of instance %s failed", timer_id, instance_id)
        _park(timer_id, instance_id, f"{type(exc).__name__}: {exc}", now)
        return "failed"


def _fire(timer_id: int, instance_id: int, now: datetime) -> str:
    row = instances.lock_if_free(instance_id)
    if row is None:
        return "busy"
    # Read the timer again under the lock: firing another timer, or a completion, may have removed it.
    timer = db.session.scalar(select(WorkflowTimer).where(WorkflowTimer.id == timer_id)
                              .execution_options(populate_existing=True))
    if timer is None or timer.fired_at is not None or timer.failed_at is not None or row.status not in LIVE:
        return "gone"
    timer.fired_at = now
    instance = instances.load(row)
    instances.history(row, "timer_fired", timer.element_id, details={"due_at": timer.due_at.isoformat()})
    steps.act(row, instance, instance.fire_timer, now, timer.task_guid, now)
    return "fired"


def _park(timer_id: int, instance_id: int, error: str, now: datetime) -> None:
    row = instances.lock_if_free(instance_id)
    timer = db.session.get(WorkflowTimer, timer_id, populate_existing=True)
    if row is None or timer is None:
        return  # busy or gone: the next sweep sees it again
    timer.failed_at, timer.last_error = now, error
    instances.failed(row, timer.element_id, timer=timer.element_id, error=error)


def sweep(now: datetime | None = None) -> dict:
    """One pass of the periodic sweep."""
    now = now or utcnow()
    fired, busy = fire_due(now)
    return {"timers_fired": fired, "timers_waiting_for_busy_instances": busy,
            "jobs_queued": service_jobs.requeue_due(now)}
