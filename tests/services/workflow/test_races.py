"""Row locks on a real PostgreSQL: concurrent use cases on one instance queue up, never deadlock, and an
operation runs once however many workers race for its job."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.infra import outbox
from portal.models import HumanTask, ProcessInstance, ServiceJob, User, WorkflowTimer
from portal.services.workflow import definitions, instances, service_jobs, steps, tasks, timers
from tests.support import factories
from tests.support.servers import flask_command, fresh_postgres_database, postgres_reachable, require_service
from tests.support.workflow import (
    T0,
    events,
    in_thread,
    kinds,
    libpq,
    open_elements,
    postgres_app,
    read,
    wait_for_lock_waiters,
)


def _postgres_instance(url, diagram: str, key: str, lose_deferred_jobs: bool = False):
    """A fresh migrated database with two accountants and a started instance of `diagram`; returns app and ids."""
    assert flask_command("db", "upgrade", database_url=url).returncode == 0
    app = postgres_app(url)
    with app.app_context():
        first, second = factories.make_user("accountant"), factories.make_user("accountant")
        definitions.deploy(read(diagram), "t")
        row = steps.start(key, "PG-1", now=T0)
        if lose_deferred_jobs:  # as if Redis lost the enqueue: the jobs stay queued in the database
            outbox.take(db.session)
        db.session.commit()
        ids = {"first": first.id, "second": second.id, "instance": row.id,
               "task": db.session.scalar(select(HumanTask.id).where(HumanTask.instance_id == row.id)),
               "job": db.session.scalar(select(ServiceJob.id).where(ServiceJob.instance_id == row.id)),
               "due": db.session.scalar(select(WorkflowTimer.due_at).where(WorkflowTimer.instance_id == row.id))}
        db.session.remove()
    return app, ids


@contextmanager
def _instance_on_postgres(diagram: str, key: str, lose_deferred_jobs: bool = False):
    """A fresh database with a started instance of `diagram`: yields (app, ids, url); dropped afterwards."""
    require_service("PostgreSQL", *postgres_reachable())
    with fresh_postgres_database() as url:
        app, ids = _postgres_instance(url, diagram, key, lose_deferred_jobs)
        yield app, ids, url


@contextmanager
def _checking(app):
    """The app's context to check an outcome in; its connections are closed afterwards."""
    with app.app_context():
        try:
            yield
        finally:
            db.session.remove()
            db.engine.dispose()


def _race(app, url, lock_sql: str, lock_id: int, actions: dict) -> dict:
    """Hold a row lock, let each action queue up behind it (in this order), release, and collect the outcomes."""
    conninfo, name = libpq(url)
    results, threads = {}, []
    with psycopg.connect(conninfo) as holder, psycopg.connect(conninfo, autocommit=True) as watcher:
        holder.execute(lock_sql, (lock_id,))
        for count, (name_of_action, action) in enumerate(actions.items(), start=1):
            threads.append(in_thread(app, action, results, name_of_action))
            wait_for_lock_waiters(watcher, name, count)
        holder.commit()
        for thread in threads:
            thread.join(timeout=60)
    return results


@pytest.mark.postgres
@pytest.mark.no_db
def test_two_concurrent_completions_on_postgres_one_wins():
    with _instance_on_postgres("two_steps.bpmn", "two_steps") as (app, ids, url):

        def completing(who):
            return lambda: tasks.complete(ids["task"], db.session.get(User, ids[who]), {"pages": "2"}).completed_by

        results = _race(app, url, "SELECT id FROM human_tasks WHERE id = %s FOR UPDATE", ids["task"],
                        {who: completing(who) for who in ("first", "second")})
        outcomes = sorted(kind for kind, _ in results.values())
        assert outcomes == ["Conflict", "ok"], results
        winner = next(who for who, (kind, _) in results.items() if kind == "ok")
        with _checking(app):
            emails = {who: db.session.get(User, ids[who]).email for who in ("first", "second")}
            row = db.session.get(ProcessInstance, ids["instance"])
            rows = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == row.id)
                                      .order_by(HumanTask.id)).all()
            assert [(t.element_id, t.state) for t in rows] == [("sign", "completed"), ("countersign", "open")]
            assert rows[0].completed_by == emails[winner] and rows[1].excluded_users == [emails[winner]]
            assert [e.actor for e in events(row.id, "task_completed")] == [emails[winner]]
            engine_state = instances.load(row)
            assert [t.element_id for t in engine_state.user_tasks()] == ["countersign"]
            assert engine_state.variables()["pages"] == 2


