"""Process instance rows: find and lock them, load their engine state, record history and incidents."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal.errors import NotFound
from portal.extensions import db
from portal.infra.lookup import get_or_not_found
from portal.models import HistoryEvent, HumanTask, ProcessInstance, ServiceJob
from portal.services.workflow import definitions
from workflows import engine
from workflows.engine import StepFailed


def get(instance_id: int) -> ProcessInstance:
    return get_or_not_found(ProcessInstance, instance_id, "process instance")


def lock(instance_id: int) -> ProcessInstance:
    """The instance row, locked for this transaction (SELECT ... FOR UPDATE on PostgreSQL)."""
    return _locked(ProcessInstance.id == instance_id, f"no process instance {instance_id}")


def lock_for_task(task_id: int) -> tuple[ProcessInstance, HumanTask]:
    """A human task and its instance, both locked and read fresh, in one statement."""
    return _lock_with(HumanTask, task_id, f"no task {task_id}")


def lock_for_job(job_id: int) -> tuple[ProcessInstance, ServiceJob]:
    """A service job and its instance, both locked and read fresh, in one statement."""
    return _lock_with(ServiceJob, job_id, f"no job {job_id}")


def _lock_with(model, row_id: int, missing: str):
    # Lock order everywhere: the instance, then its task or job rows. PostgreSQL locks the rows in the order
    # of FOR UPDATE OF, so two use cases on one instance queue on the instance instead of deadlocking.
    found = db.session.execute(
        select(ProcessInstance, model).join(model, model.instance_id == ProcessInstance.id)
        .where(model.id == row_id).options(joinedload(ProcessInstance.definition))
        .with_for_update(of=[ProcessInstance, model]).execution_options(populate_existing=True)).first()
    if found is None:
        raise NotFound(missing)
    return found[0], found[1]


def lock_if_free(instance_id: int) -> ProcessInstance | None:
    """The instance row locked, or None at once if another transaction holds it (PostgreSQL SKIP LOCKED)."""
    return db.session.scalar(_instance_for_update(ProcessInstance.id == instance_id, skip_locked=True))


def _locked(where, missing: str) -> ProcessInstance:
    row = db.session.scalar(_instance_for_update(where))
    if row is None:
        raise NotFound(missing)
    return row


def _instance_for_update(where, skip_locked: bool = False):
    return (select(ProcessInstance).where(where).options(joinedload(ProcessInstance.definition))
            .with_for_update(of=ProcessInstance, skip_locked=skip_locked))


def load(row: ProcessInstance) -> engine.Instance:
    return engine.Instance.load(definitions.compiled(row.definition), row.state)


def incident(row: ProcessInstance, exc: StepFailed) -> None:
    """Mark the instance as failed at an element, with the reason in its history."""
    failed(row, exc.element_id, error=exc.message)


def failed(row: ProcessInstance, element_id: str, **details) -> None:
    """The instance stops with an incident at `element_id`; `details` (the error, ...) go to its history."""
    row.status = "incident"
    history(row, "failed", element_id, details=details)


def history(row: ProcessInstance, kind: str, element_id: str = "", actor: str = "", details: dict | None = None):
    """Add a line to the instance's history."""
    event = HistoryEvent(instance=row, kind=kind, element_id=element_id or "", actor=actor or "",
                         details=details or {})
    db.session.add(event)
    return event
