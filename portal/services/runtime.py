"""Process instances: start, step under a row lock, keep task/job/timer rows in line with the engine."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from portal.errors import Conflict, NotFound
from portal.extensions import db
from portal.models import HistoryEvent, HumanTask, ProcessInstance, ServiceJob, WorkflowTimer
from portal.models.types import utcnow
from portal.services import outbox, processes
from workflows import engine, operations, serializer
from workflows.engine import StepFailed

JOB_LEASE = timedelta(minutes=5)  # a queued job not done by then is queued again by the sweep
RUN_JOB = "portal.jobs.workflow.run_service_job"


def start(key: str, business_key: str = "", variables: dict | None = None, started_by: str = "",
          now: datetime | None = None) -> ProcessInstance:
    """Start the newest version of process `key`; runs until the first wait state."""
    now = now or utcnow()
    definition = processes.latest(key)
    row = ProcessInstance(definition=definition, business_key=business_key, started_by=started_by, state="",
                          serializer_version=serializer.VERSION)
    db.session.add(row)
    db.session.flush()
    history(row, "created", actor=started_by, details={"version": definition.version})
    instance = engine.Instance.new(processes.compiled(definition), dict(variables or {}))
    act(row, instance, instance.advance, now)
    return row


def get(instance_id: int) -> ProcessInstance:
    row = db.session.get(ProcessInstance, instance_id)
    if row is None:
        raise NotFound(f"no process instance {instance_id}")
    return row


def lock(instance_id: int) -> ProcessInstance:
    """The instance row, locked for this transaction (SELECT ... FOR UPDATE on PostgreSQL)."""
    row = db.session.scalar(select(ProcessInstance).where(ProcessInstance.id == instance_id).with_for_update())
    if row is None:
        raise NotFound(f"no process instance {instance_id}")
    return row


def load(row: ProcessInstance) -> engine.Instance:
    return engine.Instance.load(processes.compiled(row.definition), row.state)


def act(row: ProcessInstance, instance: engine.Instance, action, now: datetime, *args) -> bool:
    """Run one engine action; a failure becomes an incident instead of an error. Then sync the rows."""
    ok = True
    try:
        action(*args)
    except StepFailed as exc:
        ok = False
        row.status = "incident"
        history(row, "failed", element_id=exc.element_id, details={"error": exc.message})
    sync(row, instance, now)
    return ok


def sync(row: ProcessInstance, instance: engine.Instance, now: datetime) -> None:
    """Store the state and make task, job and timer rows match what the engine waits for."""
    row.state = instance.dumps()
    row.serializer_version = serializer.VERSION
    if instance.is_completed and row.status == "running":
        row.status, row.ended_at = "completed", now
        history(row, "completed")
    _sync_human_tasks(row, instance, now)
    _sync_jobs(row, instance, now)
    _sync_timers(row, instance)
    db.session.flush()


def _sync_human_tasks(row, instance, now) -> None:
    open_tasks = {t.task_guid: t for t in _rows(HumanTask, row, HumanTask.state == "open")}
    ready = {view.guid: view for view in instance.user_tasks(now)}
    for guid, view in ready.items():
        if guid not in open_tasks:
            db.session.add(HumanTask(
                instance_id=row.id, task_guid=guid, element_id=view.element_id, name=view.name,
                candidate_roles=view.candidate_roles, candidate_users=view.candidate_users,
                excluded_users=view.excluded_users, assignee=view.assignee, due_at=view.due_at, form=view.form,
                outcomes=view.outcomes))
    for guid, task in open_tasks.items():
        if guid not in ready:
            task.state = "cancelled"
        elif task.excluded_users != ready[guid].excluded_users:  # someone finished a step it excludes
            task.excluded_users = ready[guid].excluded_users


def _sync_jobs(row, instance, now) -> None:
    queued = {j.task_guid: j for j in _rows(ServiceJob, row, ServiceJob.state.in_(("queued", "incident")))}
    started = {view.guid: view for view in instance.external_tasks()}
    for guid, view in started.items():
        if guid not in queued and not _rows(ServiceJob, row, ServiceJob.task_guid == guid):
            operation = operations.get(view.topic)
            job = ServiceJob(instance_id=row.id, task_guid=guid, element_id=view.element_id, topic=view.topic,
                             max_attempts=operation.max_attempts, next_attempt_at=now + JOB_LEASE)
            db.session.add(job)
            db.session.flush()
            outbox.defer(RUN_JOB, job.id, queue=operation.queue)
    for guid, job in queued.items():
        if guid not in started:
            job.state = "cancelled"


def _sync_timers(row, instance) -> None:
    stored = {t.task_guid: t for t in _rows(WorkflowTimer, row)}
    waiting = {view.guid: view for view in instance.timers()}
    for guid, view in waiting.items():
        timer = stored.get(guid)
        if timer is None:
            db.session.add(WorkflowTimer(instance_id=row.id, task_guid=guid, element_id=view.element_id,
                                         due_at=view.due_at))
        elif timer.due_at != view.due_at:  # a cycle moved on to its next occurrence
            timer.due_at, timer.fired_at = view.due_at, None
    for guid, timer in stored.items():
        if guid not in waiting:
            db.session.delete(timer)


def _rows(model, row, *where):
    return list(db.session.scalars(select(model).where(model.instance_id == row.id, *where)))


def history(row: ProcessInstance, kind: str, element_id: str = "", actor: str = "", details: dict | None = None):
    """Add a line to the instance's history."""
    event = HistoryEvent(instance_id=row.id, kind=kind, element_id=element_id or "", actor=actor or "",
                         details=details or {})
    db.session.add(event)
    return event


def correlate_message(name: str, business_key: str, payload: dict | None = None,
                      now: datetime | None = None) -> ProcessInstance:
    """Deliver message `name` to the running instance with this business key that waits for it."""
    now = now or utcnow()
    candidates = select(ProcessInstance.id).where(ProcessInstance.business_key == business_key,
                                                  ProcessInstance.status == "running")
    for instance_id in db.session.scalars(candidates.order_by(ProcessInstance.id)):
        row = lock(instance_id)
        instance = load(row)
        if instance.send_message(name, dict(payload or {})):
            history(row, "message_received", details={"message": name})
            sync(row, instance, now)
            return row
    raise NotFound(f"no running instance with business key {business_key!r} waits for message {name!r}")


def cancel(instance_id: int, by: str, now: datetime | None = None) -> ProcessInstance:
    """Stop an instance: open tasks, queued jobs and timers go with it."""
    row = lock(instance_id)
    if row.status in ("completed", "cancelled"):
        raise Conflict(f"instance {instance_id} is already {row.status}")
    instance = load(row)
    instance.cancel()
    row.status, row.ended_at = "cancelled", now or utcnow()
    history(row, "cancelled", actor=by)
    sync(row, instance, row.ended_at)
    return row


def describe(row: ProcessInstance) -> dict:
    """Status, active elements, variables and history of an instance (for the CLI and the instance view)."""
    instance = load(row)
    events = db.session.scalars(select(HistoryEvent).where(HistoryEvent.instance_id == row.id)
                                .order_by(HistoryEvent.id))
    return {
        "id": row.id, "process": row.definition.key, "version": row.definition.version,
        "business_key": row.business_key, "status": row.status, "markers": instance.markers(),
        "variables": instance.variables(),
        "history": [{"at": e.occurred_at.isoformat(timespec="seconds"), "kind": e.kind, "element": e.element_id,
                     "actor": e.actor, "details": e.details} for e in events],
    }
