"""External service tasks run by workers: once per task, retried with backoff, then an incident."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from portal.errors import Conflict, NotFound
from portal.extensions import db
from portal.infra import outbox
from portal.infra.lookup import get_or_not_found
from portal.models import ServiceJob
from portal.models.types import utcnow
from portal.services.workflow import instances, operations, service_calls, steps


def run(job_id: int, now: datetime | None = None) -> str:
    """Run the operation of a queued job and complete its task. Safe to call twice: only one run counts."""
    now = now or utcnow()
    try:
        row, job = instances.lock_for_job(job_id)
    except NotFound:
        return "skipped"
    if job.state != "queued":
        return "skipped"
    instance = instances.load(row)
    view = next((v for v in instance.external_tasks() if v.guid == job.task_guid), None)
    if view is None or row.status == "cancelled":
        job.state = "cancelled"
        return "skipped"
    job.attempts += 1
    try:
        operation = operations.get(job.topic)
    except KeyError as exc:  # the topic left the registry after the job was queued: only people can help
        return service_calls.give_up(job, row, str(exc))
    try:
        result = service_calls.call(operation, row, view, job.attempts)
    except Exception as exc:  # any failure of an operation is retried, then an incident
        return service_calls.retry_or_incident(job, row, operation, exc, now)
    job.state, job.finished_at, job.last_error = "done", now, ""
    failure = steps.act(row, instance, instance.deliver, now, job.task_guid, result, finished=job.task_guid)
    if failure is not None and _still_waiting(instance, job.task_guid):
        # The result could not be put into the case (an output mapping failed): the task still waits, and
        # Retry runs the operation again (its idempotency key makes an external call safe to repeat).
        job.state, job.finished_at, job.last_error, job.next_attempt_at = "incident", None, failure.message, None
        return "incident"
    return "done"


def _still_waiting(instance, task_guid: str) -> bool:
    return any(view.guid == task_guid for view in instance.external_tasks())


def retry_incident(instance_id: int, by: str, now: datetime | None = None) -> int:
    """Queue the failed jobs of an instance again (and re-run failed engine steps); returns how many."""
    now = now or utcnow()
    row = instances.lock(instance_id)
    if row.status != "incident":
        raise Conflict(f"instance {instance_id} has no incident (it is {row.status})")
    jobs = list(db.session.scalars(select(ServiceJob).where(ServiceJob.instance_id == row.id,
                                                              ServiceJob.state == "incident")))
    for job in jobs:
        job.state, job.attempts, job.next_attempt_at = "queued", 0, now + steps.JOB_LEASE
        outbox.defer(steps.RUN_JOB, job.id, queue=operations.queue_of(job.topic))
    steps.clear_timer_failures(row)
    row.status = "running"
    instances.history(row, "retried", actor=by, details={"jobs": [j.element_id for j in jobs]})
    instance = instances.load(row)
    if not jobs or instance.has_failed_steps():
        # Failed engine steps run again, and tasks that could not be set up are tried again (sync). The
        # re-queued jobs are left to the workers: their tasks are in the instance's waiting jobs.
        steps.act(row, instance, instance.retry_failed, now)
    db.session.flush()
    return len(jobs)


def incidents() -> list[ServiceJob]:
    """Jobs that failed their last attempt, newest first."""
    return list(db.session.scalars(select(ServiceJob).where(ServiceJob.state == "incident")
                                   .order_by(ServiceJob.id.desc())))


def get(job_id: int) -> ServiceJob:
    return get_or_not_found(ServiceJob, job_id, "job")


def requeue_due(now: datetime) -> int:
    """Queue again jobs whose retry time (or lease) has come: the database, not Redis, remembers them."""
    due = list(db.session.scalars(select(ServiceJob).where(ServiceJob.state == "queued",
                                                             ServiceJob.next_attempt_at <= now)
                                  .with_for_update(skip_locked=True)))
    for job in due:
        job.next_attempt_at = now + steps.JOB_LEASE
        outbox.defer(steps.RUN_JOB, job.id, queue=operations.queue_of(job.topic))
    return len(due)
