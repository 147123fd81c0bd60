"""Jobs a use case asks for, kept on the session and dispatched only after the edge commits.

A worker must never see a half-written transaction, and a rolled-back use case must start nothing.
"""

from __future__ import annotations

from portal.extensions import db

KEY = "ledgerflow_outbox"


def defer(job_path: str, *args, queue: str = "workflow") -> None:
    """Run `job_path(*args)` (a dotted path in portal.jobs) once the current transaction commits."""
    db.session.info.setdefault(KEY, []).append((job_path, args, queue))


def take(session) -> list[tuple[str, tuple, str]]:
    """Remove and return what the session has deferred."""
    return session.info.pop(KEY, [])
