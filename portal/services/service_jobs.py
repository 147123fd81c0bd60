"""External service tasks run by workers: once per task, retried with backoff, then an incident."""

from __future__ import annotations

import importlib
import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from portal.errors import Conflict, NotFound
from portal.extensions import db
from portal.models import ServiceJob
from portal.models.types import utcnow
from portal.services import outbox, runtime
from portal.services.operations import OperationContext
from workflows import operations
from workflows.engine import StepFailed

log = logging.getLogger(__name__)


def run(job_id: int, now: datetime | None = None) -> str:
    """Run the operation of a queued job and complete its task. Safe to call twice: only one run counts."""
    now = now or utcnow()
    try:
        row, job = runtime.lock_for_job(job_id)
    except NotFound:
        return "skipped"
    if job.state != "queued":
        return "skipped"
    instance = runtime.load(row)
    view = next((v for v in instance.external_tasks() if v.guid == job.task_guid), None)
    if view is None or row.status == "cancelled":
        job.state = "cancelled"
        return "skipped"
    job.attempts += 1
    try:
        operation = operations.get(job.topic)
    except KeyError as exc:  # the topic left the registry after the job was queued: only people can help
        return _incident(job, row, str(exc))
    try:
        result = _call(operation, row, view, job.attempts)
    except Exception as exc:  # any failure of an operation is retried, then an incident
        return _failed(job, row, operation, exc, now)
    job.state, job.finished_at, job.last_error = "done", now, ""
    failure = runtime.act(row, instance, instance.deliver, now, job.task_guid, result, finished=job.task_guid)
    if failure is not None and _still_waiting(instance, job.task_guid):
        # The result could not be put into the case (an output mapping failed): the task still waits, and
        # Retry runs the operation again (its idempotency key makes an external call safe to repeat).
        job.state, job.finished_at, job.last_error, job.next_attempt_at = "incident", None, failure.message, None
        return "incident"
    return "done"


def _still_waiting(instance, task_guid: str) -> bool:
    return any(view.guid == task_guid for view in instance.external_tasks())


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
            result = _call(operation, row, view, 1)
        except Exception as exc:  # as in run(): retried later, then an incident
            _failed(_hand_over(row, view, operation, handed_over), row, operation, exc, now)
            continue
        try:
            instance.deliver(view.guid, result)
        except StepFailed as exc:  # the result did not fit the case: a job row in incident, for Retry
            job = _hand_over(row, view, operation, handed_over)
            job.state, job.last_error = "incident", exc.message
            runtime.incident(row, exc)
            break
    return handed_over


def _hand_over(row, view, operation, handed_over: set[str]) -> ServiceJob:
    """The job row that takes over a service task whose inline try failed."""
    job = ServiceJob(instance=row, task_guid=view.guid, element_id=view.element_id, topic=view.topic,
                     max_attempts=operation.max_attempts, attempts=1)
    db.session.add(job)
    handed_over.add(view.guid)
    return job


def _call(operation, row, view, attempt: int) -> dict:
    """Run an operation's handler; a failing handler leaves none of its own writes behind."""
    if row.id is None:  # a new instance whose first step is a service task: the handler needs its id
        db.session.flush()
    context = OperationContext(row.id, row.business_key, view.element_id, f"ledgerflow-{row.id}-{view.guid}",
                               attempt)
    if operation.savepoint:
        with db.session.begin_nested():
            result = _handler(operation)(dict(view.params), context) or {}
    else:
        result = _without_savepoint(_handler(operation), dict(view.params), context)
    runtime.history(row, "service_task_run", view.element_id, details={"topic": operation.topic, "attempt": attempt})
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


def _failed(job: ServiceJob, row, operation, exc: Exception, now: datetime) -> str:
    log.warning("operation %s failed for instance %s (attempt %s): %s", job.topic, row.id, job.attempts, exc)
    if job.attempts >= job.max_attempts:
        return _incident(job, row, f"{type(exc).__name__}: {exc}")
    job.last_error = f"{type(exc).__name__}: {exc}"
    job.next_attempt_at = now + timedelta(seconds=operation.backoff(job.attempts))
    runtime.history(row, "retried", job.element_id, details={"error": job.last_error, "attempt": job.attempts,
                                                            "next_attempt_at": job.next_attempt_at.isoformat()})
    return "retry"


def _incident(job: ServiceJob, row, error: str) -> str:
    """No more tries: the job and its instance show an incident with the error until someone retries."""
    job.state, job.next_attempt_at, job.last_error = "incident", None, error
    runtime.failed(row, job.element_id, topic=job.topic, error=error, attempts=job.attempts)
    return "incident"


def _handler(operation):
    module, _, name = operation.handler.partition(":")
    return getattr(importlib.import_module(module), name)


def retry_incident(instance_id: int, by: str, now: datetime | None = None) -> int:
    """Queue the failed jobs of an instance again (and re-run failed engine steps); returns how many."""
    now = now or utcnow()
    row = runtime.lock(instance_id)
    if row.status != "incident":
        raise Conflict(f"instance {instance_id} has no incident (it is {row.status})")
    jobs = list(db.session.scalars(select(ServiceJob).where(ServiceJob.instance_id == row.id,
                                                              ServiceJob.state == "incident")))
    for job in jobs:
        job.state, job.attempts, job.next_attempt_at = "queued", 0, now + runtime.JOB_LEASE
        outbox.defer(runtime.RUN_JOB, job.id, queue=operations.queue_of(job.topic))
    runtime.clear_timer_failures(row)
    row.status = "running"
    runtime.history(row, "retried", actor=by, details={"jobs": [j.element_id for j in jobs]})
    instance = runtime.load(row)
    if not jobs or instance.has_failed_steps():
        # Failed engine steps run again, and tasks that could not be set up are tried again (sync). The
        # re-queued jobs are left to the workers: their tasks are in the instance's waiting jobs.
        runtime.act(row, instance, instance.retry_failed, now)
    db.session.flush()
    return len(jobs)


def incidents() -> list[ServiceJob]:
    """Jobs that failed their last attempt, newest first."""
    return list(db.session.scalars(select(ServiceJob).where(ServiceJob.state == "incident")
                                   .order_by(ServiceJob.id.desc())))


def get(job_id: int) -> ServiceJob:
    job = db.session.get(ServiceJob, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job


def requeue_due(now: datetime) -> int:
    """Queue again jobs whose retry time (or lease) has come: the database, not Redis, remembers them."""
    due = list(db.session.scalars(select(ServiceJob).where(ServiceJob.state == "queued",
                                                             ServiceJob.next_attempt_at <= now)
                                  .with_for_update(skip_locked=True)))
    for job in due:
        job.next_attempt_at = now + runtime.JOB_LEASE
        outbox.defer(runtime.RUN_JOB, job.id, queue=operations.queue_of(job.topic))
    return len(due)
