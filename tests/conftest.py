"""Test harness: one migrated app per database (SQLite, PostgreSQL), one rolled-back transaction per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal.extensions import limiter
from tests.support import factories
from tests.support.app import DATABASES, Apps, rolled_back
from tests.support.web import sign_in
from tests.web.access_world import world  # noqa: F401 - the access matrix's rows, as a fixture

TESTS = Path(__file__).parent
# Tests here touch no database: they run once, on the default SQLite app, without a [database] id.
DATABASE_FREE = ("workflows", "exports", "integrations", "test_config.py", "test_run_script.py")


def pytest_generate_tests(metafunc):
    """Run every database test on each of DATABASES, unless it says otherwise (no_db, database marker)."""
    if "database" not in metafunc.fixturenames or _database_free(metafunc.definition):
        return
    marker = metafunc.definition.get_closest_marker("database")
    names = marker.args if marker else DATABASES
    metafunc.parametrize("database", names, indirect=True, scope="session")


def _database_free(item) -> bool:
    if item.get_closest_marker("no_db"):
        return True
    parts = Path(item.path).relative_to(TESTS).parts
    return parts[0] in DATABASE_FREE


@pytest.fixture(scope="session")
def _apps():
    apps = Apps()
    yield apps
    apps.close()


@pytest.fixture(scope="session")
def database(request) -> str:
    """The database the test runs on ("sqlite" or "postgresql"); SQLite where the test needs none."""
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def app(database, _apps):
    return _apps.get(database)


@pytest.fixture(autouse=True)
def _rollback(request, app):
    """Every test runs in a transaction rolled back at the end; commits inside become SAVEPOINTs."""
    if "no_db" in request.keywords:
        yield
        return
    with rolled_back(app):
        limiter.reset()
        yield


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def inline(app, monkeypatch):
    """Embedded mode's default: service tasks run inside the step that reaches them (no job row on success)."""
    monkeypatch.setitem(app.config, "SERVICE_TASKS_INLINE", True)


@pytest.fixture
def make_user():
    return factories.make_user


@pytest.fixture
def admin(app, client, make_user):
    """An administrator signed in on `client`, with the test's rows so far committed (to its savepoint)."""
    return sign_in(app, client, make_user("admin"))

