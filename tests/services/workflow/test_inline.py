"""Embedded mode (no Redis): service tasks run inside the step; a failure goes to the job table."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import HistoryEvent, HumanTask, ServiceJob
from portal.models.types import utcnow
from portal.services.workflow import definitions, instances, steps, tasks, timers
from tests.support.factories import ExchangeRateFactory
from tests.support.paths import workflow_file

APPROVAL = workflow_file("approval.bpmn")


@pytest.fixture
def inline(app):
    app.config["SERVICE_TASKS_INLINE"] = None  # the real default: inline when there is no REDIS_URL
    yield
    app.config["SERVICE_TASKS_INLINE"] = False


def start_and_prepare(make_user, amount="20000"):
    definitions.deploy(APPROVAL, "test")
    row = steps.start("approval", "PF-1", {"currency": "EUR", "on": date(2026, 11, 2)})
    prepare = db.session.scalar(select(HumanTask).where(HumanTask.instance_id == row.id))
    tasks.complete(prepare.id, make_user("accountant"), {"amount": amount}, now=utcnow())
    return row


def open_elements(row) -> list[str]:
    return list(db.session.scalars(select(HumanTask.element_id).where(HumanTask.instance_id == row.id,
                                                                      HumanTask.state == "open")))


def test_the_service_task_runs_inside_the_step(inline, make_user):
    ExchangeRateFactory(currency="EUR", rate_date=date(2026, 11, 1))
    row = start_and_prepare(make_user)
    # no commit yet: the conversion already ran, in this transaction
    assert open_elements(row) == ["review"]
    assert db.session.scalars(select(ServiceJob).where(ServiceJob.instance_id == row.id)).all() == []
    assert instances.load(row).variables()["base_amount"] > 0
    kinds = [e.kind for e in db.session.scalars(select(HistoryEvent).where(HistoryEvent.instance_id == row.id))]
    assert "service_task_run" in kinds


def test_a_failing_operation_goes_to_the_job_table_and_is_retried_by_the_sweep(inline, make_user):
    row = start_and_prepare(make_user)  # no EUR rate: fx.convert fails
    job = db.session.scalar(select(ServiceJob).where(ServiceJob.instance_id == row.id))
    assert (job.state, job.attempts) == ("queued", 1) and "no EUR exchange rate" in job.last_error
    assert open_elements(row) == [] and row.status == "running"
    db.session.commit()
    ExchangeRateFactory(currency="EUR", rate_date=date(2026, 11, 1))
    timers.sweep(job.next_attempt_at + timedelta(seconds=1))
    db.session.commit()  # the retry runs after the commit, in-process
    db.session.expire_all()
    assert db.session.get(ServiceJob, job.id).state == "done"
    assert open_elements(row) == ["review"]


def test_four_eyes_holds_after_the_engine_compacted_the_history(app, make_user):
    """80 rounds compact the preparer's step out of the engine state; the task rows still exclude them."""
    preparer, reviewer = make_user("accountant"), make_user("reviewer")
    definitions.deploy(workflow_file("long_loop.bpmn"), "test")
    row = steps.start("long_loop", "LOOP-1", {"limit": 80, "rounds": 0})

    def open_task():
        return db.session.scalar(select(HumanTask).where(HumanTask.instance_id == row.id, HumanTask.state == "open"))

    tasks.complete(open_task().id, preparer, {})
    for i in range(1, 81):
        tasks.complete(open_task().id, reviewer, {"rounds": str(i)})
    assert "prepare" not in {t.task_spec.bpmn_id for t in instances.load(row).workflow.tasks.values()}
    approve = open_task()
    assert approve.element_id == "approve" and approve.excluded_users == [preparer.email]
    from portal.errors import Forbidden

    with pytest.raises(Forbidden, match="four-eyes"):
        tasks.complete(approve.id, preparer, {})
    assert "prepare" in steps.describe(row)["markers"]["completed"]


@pytest.mark.parametrize("reads_after_adding", [False, True])
def test_an_operation_without_savepoint_leaves_none_of_its_rows_when_it_fails(inline, reads_after_adding):
    """history.note runs without a SAVEPOINT; a failure after it added a row must not keep that row, even if
    something read the session in between (which would autoflush the row)."""
    import dataclasses

    from sqlalchemy import func

    from portal.services.workflow import operations

    def add_then_fail(params, context):
        db.session.add(HistoryEvent(instance_id=context.instance_id, kind="note", element_id=context.element_id,
                                    actor="", details={"text": "half-written"}))
        if reads_after_adding:
            db.session.scalar(select(func.count(HistoryEvent.id)))
        raise RuntimeError("channel down after writing")

    definitions.deploy(workflow_file("note_only.bpmn"), "test")
    with operations.REGISTRY.temporarily(dataclasses.replace(operations.get("history.note"), handler=add_then_fail)):
        row = steps.start("note_only", "N-1")
        db.session.commit()
    notes = db.session.scalars(select(HistoryEvent).where(HistoryEvent.instance_id == row.id,
                                                          HistoryEvent.kind == "note")).all()
    assert notes == []
    job = db.session.scalar(select(ServiceJob).where(ServiceJob.instance_id == row.id))
    assert job.state == "incident" and "channel down" in job.last_error  # history.note has one attempt
