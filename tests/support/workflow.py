"""Shared helpers for the workflow runtime, job and CLI tests (services against the test database)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from portal.extensions import db
from portal.models import HistoryEvent, HumanTask, ProcessInstance, ServiceJob, WorkflowTimer
from portal.services.workflow import definitions
from tests.support.factories import ExchangeRateFactory
from tests.support.paths import WORKFLOW_DATA
from workflows.operations import Operation

DATA = WORKFLOW_DATA
RATE_DAY = date(2026, 11, 2)
EUR_RATE = Decimal("1.08450000")
APPROVAL_VARS = {"currency": "EUR", "on": RATE_DAY}
T0 = datetime(2026, 11, 2, 9, 0)  # a fixed "now" for steps whose clock the portal controls


def path(name: str) -> Path:
    return DATA / name


def read(name: str) -> str:
    return path(name).read_text(encoding="utf-8")


def deploy(name: str, by: str = "analyst@staff.example"):
    return definitions.deploy(read(name), by)


def eur_rate(on: date = RATE_DAY, rate: Decimal = EUR_RATE):
    """An EUR rate so fx.convert can convert into the base currency (USD)."""
    return ExchangeRateFactory(currency="EUR", rate_date=on, rate=rate)


def commit() -> None:
    """Commit (a SAVEPOINT in tests): deferred jobs run in-process now; then read rows afresh."""
    db.session.commit()
    db.session.expire_all()


def instance(instance_id: int) -> ProcessInstance:
    db.session.flush()
    row = db.session.get(ProcessInstance, instance_id)
    db.session.refresh(row)
    return row


def _rows_of(model, instance_id: int, **equal) -> list:
    """The instance's rows of `model` in id order, narrowed to the columns given (None: not narrowed)."""
    query = select(model).where(model.instance_id == instance_id).order_by(model.id)
    for column, value in equal.items():
        if value:
            query = query.where(getattr(model, column) == value)
    return list(db.session.scalars(query))


def tasks_of(instance_id: int, state: str | None = None, element_id: str | None = None) -> list[HumanTask]:
    return _rows_of(HumanTask, instance_id, state=state, element_id=element_id)


def open_task(instance_id: int, element_id: str) -> HumanTask:
    found = tasks_of(instance_id, "open", element_id)
    assert len(found) == 1, [(t.element_id, t.state) for t in tasks_of(instance_id)]
    return found[0]


def open_elements(instance_id: int) -> list[str]:
    return sorted(t.element_id for t in tasks_of(instance_id, "open"))


def jobs_of(instance_id: int, element_id: str | None = None) -> list[ServiceJob]:
    return _rows_of(ServiceJob, instance_id, element_id=element_id)


def timers_of(instance_id: int) -> list[WorkflowTimer]:
    return _rows_of(WorkflowTimer, instance_id)


def events(instance_id: int, kind: str | None = None) -> list[HistoryEvent]:
    return _rows_of(HistoryEvent, instance_id, kind=kind)


def kinds(instance_id: int) -> list[str]:
    return [e.kind for e in events(instance_id)]


# ---------------------------------------------------------------------------- a test operation

def write_then_fail(params: dict, context) -> dict:
    """Handler of the test-only operation test.write_then_fail: writes a history line, then raises."""
    db.session.add(HistoryEvent(instance_id=context.instance_id, kind="note", element_id=context.element_id,
                                details={"text": "half-done work"}))
    db.session.flush()
    raise RuntimeError(f"remote system down (attempt {context.attempt}, key {context.idempotency_key})")


WRITE_THEN_FAIL = Operation(topic="test.write_then_fail", label="Write, then fail", description="test only",
                            handler=write_then_fail, max_attempts=2, backoff_seconds=5)


# ---------------------------------------------------------------------------- real PostgreSQL

def postgres_app(database_url: str, redis_url: str | None = None):
    """An app on a real database, as a second process would build it (pooled connections, no test transaction)."""
    from portal import create_app
    from tests.support.app import app_config

    return create_app(app_config(SQLALCHEMY_DATABASE_URI=database_url, SQLALCHEMY_ENGINE_OPTIONS={},
                                 REDIS_URL=redis_url))


@contextmanager
def migrated_postgres():
    """A fresh, migrated PostgreSQL database with an app on it, inside its app context; dropped afterwards."""
    from flask_migrate import upgrade

    from tests.support.servers import fresh_postgres_database, postgres_reachable, require_service

    require_service("PostgreSQL", *postgres_reachable())
    with fresh_postgres_database() as url:
        app = postgres_app(url)
        with app.app_context():
            upgrade()
            try:
                yield app
            finally:
                db.session.remove()
                db.engine.dispose()


def lock_waiters(admin_connection, database: str) -> int:
    """Sessions of `database` waiting for a row or table lock."""
    return admin_connection.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
        (database,)).fetchone()[0]


def wait_for_lock_waiters(admin_connection, database: str, count: int, timeout: float = 20) -> None:
    """Block until `count` sessions wait on a lock (synchronisation only: no result depends on the clock)."""
    import time

    deadline = time.monotonic() + timeout
    while lock_waiters(admin_connection, database) < count:
        assert time.monotonic() < deadline, f"expected {count} session(s) waiting for a lock"
        time.sleep(0.05)


def libpq(database_url: str) -> tuple[str, str]:
    """(libpq connection string, database name) of a SQLAlchemy PostgreSQL URL."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    return url.set(drivername="postgresql").render_as_string(hide_password=False), url.database


def in_thread(app, action, results: dict, name: str):
    """Run `action()` in its own app context (own session and connection) and commit; record the outcome."""
    import threading

    def run():
        with app.app_context():
            try:
                value = action()
                db.session.commit()
                results[name] = ("ok", value)
            except Exception as exc:  # recorded for the test to judge
                db.session.rollback()
                results[name] = (type(exc).__name__, str(exc))

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread
