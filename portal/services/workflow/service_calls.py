"""Calling an operation's handler for a service task, inline in a step or for a job, and what a failure
does to the job row (retry with backoff, then an incident)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from portal.extensions import db
from portal.models import ServiceJob
from portal.services.workflow import operations
from portal.services.workflow.instances import failed, history, incident
from portal.services.workflow.operations import OperationContext
from workflows.engine import StepFailed

log = logging.getLogger(__name__)


MAX_INLINE_STEPS = 100  # a diagram looping through service tasks alone goes on through the job table


def run_inline(row, instance, now: datetime) -> set[str]:
    """Embedded mode: run waiting service tasks now, in memory and in this transaction.

    A failure is handed to the job table (retried by the sweep, then an incident); returns those task guids.
    """
    # Tasks that already have a job row (a failed try waiting for its retry) are the job table's, not ours.
    with_jobs = set((row.waiting or {}).get("jobs", []))
    handed_over: set[str] = set()
    for _ in range(MAX_INLINE_STEPS):
        pending = [view for view in instance.external_tasks() if view.guid not in handed_over | with_jobs]
        if not pending:
            break
        view, operation = pending[0], operations.get(pending[0].topic)
        try:
            result = call(operation, row, view, 1)
        except Exception as exc:  # as in run(): retried later, then an incident
            retry_or_incident(_hand_over(row, view, operation, handed_over), row, operation, exc, now)
            continue
        try:
            instance.deliver(view.guid, result)
        except StepFailed as exc:  # the result did not fit the case: a job row in incident, for Retry
            job = _hand_over(row, view, operation, handed_over)
            job.state, job.last_error = "incident", exc.message
            incident(row, exc)
            break
    return handed_over


def _hand_over(row, view, operation, handed_over: set[str]) -> ServiceJob:
    """The job row that takes over a service task whose inline try failed."""
    job = ServiceJob(instance=row, task_guid=view.guid, element_id=view.element_id, topic=view.topic,
                     max_attempts=operation.max_attempts, attempts=1)
    db.session.add(job)
    handed_over.add(view.guid)
    return job


def call(operation, row, view, attempt: int) -> dict:
    """Run an operation's handler; a failing handler leaves none of its own writes behind."""
    if row.id is None:  # a new instance whose first step is a service task: the handler needs its id
        db.session.flush()
    context = OperationContext(row.id, row.business_key, view.element_id, f"ledgerflow-{row.id}-{view.guid}",
                               attempt)
    if operation.savepoint:
        with db.session.begin_nested():
            result = operation.handler(dict(view.params), context) or {}
    else:
        result = _without_savepoint(operation.handler, dict(view.params), context)
    history(row, "service_task_run", view.element_id, details={"topic": operation.topic, "attempt": attempt})
    return result


def _without_savepoint(handler, params: dict, context) -> dict:
    """A handler that runs no SQL and only adds rows: on failure the rows it added are dropped (no SAVEPOINT
    round trips). No autoflush, so nothing it added reaches the database before it returns."""
    before = set(db.session.new)
    try:
        with db.session.no_autoflush:
            return handler(params, context) or {}
    except Exception:
        for obj in set(db.session.new) - before:
            db.session.expunge(obj)
        raise


def retry_or_incident(job: ServiceJob, row, operation, exc: Exception, now: datetime) -> str:
    """A failed try: schedule the next one with backoff, or after the last one record an incident."""
    log.warning("operation %s failed for instance %s (attempt %s): %s", job.topic, row.id, job.attempts, exc)
    if job.attempts >= job.max_attempts:
        return give_up(job, row, f"{type(exc).__name__}: {exc}")
    job.last_error = f"{type(exc).__name__}: {exc}"
    job.next_attempt_at = now + timedelta(seconds=operation.backoff(job.attempts))
    history(row, "retried", job.element_id, details={"error": job.last_error, "attempt": job.attempts,
                                                            "next_attempt_at": job.next_attempt_at.isoformat()})
    return "retry"


def give_up(job: ServiceJob, row, error: str) -> str:
    """No more tries: the job and its instance show an incident with the error until someone retries."""
    job.state, job.next_attempt_at, job.last_error = "incident", None, error
    failed(row, job.element_id, topic=job.topic, error=error, attempts=job.attempts)
    return "incident"
