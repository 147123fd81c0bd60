"""Real PostgreSQL and Redis for tests: throwaway databases, reachability checks."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.support.paths import ROOT

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_service(name: str, reachable: bool, why: str) -> None:
    """Skip on a bare machine, but fail under CI=true: CI must prove the real service works."""
    if reachable:
        return
    if IN_CI:
        pytest.fail(f"{name} is unreachable under CI=true: {why}")
    pytest.skip(f"{name} unreachable: {why}")


def _libpq(url) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def postgres_reachable() -> tuple[bool, str]:
    try:
        with psycopg.connect(_libpq(make_url(POSTGRES_URL)), connect_timeout=3):
            return True, ""
    except psycopg.Error as exc:
        return False, str(exc).strip()


def redis_reachable() -> tuple[bool, str]:
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
        return True, ""
    except RedisError as exc:
        return False, str(exc)


@contextlib.contextmanager
def fresh_postgres_database():
    """Create an empty database, yield its SQLAlchemy URL, drop it afterwards."""
    base = make_url(POSTGRES_URL)
    name = f"ledgerflow_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_libpq(base), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq(base), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


FLASK = str(Path(sys.executable).with_name("flask"))


def flask_env(database_url: str, redis_url: str | None = None) -> dict:
    """The environment an operator would set for a `flask` command or a worker."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "SECRET_KEY")}
    env.update(LEDGERFLOW_ENV="testing", SECRET_KEY="test-secret-key-0123456789abcdef", DATABASE_URL=database_url)
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def flask_command(*args, database_url: str, redis_url: str | None = None, timeout: int = 120):
    """Run `flask --app wsgi ...` in a child process and wait for it."""
    return subprocess.run([FLASK, "--app", "wsgi", *args], cwd=ROOT, env=flask_env(database_url, redis_url),
                          capture_output=True, text=True, timeout=timeout, check=False)


def flask_process(*args, database_url: str, redis_url: str | None = None) -> subprocess.Popen:
    """Start `flask --app wsgi ...` in the background (a worker, a server)."""
    return subprocess.Popen([FLASK, "--app", "wsgi", *args], cwd=ROOT, env=flask_env(database_url, redis_url),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
