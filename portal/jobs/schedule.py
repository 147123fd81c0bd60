"""Periodic jobs, in one list, and the loop that runs them (`flask scheduler`).

What is due lives in the database (timers, retries), so a late or restarted scheduler catches up by
state, and several schedulers on several hosts do not double-fire (row locks and state checks).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from portal.jobs import resolve

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Periodic:
    name: str
    job: str  # dotted path of a @job function
    every_seconds: int


PERIODIC = (
    Periodic("workflow sweep: due timers and retries", "portal.jobs.workflow.sweep", 10),
    # The ECB publishes once a working day around 16:00 CET, the Bank of Russia once a day: hourly catches both.
    Periodic("exchange rates from RATE_FEEDS", "portal.jobs.rates.fetch", 3600),
    Periodic("receivables: documents past their due date become overdue", "portal.jobs.receivables.mark_overdue",
             3600),
)


def run_due(last_run: dict[str, float], now: float) -> list[str]:
    """Run every periodic job whose interval has passed; returns the names that ran."""
    ran = []
    for periodic in PERIODIC:
        if now - last_run.get(periodic.name, 0) >= periodic.every_seconds:
            last_run[periodic.name] = now
            try:
                resolve(periodic.job)()
                ran.append(periodic.name)
            except Exception:  # a failing periodic job must not stop the others
                log.exception("periodic job %s failed", periodic.name)
    return ran


def loop(stop_after: float | None = None, tick_seconds: float = 1.0) -> None:
    """Run the periodic jobs forever (or for `stop_after` seconds)."""
    started, last_run = time.monotonic(), {}
    while stop_after is None or time.monotonic() - started < stop_after:
        run_due(last_run, time.monotonic())
        time.sleep(tick_seconds)
