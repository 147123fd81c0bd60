"""instances.py and migration.py, exactly: found by the mutation run (docs/testing.md, "Mutation run").

Each test pins one outcome: the NotFound message of each lock when the row is missing, that locking a task or
a job reads it and its instance afresh (not the session's stale copy), the Conflict message of a refused
migration (one reason, and several joined), the `migrated` history line, the clock the migration's step uses,
and, on a real PostgreSQL with a second connection holding the row, that `lock` waits for a busy instance while
`lock_if_free` passes over it at once.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import psycopg
import pytest
from flask_migrate import upgrade
from sqlalchemy import text, update

from portal.errors import Conflict, NotFound
from portal.extensions import db
from portal.models import HumanTask, ProcessInstance, ServiceJob
from portal.services.workflow import definitions, instances, migration, steps
from portal.services.workflow.steps import JOB_LEASE
from tests.services.workflow.test_steps_exact import V1, parallel
from tests.support.engine import user_task
from tests.support.servers import fresh_postgres_database, postgres_reachable, require_service
from tests.support.workflow import (
    T0,
    deploy,
    events,
    in_thread,
    jobs_of,
    libpq,
    lock_waiters,
    open_task,
    postgres_app,
)

BY = "analyst@staff.example"
MISSING = 424242

NOTE = ('<bpmn:serviceTask id="note" camunda:type="external" camunda:topic="history.note">'
        '<bpmn:extensionElements><camunda:inputOutput>'
        '<camunda:inputParameter name="text">Case opened</camunda:inputParameter>'
        '</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>')


def _calc_and_note(source: str) -> str:
    """start → split → (a script task running `source` | the history.note job) → join → end."""
    calc = f'<bpmn:scriptTask id="calc" scriptFormat="python"><bpmn:script>{source}</bpmn:script></bpmn:scriptTask>'
    return parallel(calc, NOTE, process_id="calc_and_note")


def _behind_the_sessions_back(model, row_id: int, **values) -> None:
    """Change a row in the database without touching the copy the session holds (as another transaction would)."""
    db.session.execute(update(model).where(model.id == row_id).values(**values),
                       execution_options={"synchronize_session": False})


# ---------------------------------------------------------------------------- missing rows

@pytest.mark.parametrize(("lock", "message"), [
    (instances.lock, f"no process instance {MISSING}"),  # kills x_lock 2, x__locked 5
    (instances.lock_for_task, f"no task {MISSING}"),  # kills x_lock_for_task 3, x__lock_with 20
    (instances.lock_for_job, f"no job {MISSING}"),  # kills x_lock_for_job 3, x__lock_with 20
], ids=["instance", "task", "job"])
def test_locking_a_missing_row_is_not_found_naming_the_row(lock, message):
    with pytest.raises(NotFound) as info:
        lock(MISSING)
    assert str(info.value) == message


# ---------------------------------------------------------------------------- locked rows are read afresh

# kills x__lock_with 3, 18 (populate_existing None / False: the session's stale copies are returned)
def test_locking_a_task_reads_the_task_row_afresh():
    deploy("two_steps.bpmn")
    row = steps.start("two_steps", "L-1", now=T0)
    sign = open_task(row.id, "sign")
    _behind_the_sessions_back(HumanTask, sign.id, name="Sign (renamed elsewhere)")
    _, task = instances.lock_for_task(sign.id)
    assert (task is sign, task.name) == (True, "Sign (renamed elsewhere)")


def test_locking_a_task_reads_its_instance_row_afresh():
    deploy("two_steps.bpmn")
    row = steps.start("two_steps", "L-2", now=T0)
    _behind_the_sessions_back(ProcessInstance, row.id, status="cancelled")
    locked, _ = instances.lock_for_task(open_task(row.id, "sign").id)
    assert (locked is row, locked.status) == (True, "cancelled")


def test_locking_a_job_reads_the_job_row_afresh():
    deploy("note_only.bpmn")
    row = steps.start("note_only", "L-3", now=T0)
    [job] = jobs_of(row.id)
    _behind_the_sessions_back(ServiceJob, job.id, attempts=2)
    _, locked = instances.lock_for_job(job.id)
    assert (locked is job, locked.attempts) == (True, 2)


# ---------------------------------------------------------------------------- migration refused

def test_migrating_an_instance_on_the_newest_version_is_a_conflict_saying_so():
    # kills migration x_check 4, 5; x_migrate 7, 8
    definitions.deploy(V1, BY)
    row = steps.start("refresh", "M-1", now=T0)
    with pytest.raises(Conflict) as info:
        migration.migrate(row.id, by=BY, now=T0)
    assert str(info.value) == "cannot migrate: the instance already runs the newest version"


def test_a_migration_refused_for_several_reasons_names_them_all_joined_by_semicolons():
    # kills x_migrate 10 ("XX; XX" between the reasons)
    definitions.deploy(V1, BY)
    row = steps.start("refresh", "M-2", now=T0)
    definitions.deploy(parallel(user_task("approve"), user_task("book"), process_id="refresh"), BY)
    with pytest.raises(Conflict) as info:
        migration.migrate(row.id, by=BY, now=T0)
    assert str(info.value) == "cannot migrate: check is not in the new version; review is not in the new version"


# ---------------------------------------------------------------------------- migration done

def test_a_migration_writes_who_moved_the_instance_from_which_version_to_which():
    # kills x_migrate 11 (from None), 21, 25 (no actor), 22, 26 (no details), 29 to 32 (the keys misspelt)
    definitions.deploy(V1, BY)
    row = steps.start("refresh", "M-3", now=T0)
    definitions.deploy(V1.replace('name="Review"', 'name="Review it"'), BY)
    definitions.deploy(V1.replace('name="Review"', 'name="Review it all"'), BY)
    migration.migrate(row.id, by="ops@staff.example", now=T0)
    assert [(e.element_id, e.actor, e.details) for e in events(row.id, "migrated")] == [
        ("", "ops@staff.example", {"from": 1, "to": 3})]


def test_the_step_after_a_migration_queues_new_jobs_at_the_migrations_clock():
    """The script failed before the parallel service task started; on the new version the step goes on and the
    service task's job is leased from the migration's `now`, not the machine's clock."""
    # kills x_migrate 36 (act without a clock: a TypeError), 41 (`now and utcnow()`: the machine's clock)
    definitions.deploy(_calc_and_note("x = 1 / 0"), BY)
    row = steps.start("calc_and_note", "M-4", now=T0)
    assert (row.status, jobs_of(row.id)) == ("incident", [])
    definitions.deploy(_calc_and_note("x = 2"), BY)
    moved = T0 + timedelta(hours=3)
    migration.migrate(row.id, by=BY, now=moved)
    assert [(j.element_id, j.next_attempt_at) for j in jobs_of(row.id)] == [("note", moved + JOB_LEASE)]


