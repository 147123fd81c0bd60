"""Receivables jobs: the daily sweep that marks documents overdue once their due date has passed."""

from portal.jobs import job
from portal.services.receivables import invoicing


@job
def mark_overdue() -> dict:
    """Documents past their due date and still open become overdue."""
    return {"overdue": invoicing.mark_overdue()}