@pytest.mark.postgres
@pytest.mark.no_db
def test_a_claim_and_a_completion_of_the_same_task_queue_up_instead_of_deadlocking():
    """Both lock the instance before the task: the completion waits for the claim, whose history row needs
    the instance (a foreign key), instead of holding the instance while waiting for the task."""
    with _instance_on_postgres("two_steps.bpmn", "two_steps") as (app, ids, url):

        def as_first(action):
            return lambda: action(db.session.get(User, ids["first"])).state

        results = _race(app, url, "SELECT id FROM human_tasks WHERE id = %s FOR UPDATE", ids["task"], {
            "claim": as_first(lambda user: tasks.claim(ids["task"], user)),
            "complete": as_first(lambda user: tasks.complete(ids["task"], user, {"pages": "2"})),
        })
        assert results == {"claim": ("ok", "open"), "complete": ("ok", "completed")}, results
        with _checking(app):
            assert [e.kind for e in events(ids["instance"]) if e.kind in ("claimed", "task_completed")] == [
                "claimed", "task_completed"]


@pytest.mark.postgres
@pytest.mark.no_db
def test_a_worker_and_a_cancel_on_the_same_instance_queue_up_instead_of_deadlocking():
    """The worker locks the instance before its job row, as cancel (which cancels the job row) does."""
    with _instance_on_postgres("note_only.bpmn", "note_only", lose_deferred_jobs=True) as (app, ids, url):
        results = _race(app, url, "SELECT id FROM service_jobs WHERE id = %s FOR UPDATE", ids["job"], {
            "worker": lambda: service_jobs.run(ids["job"], now=T0),
            "cancel": lambda: steps.cancel(ids["instance"], "ops", now=T0).status,
        })
        assert results == {"worker": ("ok", "done"), "cancel": ("ok", "cancelled")}, results
        with _checking(app):
            assert kinds(ids["instance"])[-1] == "cancelled" and service_jobs.get(ids["job"]).state == "done"


@pytest.mark.postgres
@pytest.mark.no_db
def test_two_workers_running_the_same_job_on_postgres_run_it_once():
    with _instance_on_postgres("note_only.bpmn", "note_only", lose_deferred_jobs=True) as (app, ids, url):
        results = _race(app, url, "SELECT id FROM service_jobs WHERE id = %s FOR UPDATE", ids["job"],
                        {w: lambda: service_jobs.run(ids["job"], now=T0) for w in ("worker1", "worker2")})
        assert sorted(results.values()) == [("ok", "done"), ("ok", "skipped")], results
        with _checking(app):
            assert [e.details["text"] for e in events(ids["instance"], "note")] == ["Case opened"]
            job = service_jobs.get(ids["job"])
            assert open_elements(ids["instance"]) == ["check"] and (job.state, job.attempts) == ("done", 1)


@pytest.mark.postgres
@pytest.mark.no_db
def test_a_completion_racing_the_deadline_timer_is_a_conflict_not_a_deadlock():
    with _instance_on_postgres("deadline.bpmn", "deadline") as (app, ids, url):
        # Holding the task row: the sweep takes the instance, fires, and waits to cancel the task; the
        # completion waits for the instance behind it.
        results = _race(app, url, "SELECT id FROM human_tasks WHERE id = %s FOR UPDATE", ids["task"], {
            "sweep": lambda: timers.sweep(now=ids["due"] + timedelta(seconds=1))["timers_fired"],
            "complete": lambda: tasks.complete(ids["task"], db.session.get(User, ids["first"]), {}).state,
        })
        with _checking(app):
            states = db.session.scalars(select(HumanTask.state).where(HumanTask.id == ids["task"])).all()
            status = db.session.get(ProcessInstance, ids["instance"]).status
        assert results["sweep"] == ("ok", 1), results
        assert results["complete"][0] == "Conflict" and "cancelled" in results["complete"][1], results
        assert states == ["cancelled"] and status == "completed"


@pytest.mark.postgres
@pytest.mark.no_db
def test_a_sweep_passes_over_a_busy_instance_and_the_next_sweep_fires_its_timer():
    """A long transaction on one instance (an upload, say) must not stall every other timer."""
    with _instance_on_postgres("deadline_then_file.bpmn", "deadline_then_file") as (app, ids, url):

        def fired_and_waiting() -> tuple[int, int]:
            result = timers.sweep(now=ids["due"] + timedelta(seconds=1))
            return result["timers_fired"], result["timers_waiting_for_busy_instances"]

        def sweep() -> tuple:
            results = {}
            in_thread(app, fired_and_waiting, results, "sweep").join(timeout=20)
            return results.get("sweep")

        with psycopg.connect(libpq(url)[0]) as holder:
            holder.execute("SELECT id FROM process_instances WHERE id = %s FOR UPDATE", (ids["instance"],))
            assert sweep() == ("ok", (0, 1))  # returned at once: none fired, one waits for the locked instance
            holder.rollback()
        assert sweep() == ("ok", (1, 0))
        with _checking(app):
            assert db.session.get(ProcessInstance, ids["instance"]).status == "completed"  # escalated
