"""Figures for the staff dashboard."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, or_, select

from portal.extensions import db
from portal.models import AuditEvent, Contract, Customer, ExchangeRate, Project


def master_data_summary(today: date | None = None) -> dict:
    """Counts of the master data and the newest exchange-rate date."""
    today = today or date.today()
    active = or_(Contract.valid_to.is_(None), Contract.valid_to >= today)
    return {
        "customers": db.session.scalar(select(func.count(Customer.id)).where(Customer.active.is_(True))),
        "contracts": db.session.scalar(select(func.count(Contract.id)).where(Contract.valid_from <= today, active)),
        "projects": db.session.scalar(select(func.count(Project.id))),
        "latest_rate_date": db.session.scalar(select(func.max(ExchangeRate.rate_date))),
    }


def recent_changes(limit: int = 8) -> list[AuditEvent]:
    """The newest audit events."""
    return list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)))
