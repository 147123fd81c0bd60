"""Test harness: one app per session on a migrated in-memory SQLite, one rolled-back transaction per test."""

from __future__ import annotations

import os
import re

import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy.pool import StaticPool

from portal import create_app
from portal.extensions import db, limiter
from tests.support import factories
from tests.web.access_world import world  # noqa: F401 - the access matrix's rows, as a fixture

SECRET = "test-secret-key-0123456789abcdef"
IN_CI = os.environ.get("CI", "").lower() == "true"


def app_config(**overrides) -> dict:
    config = {
        "LEDGERFLOW_ENV": "testing",
        "SECRET_KEY": SECRET,
        "SQLALCHEMY_DATABASE_URI": "sqlite://",
        "SQLALCHEMY_ENGINE_OPTIONS": {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}},
        "REDIS_URL": None,
        "RATELIMIT_STORAGE_URI": "memory://",
        # Tests exercise the job path (deferred, run after the commit) unless they ask for inline steps.
        "SERVICE_TASKS_INLINE": False,
    }
    config.update(overrides)
    return config


class FreshContextClient(FlaskClient):
    """Each request gets its own app context (and `g`), as in production, even while a test holds one."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def app():
    app = create_app(app_config())
    app.test_client_class = FreshContextClient
    with app.app_context():
        upgrade()
    return app


@pytest.fixture(autouse=True)
def _rollback(request, app):
    """Every test runs in a transaction rolled back at the end; commits inside become SAVEPOINTs."""
    if "no_db" in request.keywords:
        yield
        return
    with app.app_context():
        engines = db.engines
        engine = engines[None]
        connection = engine.connect()
        outer = connection.begin()
        engines[None] = connection
        db.session.remove()
        db.session.configure(join_transaction_mode="create_savepoint")
        limiter.reset()
        try:
            yield
        finally:
            db.session.remove()
            engines[None] = engine
            outer.rollback()
            connection.close()


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', html
    )
    assert match, "page has no CSRF token"
    return match.group(1)


def login_as(app, client, user) -> None:
    """Sign `user` in on `client` the way Flask-Login records it (tests of sign-in itself use the forms)."""
    with app.test_request_context(environ_base=client.environ_base):
        identifier = app.login_manager._session_identifier_generator()
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
        session["_id"] = identifier
        session.permanent = True


def page_csrf(client, url: str = "/login") -> str:
    return csrf_from(client.get(url).get_data(as_text=True))


@pytest.fixture
def inline(app, monkeypatch):
    """Embedded mode's default: service tasks run inside the step that reaches them (no job row on success)."""
    monkeypatch.setitem(app.config, "SERVICE_TASKS_INLINE", True)


@pytest.fixture
def make_user():
    return factories.make_user


def require_service(name: str, reachable: bool, why: str) -> None:
    """Skip on a bare machine, but fail under CI=true: CI must prove the real service works."""
    if reachable:
        return
    if IN_CI:
        pytest.fail(f"{name} is unreachable under CI=true: {why}")
    pytest.skip(f"{name} unreachable: {why}")


@pytest.fixture
def admin(app, client, make_user):
    """An administrator signed in on `client`, with the test's rows so far committed (to its savepoint)."""
    user = make_user("admin")
    db.session.commit()
    login_as(app, client, user)
    return user
