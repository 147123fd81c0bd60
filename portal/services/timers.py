"""The periodic sweep: fire due timers and queue due job retries, catching up by state after downtime."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from portal.extensions import db
from portal.models import WorkflowTimer
from portal.models.types import utcnow
from portal.services import runtime, service_jobs

log = logging.getLogger(__name__)


def fire_due(now: datetime, limit: int = 500) -> tuple[int, int]:
    """Fire every timer due at `now` (each once, however late); returns how many fired and how many waited.

    On PostgreSQL an instance busy in another transaction (a long upload, say) is passed over, not waited
    for: its timer stays due and the next sweep fires it.
    """
    due = list(db.session.execute(select(WorkflowTimer.id, WorkflowTimer.instance_id)
                                  .where(WorkflowTimer.fired_at.is_(None), WorkflowTimer.due_at <= now)
                                  .order_by(WorkflowTimer.due_at).limit(limit)))
    fired = busy = 0
    for timer_id, instance_id in due:
        row = runtime.lock_if_free(instance_id)
        if row is None:
            busy += 1
            continue
        # Read the timer again under the lock: firing another timer, or a completion, may have removed it.
        timer = db.session.scalar(select(WorkflowTimer).where(WorkflowTimer.id == timer_id)
                                  .execution_options(populate_existing=True))
        if timer is None or timer.fired_at is not None or row.status != "running":
            continue
        timer.fired_at = now
        instance = runtime.load(row)
        runtime.history(row, "timer_fired", timer.element_id, details={"due_at": timer.due_at.isoformat()})
        runtime.act(row, instance, instance.fire_timer, now, timer.task_guid, now)
        fired += 1
    if busy:
        log.info("timer sweep: %d due timer(s) wait for instances busy in other transactions", busy)
    return fired, busy


def sweep(now: datetime | None = None) -> dict:
    """One pass of the periodic sweep."""
    now = now or utcnow()
    fired, busy = fire_due(now)
    return {"timers_fired": fired, "timers_waiting_for_busy_instances": busy,
            "jobs_queued": service_jobs.requeue_due(now)}
