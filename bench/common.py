"""Shared by the benchmarks: a scratch PostgreSQL database and an app bound to it."""

from __future__ import annotations

import os
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECRET = "bench-secret-key-0123456789abcdef"


@contextmanager
def scratch_database():
    """A new empty PostgreSQL database, dropped afterwards."""
    base = make_url(POSTGRES)
    name = f"ledgerflow_bench_{uuid.uuid4().hex[:8]}"
    libpq = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_app(url: str, redis_url: str | None = None):
    from portal import create_app

    return create_app({"LEDGERFLOW_ENV": "testing", "SECRET_KEY": SECRET, "SQLALCHEMY_DATABASE_URI": url,
                       "REDIS_URL": redis_url, "RATELIMIT_STORAGE_URI": "memory://"})
