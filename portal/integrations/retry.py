"""Retrying calls to outside systems: one backoff policy for all; the loop for SMTP and SFTP (HTTP: http.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff between attempts, never shorter than a (capped) Retry-After."""

    attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_retry_after: float = 120.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return backoff if retry_after is None else max(backoff, min(retry_after, self.max_retry_after))


class Transient(Exception):
    """A failure worth retrying (SMTP, SFTP); carries the server's Retry-After (seconds) or reply code when known."""

    def __init__(self, reason: str, *, retry_after: float | None = None, code: int | None = None):
        super().__init__(reason)
        self.retry_after = retry_after
        self.code = code


def retrying(attempt_once: Callable[[], T], *, what: str, policy: RetryPolicy, sleep: Callable[[float], Any],
             give_up: Callable[[int, Transient], Exception]) -> T:
    """Call until it succeeds or the attempts run out; then raise what `give_up(attempts, last)` builds."""
    for attempt in range(1, policy.attempts + 1):
        try:
            return attempt_once()
        except Transient as exc:
            if attempt == policy.attempts:
                raise give_up(attempt, exc) from exc
            delay = policy.delay(attempt, exc.retry_after)
            log.warning("%s attempt %d failed (%s); retrying in %.1fs", what, attempt, exc, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover - attempts >= 1


def utcnow() -> datetime:
    """Now in UTC, naive (how the portal stores times)."""
    return datetime.now(UTC).replace(tzinfo=None)
