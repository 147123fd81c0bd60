"""Process instances: start, step under a row lock, keep task/job/timer rows in line with the engine."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from portal import settings
from portal.errors import Conflict, NotFound, ValidationError
from portal.extensions import db
from portal.infra import outbox
from portal.models import HistoryEvent, HumanTask, ProcessInstance, ServiceJob, WorkflowTimer
from portal.models.types import utcnow
from portal.services.workflow import definitions, operations, service_calls
from portal.services.workflow.instances import history, incident, load, lock
from workflows import compiler, engine, serializer
from workflows.engine import StepFailed

JOB_LEASE = timedelta(minutes=5)  # a queued job not done by then is queued again by the sweep
RUN_JOB = "portal.jobs.workflow.run_service_job"


def start(key: str, business_key: str = "", variables: dict | None = None, started_by: str = "",
          now: datetime | None = None) -> ProcessInstance:
    """Start the newest version of process `key`; runs until the first wait state."""
    now = now or utcnow()
    definition = definitions.latest(key)
    # Status and waiting are set here, not left to column defaults: the row is not inserted until sync's
    # flush, and sync reads them (an instance that ends in its first step must be marked completed).
    row = ProcessInstance(definition=definition, business_key=business_key, started_by=started_by, state="",
                          status="running", waiting={}, serializer_version=serializer.VERSION)
    db.session.add(row)  # inserted by sync's flush, with its state, history and tasks (one INSERT, no UPDATE)
    history(row, "created", actor=started_by, details={"version": definition.version})
    instance = engine.Instance.new(definitions.compiled(definition), dict(variables or {}))
    act(row, instance, instance.advance, now)
    return row


def act(row: ProcessInstance, instance: engine.Instance, action, now: datetime, *args,
        finished: str | None = None) -> StepFailed | None:
    """Run one engine action; a failure becomes an incident instead of an error (and is returned). Then sync
    the rows.

    `finished` is the guid of the human or service task the caller has just finished; its row is already
    written, so sync leaves it alone.
    """
    failure, handled = None, set()
    try:
        action(*args)
    except StepFailed as exc:
        failure = exc
        incident(row, exc)
    if failure is None and inline_service_tasks():
        handled = service_calls.run_inline(row, instance, now)
    sync(row, instance, now, handled, finished)
    return failure


def inline_service_tasks() -> bool:
    """Run service tasks inside the step (embedded mode default) or as jobs after the commit (with Redis)."""
    configured = settings.config().get("SERVICE_TASKS_INLINE")
    return not settings.config().get("REDIS_URL") if configured is None else bool(configured)


def sync(row: ProcessInstance, instance: engine.Instance, now: datetime, handled: set[str] = frozenset(),
         finished: str | None = None) -> None:
    """Store the state and bring task, job and timer rows in line with what the engine now waits for.

    Only differences with the previous step (kept on the row) are written, in one flush; nothing is read back.
    """
    before = row.waiting or {}
    new_jobs: list[ServiceJob] = []
    waiting = {
        "tasks": _sync_human_tasks(row, instance, now, before.get("tasks", {}), finished),
        "jobs": _sync_jobs(row, instance, now, set(before.get("jobs", [])), {*handled, *filter(None, [finished])},
                           new_jobs),
        "timers": _sync_timers(row, instance, before.get("timers", {})),
    }
    if instance.is_completed and row.status == "running":
        row.status, row.ended_at = "completed", now
        history(row, "completed")
    instance.compact()  # long-running instances keep a bounded state; history lives in our tables
    row.state, row.serializer_version, row.waiting = instance.dumps(), serializer.VERSION, waiting
    db.session.flush()  # one UPDATE of the instance row, with the step's history, task and job rows
    for job in new_jobs:  # ids exist now; the jobs are sent when the transaction commits
        outbox.defer(RUN_JOB, job.id, queue=operations.queue_of(job.topic))


def _sync_human_tasks(row, instance, now, known: dict, finished: str | None) -> dict:
    failures: list[StepFailed] = []
    ready = {view.guid: view for view in instance.user_tasks(now, failures)}
    for failure in failures:  # a new task gets its row once Retry (or a migration) can set it up
        incident(row, failure)
    stuck = {failure.guid: known[failure.guid] for failure in failures if failure.guid in known}
    excluded = {guid: _excluded_users(row, view) for guid, view in ready.items()}
    for guid, view in ready.items():
        if guid not in known:
            db.session.add(HumanTask(
                instance=row, task_guid=guid, element_id=view.element_id, name=view.name,
                candidate_roles=view.candidate_roles, candidate_users=view.candidate_users,
                excluded_users=excluded[guid], assignee=view.assignee, due_at=view.due_at, form=view.form,
                outcomes=view.outcomes))
        elif known[guid] != excluded[guid]:  # someone finished a step this task excludes
            _update(HumanTask, [guid], excluded_users=excluded[guid])
    gone = [guid for guid in known if guid not in ready and guid not in stuck and guid != finished]
    if gone:  # tasks the engine dropped (a boundary timer fired, the instance was cancelled, ...)
        _update(HumanTask, gone, HumanTask.state == "open", state="cancelled")
    return {**excluded, **stuck}


def _excluded_users(row, view) -> list[str]:
    """Four-eyes: who completed or changed things in the named steps, from the engine and from our task rows
    (which outlive the engine's compacted history)."""
    if not view.four_eyes_elements:
        return view.excluded_users
    done = db.session.execute(select(HumanTask.completed_by, HumanTask.contributors).where(
        HumanTask.instance_id == row.id, HumanTask.element_id.in_(view.four_eyes_elements),
        HumanTask.state == "completed"))
    people = {email for completed_by, contributors in done for email in [completed_by, *(contributors or [])]}
    return sorted({*view.excluded_users, *(email for email in people if email)})


def _sync_jobs(row, instance, now, known: set, handled: set, new_jobs: list) -> list:
    started = {view.guid: view for view in instance.external_tasks()}
    for guid, view in started.items():
        if guid not in known and guid not in handled:
            operation = operations.get(view.topic)
            job = ServiceJob(instance=row, task_guid=guid, element_id=view.element_id, topic=view.topic,
                             max_attempts=operation.max_attempts, next_attempt_at=now + JOB_LEASE)
            db.session.add(job)
            new_jobs.append(job)
    gone = [guid for guid in known if guid not in started and guid not in handled]
    if gone:
        _update(ServiceJob, gone, ServiceJob.state.in_(("queued", "incident")), state="cancelled")
    return sorted(started)


def _sync_timers(row, instance, known: dict) -> dict:
    waiting = {view.guid: view for view in instance.timers()}
    for guid, view in waiting.items():
        if guid not in known:
            db.session.add(WorkflowTimer(instance=row, task_guid=guid, element_id=view.element_id,
                                         due_at=view.due_at))
        elif known[guid] != view.due_at.isoformat():  # a cycle moved on to its next occurrence
            _update(WorkflowTimer, [guid], due_at=view.due_at, fired_at=None)
    gone = [guid for guid in known if guid not in waiting]
    if gone:
        db.session.execute(delete(WorkflowTimer).where(WorkflowTimer.task_guid.in_(gone)))
    return {guid: view.due_at.isoformat() for guid, view in waiting.items()}


def refresh_open_tasks(row: ProcessInstance, instance: engine.Instance, now: datetime) -> None:
    """After a migration: open task rows take the new version's name, people, form, outcomes and due date;
    a claim stays."""
    for view in instance.user_tasks(now, failures=[]):
        _update(HumanTask, [view.guid], HumanTask.state == "open", name=view.name,
                candidate_roles=view.candidate_roles, candidate_users=view.candidate_users, form=view.form,
                outcomes=view.outcomes, due_at=view.due_at,
                assignee=func.coalesce(HumanTask.assignee, view.assignee))


def clear_timer_failures(row: ProcessInstance) -> None:
    """Retry: timers set aside after a failed firing are due again."""
    db.session.execute(update(WorkflowTimer).where(WorkflowTimer.instance_id == row.id,
                                                   WorkflowTimer.failed_at.is_not(None))
                       .values(failed_at=None, last_error=""), execution_options={"synchronize_session": "fetch"})


def _update(model, guids: list, *where, **values) -> None:
    statement = update(model).where(model.task_guid.in_(guids), *where).values(**values)
    if model is HumanTask:  # a task shown before this change must answer 409 when completed
        statement = statement.values(version=HumanTask.version + 1)
    db.session.execute(statement, execution_options={"synchronize_session": "fetch"})


def correlate_message(name: str, business_key: str, payload: dict | None = None,
                      now: datetime | None = None) -> ProcessInstance:
    """Deliver message `name` to the live instance with this business key that waits for it."""
    now = now or utcnow()
    if not (business_key or "").strip():
        raise ValidationError("business_key", "a message needs the business key of the instance it is for")
    candidates = select(ProcessInstance.id).where(ProcessInstance.business_key == business_key,
                                                  ProcessInstance.status.in_(("running", "incident")))
    for instance_id in db.session.scalars(candidates.order_by(ProcessInstance.id)):
        row = lock(instance_id)
        instance = load(row)
        element_id = instance.message_waiter(name)
        if element_id is not None:
            history(row, "message_received", element_id, details={"message": name})
            act(row, instance, instance.send_message, now, name, dict(payload or {}))
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


DONE_EVENTS = ("task_completed", "service_task_run", "timer_fired", "message_received")
HISTORY_PAGE = 50


def _markers(row: ProcessInstance, instance: engine.Instance) -> dict:
    """The engine's markers, plus what the history says was done (the engine forgets compacted steps)."""
    markers = instance.markers()
    busy = set(markers["active"]) | set(markers["failed"])
    done = set(db.session.scalars(select(HistoryEvent.element_id).distinct().where(
        HistoryEvent.instance_id == row.id, HistoryEvent.kind.in_(DONE_EVENTS), HistoryEvent.element_id != "")))
    markers["completed"] = sorted(set(markers["completed"]) | (done - busy))
    return markers


def describe(row: ProcessInstance, history_page: int | None = None, per_page: int = HISTORY_PAGE) -> dict:
    """Status, active elements, variables and history of an instance (for the CLI and the instance view).

    With `history_page`, the history is that page of the newest events first (`history_page` is then the
    Pagination, for the pager); without, it is every event, oldest first.
    """
    instance = load(row)
    query = select(HistoryEvent).where(HistoryEvent.instance_id == row.id)
    if history_page is None:
        page, events = None, list(db.session.scalars(query.order_by(HistoryEvent.id)))
    else:
        page = db.paginate(query.order_by(HistoryEvent.id.desc()), page=history_page, per_page=per_page,
                           max_per_page=None, error_out=False)
        events = page.items
    described = {
        "id": row.id, "process": row.definition.key, "version": row.definition.version,
        "business_key": row.business_key, "status": row.status, "markers": _markers(row, instance),
        "variables": instance.variables(),
        "history": [{"at": e.occurred_at.isoformat(timespec="seconds"), "kind": e.kind, "element": e.element_id,
                     "actor": e.actor, "details": e.details} for e in events],
    }
    described["case_data"] = case_data(row, described["variables"])
    return described if page is None else {**described, "history_page": page}


def case_data_of(row: ProcessInstance) -> list[dict]:
    """The instance's variables in words (see case_data), for the task page."""
    return case_data(row, load(row).variables())


def case_data(row: ProcessInstance, variables: dict) -> list[dict]:
    """The variables in words, sorted by label: the diagram's form-field labels, else the name written out."""
    from_forms = compiler.field_labels(definitions.compiled(row.definition))
    rows = [{"label": from_forms.get(name) or _written_out(name), "name": name, "value": value}
            for name, value in variables.items()]
    return sorted(rows, key=lambda item: (item["label"].lower(), item["name"]))


def _written_out(name: str) -> str:
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").split()
    text = " ".join("ID" if word.lower() == "id" else word.lower() for word in words)
    return text[:1].upper() + text[1:]
