"""The one unit of work: what a use case changed commits together, or nothing does.

Every edge (site view, admin action, CLI command, job) runs its use case inside `unit_of_work()`; services never
commit. Jobs the use case deferred through the outbox start only after the real commit (portal.jobs listens for
the session's after_commit) and are dropped on rollback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from portal.extensions import db


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """Commit when the block ends; on any exception roll back and let it propagate."""
    try:
        yield db.session
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def run(use_case, *args, **kwargs):
    """Run `use_case(*args, **kwargs)` as one unit of work and return its result."""
    with unit_of_work():
        return use_case(*args, **kwargs)
