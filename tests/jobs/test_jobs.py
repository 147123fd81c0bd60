"""Background jobs: in-process without Redis; through real Redis and a real `flask worker` process otherwise."""

from __future__ import annotations

import pytest
from redis import Redis
from rq import Queue

from portal import create_app
from portal.jobs import QUEUES, enqueue
from portal.jobs.system import check_database
from tests.support.app import app_config
from tests.support.servers import (
    REDIS_URL,
    flask_command,
    flask_process,
    fresh_postgres_database,
    postgres_reachable,
    redis_reachable,
    require_service,
)


def test_embedded_mode_runs_jobs_in_process(app, database):
    with app.app_context():
        job = enqueue(check_database, queue="workflow")
    assert job.get_status() == "finished"
    assert job.return_value()["database"] == database  # ran here, on this test's database


def test_unknown_queue_is_refused(app):
    with app.app_context(), pytest.raises(ValueError, match="unknown queue"):
        enqueue(check_database, queue="nope")


@pytest.fixture
def redis_and_postgres():
    require_service("Redis", *redis_reachable())
    require_service("PostgreSQL", *postgres_reachable())
    Redis.from_url(REDIS_URL).flushdb()  # database 15 belongs to the tests
    with fresh_postgres_database() as url:
        assert flask_command("db", "upgrade", database_url=url).returncode == 0
        assert flask_command("demo", "seed", database_url=url).returncode == 0
        yield url
    Redis.from_url(REDIS_URL).flushdb()


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.no_db
def test_a_real_worker_process_runs_queued_jobs_against_the_database(redis_and_postgres):
    producer = create_app(app_config(SQLALCHEMY_DATABASE_URI=redis_and_postgres, SQLALCHEMY_ENGINE_OPTIONS={},
                                      REDIS_URL=REDIS_URL))
    with producer.app_context():
        jobs = [enqueue(check_database, queue=queue) for queue in QUEUES]
    assert all(job.get_status() == "queued" for job in jobs)

    worker = flask_command("worker", "--burst", database_url=redis_and_postgres, redis_url=REDIS_URL)
    assert worker.returncode == 0, worker.stderr

    for job in jobs:
        job.refresh()
        assert job.get_status() == "finished", job.latest_result()
        result = job.return_value()
        assert result["database"] == "postgresql" and result["users"] == 12  # 9 staff + 3 customer demo users


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.no_db
def test_jobs_check_command_waits_for_a_worker(redis_and_postgres):
    worker = flask_process("worker", database_url=redis_and_postgres, redis_url=REDIS_URL)
    try:
        check = flask_command("jobs", "check", "--timeout", "60", database_url=redis_and_postgres, redis_url=REDIS_URL)
        assert check.returncode == 0, check.stderr
        assert "'database': 'postgresql'" in check.stdout
    finally:
        worker.terminate()
        worker.wait(timeout=30)


@pytest.mark.redis
@pytest.mark.no_db
def test_jobs_check_fails_clearly_without_a_worker():
    require_service("Redis", *redis_reachable())
    Redis.from_url(REDIS_URL).flushdb()
    check = flask_command("jobs", "check", "--timeout", "1", database_url="sqlite://", redis_url=REDIS_URL)
    assert check.returncode != 0
    assert "no worker finished the job within 1s" in check.stderr
    assert Queue("workflow", connection=Redis.from_url(REDIS_URL)).count == 1
    Redis.from_url(REDIS_URL).flushdb()
