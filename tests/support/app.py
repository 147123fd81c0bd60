"""The app under test: its settings, a client like a browser, one migrated app per database, the rolled-back test."""

from __future__ import annotations

import contextlib

from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy.pool import StaticPool

from portal import create_app
from portal.extensions import db
from tests.support.servers import fresh_postgres_database, postgres_reachable, require_service

SECRET = "test-secret-key-0123456789abcdef"
# The databases the service and web tests run on; the `database` fixture takes each in turn.
DATABASES = ("sqlite", "postgresql")


def app_config(**overrides) -> dict:
    """Settings of a test app: in-memory SQLite shared by all threads, no Redis, jobs after the commit."""
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


class Apps:
    """One migrated app per database, built on first use; close() drops the PostgreSQL database."""

    def __init__(self) -> None:
        self._apps: dict[str, object] = {}
        self._cleanup = contextlib.ExitStack()

    def get(self, database: str):
        """The app on `database` ("sqlite" or "postgresql"), migrated from empty the first time."""
        if database not in self._apps:
            self._apps[database] = self._build(database)
        return self._apps[database]

    def close(self) -> None:
        """Release every connection and drop the throwaway PostgreSQL database."""
        self._cleanup.close()

    def _build(self, database: str):
        if database == "postgresql":
            require_service("PostgreSQL", *postgres_reachable())
            # A database of its own per run: engineers and CI jobs may share the server.
            url = self._cleanup.enter_context(fresh_postgres_database())
            app = create_app(app_config(SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS={}))
        else:
            app = create_app(app_config())
        app.test_client_class = FreshContextClient
        with app.app_context():
            upgrade()
        self._cleanup.callback(_dispose, app)
        return app


def _dispose(app) -> None:
    with app.app_context():
        db.engine.dispose()


@contextlib.contextmanager
def rolled_back(app):
    """SQLAlchemy's "join a session into an external transaction": the test's sessions, and each request's,
    work in SAVEPOINTs of one outer transaction on one connection, rolled back at the end."""
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        db.session.remove()
        db.session.configure(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield connection
        finally:
            db.session.remove()
            db.session.configure(bind=None, join_transaction_mode="conditional_savepoint")  # the default
            outer.rollback()
            connection.close()
