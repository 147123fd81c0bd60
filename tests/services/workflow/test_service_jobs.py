"""Service jobs: retries with backoff, incidents, idempotency, rollback; a real worker on PostgreSQL and Redis."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import select

from portal.errors import Conflict
from portal.extensions import db
from portal.models import HumanTask, ProcessInstance, WorkflowTimer
from portal.services.workflow import definitions, operations, service_jobs, steps, tasks, timers
from tests.support.servers import (
    REDIS_URL,
    flask_command,
    fresh_postgres_database,
    postgres_reachable,
    redis_reachable,
    require_service,
)
from tests.support.workflow import (
    T0,
    WRITE_THEN_FAIL,
    commit,
    deploy,
    eur_rate,
    events,
    instance,
    jobs_of,
    kinds,
    open_elements,
    path,
    postgres_app,
    read,
)

CONVERT_VARS = {"amount": Decimal("100"), "currency": "EUR", "on": date(2026, 11, 2)}


def start_convert():
    deploy("convert_only.bpmn")
    row = steps.start("convert_only", "FX-1", dict(CONVERT_VARS), now=T0)
    [job] = jobs_of(row.id)
    return row, job


def test_a_failing_operation_backs_off_then_becomes_an_incident_that_can_be_retried():
    row, job = start_convert()  # no EUR rate yet; nothing committed, so no worker has run it
    assert (job.state, job.attempts, job.max_attempts, job.next_attempt_at) == ("queued", 0, 3, T0 + steps.JOB_LEASE)

    assert service_jobs.run(job.id, now=T0) == "retry"
    assert job.attempts == 1 and job.next_attempt_at == T0 + timedelta(seconds=10)
    assert "no EUR exchange rate" in job.last_error and instance(row.id).status == "running"
    assert service_jobs.requeue_due(T0 + timedelta(seconds=9)) == 0
    assert service_jobs.requeue_due(T0 + timedelta(seconds=10)) == 1  # the database remembers the retry
    assert job.next_attempt_at == T0 + timedelta(seconds=10) + steps.JOB_LEASE

    t1 = T0 + timedelta(seconds=10)
    assert service_jobs.run(job.id, now=t1) == "retry"
    assert job.attempts == 2 and job.next_attempt_at == t1 + timedelta(seconds=20)  # doubled
    retried = events(row.id, "retried")
    assert [e.details["attempt"] for e in retried] == [1, 2] and all("EUR" in e.details["error"] for e in retried)

    t2 = t1 + timedelta(seconds=20)
    assert service_jobs.run(job.id, now=t2) == "incident"
    assert (job.state, job.attempts, job.next_attempt_at) == ("incident", 3, None)
    assert instance(row.id).status == "incident" and service_jobs.incidents() == [job]
    assert events(row.id, "failed")[-1].details["attempts"] == 3
    assert service_jobs.run(job.id, now=t2) == "skipped"
    assert service_jobs.requeue_due(t2 + timedelta(days=1)) == 0 and open_elements(row.id) == []

    eur_rate()
    assert service_jobs.retry_incident(row.id, by="ops@staff.example", now=t2) == 1
    assert (job.state, job.attempts) == ("queued", 0) and instance(row.id).status == "running"
    assert events(row.id)[-1].actor == "ops@staff.example"
    commit()  # every deferred run fires now; only one of them does the work
    assert service_jobs.get(job.id).state == "done" and instance(row.id).status == "running"
    assert open_elements(row.id) == ["check"] and len(events(row.id, "service_task_run")) == 1
    assert steps.describe(instance(row.id))["variables"]["base_amount"] == Decimal("108.45")
    with pytest.raises(Conflict, match="no incident"):
        service_jobs.retry_incident(row.id, by="ops@staff.example")


def test_running_a_job_twice_runs_the_operation_once():
    deploy("note_only.bpmn")
    row = steps.start("note_only", "N-1", now=T0)
    [job] = jobs_of(row.id)
    assert job.state == "queued" and events(row.id, "note") == []
    commit()  # embedded mode: the deferred run happens now, in this process
    assert service_jobs.get(job.id).state == "done" and service_jobs.get(job.id).attempts == 1
    assert service_jobs.run(job.id, now=T0) == "skipped"  # e.g. RQ delivered it twice, or the lease ran out
    assert service_jobs.requeue_due(T0 + timedelta(days=1)) == 0
    commit()
    assert [e.details["text"] for e in events(row.id, "note")] == ["Case opened"]
    assert len(events(row.id, "service_task_run")) == 1 and open_elements(row.id) == ["check"]
    assert (service_jobs.get(job.id).state, service_jobs.get(job.id).attempts) == ("done", 1)


def test_releasing_a_savepoint_does_not_dispatch_deferred_jobs():
    deploy("note_only.bpmn")
    row = steps.start("note_only", "N-3", now=T0)
    with db.session.begin_nested():
        pass
    db.session.expire_all()
    assert events(row.id, "note") == [] and jobs_of(row.id)[0].state == "queued"


def test_a_job_run_in_the_transaction_that_queued_it_runs_once():
    deploy("note_only.bpmn")
    row = steps.start("note_only", "N-4", now=T0)
    [job] = jobs_of(row.id)
    assert service_jobs.run(job.id, now=T0) == "done"
    assert service_jobs.run(job.id, now=T0) == "skipped"
    commit()
    assert len(events(row.id, "note")) == 1 and open_elements(row.id) == ["check"]


def test_a_failing_handler_leaves_none_of_its_writes():
    topic = WRITE_THEN_FAIL.topic
    with operations.REGISTRY.temporarily(WRITE_THEN_FAIL):
        definitions.deploy(read("note_only.bpmn").replace('camunda:topic="history.note"', f'camunda:topic="{topic}"'),
                           "t")
        row = steps.start("note_only", "W-1", now=T0)
        [job] = jobs_of(row.id)

        assert service_jobs.run(job.id, now=T0) == "retry"
        assert events(row.id, "note") == [] and job.attempts == 1 and job.next_attempt_at == T0 + timedelta(seconds=5)
        assert f"key ledgerflow-{row.id}-{job.task_guid}" in job.last_error
        assert service_jobs.run(job.id, now=T0 + timedelta(seconds=5)) == "incident"
        commit()
    assert events(row.id, "note") == [] and kinds(row.id).count("retried") == 1
    assert service_jobs.get(job.id).state == "incident" and instance(row.id).status == "incident"


def test_jobs_of_a_cancelled_instance_are_not_run():
    deploy("note_only.bpmn")
    row = steps.start("note_only", "N-2", now=T0)
    [job] = jobs_of(row.id)
    steps.cancel(row.id, by="ops", now=T0)
    assert job.state == "cancelled" and service_jobs.run(job.id, now=T0) == "skipped"
    commit()
    assert events(row.id, "note") == [] and "service_task_run" not in kinds(row.id)


# ---------------------------------------------------------------------------- embedded mode: inside the step



def test_inline_service_tasks_run_inside_the_step(inline, make_user):
    eur_rate()
    deploy("approval.bpmn")
    row = steps.start("approval", "IN-1", {"currency": "EUR", "on": date(2026, 11, 2)}, now=T0)
    preparer = make_user("accountant")
    tasks.complete(db.session.scalars(select(HumanTask.id).where(HumanTask.instance_id == row.id)).one(),
                   preparer, {"amount": "20000"}, now=T0)
    assert open_elements(row.id) == ["review"] and jobs_of(row.id) == []  # no commit needed, no job row
    assert steps.describe(instance(row.id))["variables"]["base_amount"] == Decimal("21690.00")
    assert [(e.element_id, e.details["attempt"]) for e in events(row.id, "service_task_run")] == [("convert", 1)]


def test_an_inline_failure_is_handed_to_the_job_table_and_the_sweep(inline):
    row, job = start_convert()  # no EUR rate: the inline try fails, the job table takes over
    assert (job.state, job.attempts, job.next_attempt_at) == ("queued", 1, T0 + timedelta(seconds=10))
    assert [e.details["attempt"] for e in events(row.id, "retried")] == [1] and open_elements(row.id) == []
    eur_rate()
    assert timers.sweep(now=T0 + timedelta(seconds=9))["jobs_queued"] == 0
    assert timers.sweep(now=T0 + timedelta(seconds=10))["jobs_queued"] == 1
    commit()
    job = service_jobs.get(job.id)
    assert (job.state, job.attempts) == ("done", 2) and open_elements(row.id) == ["check"]


# ---------------------------------------------------------------------------- real PostgreSQL and Redis

@pytest.fixture
def seeded_postgres():
    require_service("PostgreSQL", *postgres_reachable())
    with fresh_postgres_database() as url:
        assert flask_command("db", "upgrade", database_url=url).returncode == 0
        assert flask_command("demo", "seed", database_url=url).returncode == 0
        yield url


def flask_ok(*args, url, redis_url=None):
    result = flask_command(*args, database_url=url, redis_url=redis_url)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.no_db
def test_cli_and_a_real_worker_run_approval_on_postgres(seeded_postgres):
    require_service("Redis", *redis_reachable())
    redis = Redis.from_url(REDIS_URL)
    redis.flushdb()
    url = seeded_postgres
    try:
        assert "Deployed approval version" in flask_ok("workflows", "deploy", str(path("approval.bpmn")),
                                                        url=url, redis_url=REDIS_URL)
        started = flask_ok("workflows", "start", "approval", "--business-key", "PF-9", "--var", "currency=EUR",
                           "--var", "on=2026-11-02", url=url, redis_url=REDIS_URL)
        assert started.startswith("Started instance ") and started.strip().endswith("(running).")
        row_id = started.split()[2]
        [prepare] = json.loads(flask_ok("workflows", "tasks", "--json", "--instance", row_id, url=url))
        flask_ok("workflows", "complete", str(prepare["id"]), "--as", "accountant@ledgerflow.example",
                 "--var", "amount=20000", url=url, redis_url=REDIS_URL)
        assert Queue("workflow", connection=redis).count == 1  # handed to RQ after the commit, not run inline
        shown = json.loads(flask_ok("workflows", "show", row_id, "--json", url=url))
        assert shown["markers"]["active"] == ["convert"] and "base_amount" not in shown["variables"]

        worker = flask_command("worker", "--burst", database_url=url, redis_url=REDIS_URL)
        assert worker.returncode == 0, worker.stderr
        assert Queue("workflow", connection=redis).count == 0
        shown = json.loads(flask_ok("workflows", "show", row_id, "--json", url=url))
        assert shown["markers"]["active"] == ["review"] and shown["variables"]["base_amount"] == "21690.00"
        assert [h["element"] for h in shown["history"] if h["kind"] == "service_task_run"] == ["convert"]
        [review] = json.loads(flask_ok("workflows", "tasks", "--json", "--instance", row_id, url=url))
        flask_ok("workflows", "complete", str(review["id"]), "--as", "reviewer@ledgerflow.example", url=url,
                 redis_url=REDIS_URL)
    finally:
        redis.flushdb()  # a Redis flush loses nothing the escalation needs

    app = postgres_app(url)
    with app.app_context():
        [timer] = db.session.scalars(select(WorkflowTimer)).all()
        assert str(timer.instance_id) == row_id
        assert timers.sweep(now=timer.due_at - timedelta(seconds=1))["timers_fired"] == 0
        assert timers.sweep(now=timer.due_at + timedelta(seconds=1))["timers_fired"] == 1
        db.session.commit()
        assert db.session.get(ProcessInstance, timer.instance_id).status == "completed"
        assert db.session.scalars(select(HumanTask.state).where(HumanTask.instance_id == timer.instance_id,
                                                                HumanTask.element_id == "approve")).all() == [
            "cancelled"]
        db.session.remove()
        db.engine.dispose()
