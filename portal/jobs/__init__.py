"""Background jobs: named RQ queues; jobs deferred by services run after the commit (RQ or in-process)."""

from __future__ import annotations

import functools
import importlib

from flask import current_app, has_app_context
from redis import Redis
from rq import Queue
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.infra import outbox, unit_of_work

# Every queue, in priority order: workers listen to all of them in this order.
QUEUES = ("workflow", "notifications", "billing", "integrations", "exports")

_worker_app = None


def redis_connection(url: str | None = None) -> Redis:
    """One client (and connection pool) per URL and app: a new client per job would connect every time."""
    url = url or current_app.config["REDIS_URL"]
    clients = current_app.extensions.setdefault("ledgerflow_redis", {})
    if url not in clients:
        clients[url] = Redis.from_url(url)
    return clients[url]


def enqueue(func, *args, queue: str = "workflow", **options):
    """Queue `func(*args)` on RQ, or run it now in this process when no Redis is configured."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; queues are {', '.join(QUEUES)}")
    if not current_app.config.get("REDIS_URL"):
        return InlineJob(resolve(func)(*args) if isinstance(func, str) else func(*args))
    return Queue(queue, connection=redis_connection()).enqueue(func, *args, **options)


class InlineJob:
    """What enqueue returns in embedded mode: the job already ran."""

    def __init__(self, result):
        self.return_value = lambda: result
        self.result = result

    def get_status(self) -> str:
        return "finished"


def job(func):
    """Make a job function an edge: it runs in its own app context (own session) and commits at the end."""

    @functools.wraps(func)
    def run(*args, **kwargs):
        app = current_app._get_current_object() if has_app_context() else _app_for_worker()
        with app.app_context():
            return unit_of_work.run(func, *args, **kwargs)

    return run


def install_dispatch() -> None:
    """Dispatch deferred jobs after each commit; forget them on rollback (idempotent)."""
    if not event.contains(Session, "after_commit", _dispatch):
        event.listen(Session, "after_commit", _dispatch)
        event.listen(Session, "after_soft_rollback", _forget)


def _dispatch(session) -> None:
    # SQLAlchemy fires after_commit for a released SAVEPOINT too; only the real commit starts jobs.
    if session.in_nested_transaction():
        return
    for job_path, args, queue in outbox.take(session):
        enqueue(job_path, *args, queue=queue)


def _forget(session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # only a real rollback, not a savepoint's
        outbox.take(session)


def resolve(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _app_for_worker():
    global _worker_app
    if _worker_app is None:
        from portal import create_app  # a plain `rq worker` process builds its app lazily

        _worker_app = create_app()
    return _worker_app