# ---------------------------------------------------------------------------- a second transaction holds the row

@pytest.fixture(scope="module")
def held_instance():
    """A fresh migrated PostgreSQL database with one committed two_steps instance: (app, instance id, url)."""
    require_service("PostgreSQL", *postgres_reachable())
    with fresh_postgres_database() as url:
        app = postgres_app(url)
        try:
            with app.app_context():
                upgrade()
                deploy("two_steps.bpmn")
                instance_id = steps.start("two_steps", "PG-1", now=T0).id
                db.session.commit()
                db.session.remove()
            yield app, instance_id, url
        finally:
            with app.app_context():
                db.engine.dispose()


def _holding(url: str, instance_id: int) -> psycopg.Connection:
    """A second connection holding the instance row (FOR UPDATE) until it commits or rolls back."""
    holder = psycopg.connect(libpq(url)[0])
    holder.execute("SELECT id FROM process_instances WHERE id = %s FOR UPDATE", (instance_id,))
    return holder


def _until_waiting_or_done(url: str, thread: threading.Thread) -> None:
    """Block until the thread waits on a row lock or has finished (synchronisation only, bounded)."""
    conninfo, name = libpq(url)
    with psycopg.connect(conninfo, autocommit=True) as watcher:
        deadline = time.monotonic() + 20
        while thread.is_alive() and lock_waiters(watcher, name) < 1:
            assert time.monotonic() < deadline, "the lock neither waited nor returned"
            time.sleep(0.05)


@pytest.mark.postgres
@pytest.mark.no_db
def test_lock_waits_for_an_instance_another_transaction_holds_and_then_returns_it_on_postgres(held_instance):
    # kills x__instance_for_update 1 (skip_locked by default: lock() would say "no process instance N" at once)
    app, instance_id, url = held_instance
    results: dict = {}
    with _holding(url, instance_id) as holder:
        thread = in_thread(app, lambda: instances.lock(instance_id).id, results, "lock")
        _until_waiting_or_done(url, thread)
        holder.rollback()
        thread.join(timeout=60)
    assert results == {"lock": ("ok", instance_id)}


@pytest.mark.postgres
@pytest.mark.no_db
def test_lock_if_free_passes_over_an_instance_another_transaction_holds_on_postgres(held_instance):
    # kills x_lock_if_free 3, 5, 7 and x__instance_for_update 3, 5 (no SKIP LOCKED: the lock would wait, and
    # after lock_timeout fail with LockNotAvailable)
    app, instance_id, url = held_instance
    with _holding(url, instance_id) as holder, app.app_context():
        try:
            db.session.execute(text("SET LOCAL lock_timeout = '5s'"))
            assert instances.lock_if_free(instance_id) is None
        finally:
            db.session.rollback()
            db.session.remove()
            holder.rollback()
