"""Background jobs: named RQ queues, enqueueing, and running in-process when REDIS_URL is unset."""

from __future__ import annotations

import functools
from contextvars import ContextVar

from flask import current_app, has_app_context
from redis import Redis
from rq import Queue

from portal.extensions import db

# Every queue, in priority order: workers listen to all of them in this order.
QUEUES = ("workflow", "notifications", "billing", "integrations", "exports")

_worker_app = None
_inline: ContextVar[bool] = ContextVar("inline_job", default=False)


def redis_connection(url: str | None = None) -> Redis:
    return Redis.from_url(url or current_app.config["REDIS_URL"])


def enqueue(func, *args, queue: str = "workflow", **options):
    """Queue `func(*args)` on RQ, or run it now in this process when no Redis is configured."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; queues are {', '.join(QUEUES)}")
    if not current_app.config.get("REDIS_URL"):
        token = _inline.set(True)
        try:
            return InlineJob(func(*args))
        finally:
            _inline.reset(token)
    return Queue(queue, connection=redis_connection()).enqueue(func, *args, **options)


class InlineJob:
    """What enqueue returns in embedded mode: the job already ran."""

    def __init__(self, result):
        self.return_value = lambda: result
        self.result = result

    def get_status(self) -> str:
        return "finished"


def job(func):
    """Make a job function an edge: on a worker it runs in its own app context and commits.

    Run inline by enqueue (embedded mode) it joins the caller's transaction instead.
    """

    @functools.wraps(func)
    def run(*args, **kwargs):
        if _inline.get():
            return func(*args, **kwargs)
        app = current_app._get_current_object() if has_app_context() else _app_for_worker()
        with app.app_context():
            try:
                result = func(*args, **kwargs)
                db.session.commit()
                return result
            except Exception:
                db.session.rollback()
                raise

    return run


def _app_for_worker():
    global _worker_app
    if _worker_app is None:
        from portal import create_app  # a plain `rq worker` process builds its app lazily

        _worker_app = create_app()
    return _worker_app
