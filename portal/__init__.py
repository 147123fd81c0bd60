"""Ledgerflow finance portal: create_app wires configuration, extensions, blueprints and the admin."""

from __future__ import annotations

import logging

from flask import Flask

from portal.config import build_config
from portal.extensions import csrf, db, limiter, login_manager, migrate, vault


def create_app(config: dict | None = None) -> Flask:
    """Build an app; `config` overrides the defaults and the environment (tests pass a mapping)."""
    app = Flask(__name__, instance_relative_config=True, template_folder="../templates", static_folder=None)
    app.config.update(build_config(app.instance_path, config))
    _init_extensions(app)
    _register_operations()
    _register_edges(app)
    logging.getLogger(__name__).debug("app created for %s", app.config["LEDGERFLOW_ENV"])
    return app


def _init_extensions(app: Flask) -> None:
    from portal import models  # noqa: F401  (register the tables on the metadata)
    from portal.infra import audit
    from portal.models.types import compare_column_types

    db.init_app(app)
    migrate.init_app(app, db, directory=_migrations_dir(), render_as_batch=True,
                     compare_type=compare_column_types)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    vault.init_app(app)
    audit.install()
    from portal.jobs import install_dispatch

    install_dispatch()
    _sqlite_settings(app)


def _register_operations() -> None:
    from portal.services.handlers import register_all

    register_all()


def _register_edges(app: Flask) -> None:
    from admin import init_admin
    from portal import cli
    from portal.web import init_web

    init_web(app)
    init_admin(app)
    cli.init_cli(app)


def _migrations_dir() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent / "migrations")


def _sqlite_settings(app: Flask) -> None:
    """SQLite needs per-connection settings for foreign keys and for real transactions/SAVEPOINTs."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not event.contains(Engine, "connect", _sqlite_connect):
        event.listen(Engine, "connect", _sqlite_connect)
        event.listen(Engine, "begin", _sqlite_begin)


def _sqlite_connect(dbapi_connection, connection_record) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        # Let SQLAlchemy, not pysqlite, emit BEGIN, so SAVEPOINT and rollback behave (SQLAlchemy's pysqlite recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def _sqlite_begin(connection) -> None:
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN")
