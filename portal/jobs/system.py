"""Operational jobs."""

from portal.infra import system
from portal.jobs import job


@job
def check_database() -> dict:
    """Run on a worker: proves the worker is alive, has the app and reaches the database."""
    return system.check_database()
