"""Receivables: gapless document numbers per kind and year (INV-2026-000123, CN-..., DN-...)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from portal.errors import ValidationError
from portal.extensions import db
from portal.models import DocumentSequence

PREFIXES = {"invoice": "INV", "credit_note": "CN", "due_note": "DN"}
FIRST_YEAR, LAST_YEAR = 2000, 9999


def next_number(kind: str, year: int) -> str:
    """The next number of the kind's sequence for the year, taken inside the caller's transaction.

    The UPDATE locks the sequence's row until that transaction ends, so concurrent issues queue up; one that rolls
    back gives its number back to the next.
    """
    prefix = _prefix(kind)
    if not isinstance(year, int) or isinstance(year, bool) or not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValidationError("year", f"must be a year from {FIRST_YEAR} to {LAST_YEAR}")
    number = _increment(kind, year)
    if number is None:
        number = _first(kind, year)
    return f"{prefix}-{year}-{number:06d}"


def _prefix(kind: str) -> str:
    try:
        return PREFIXES[kind]
    except KeyError:
        raise ValidationError("kind", f"must be one of {', '.join(PREFIXES)}") from None


def _increment(kind: str, year: int) -> int | None:
    statement = (update(DocumentSequence)
                 .where(DocumentSequence.kind == kind, DocumentSequence.year == year)
                 .values(last_number=DocumentSequence.last_number + 1)
                 .returning(DocumentSequence.last_number))
    return db.session.execute(statement, execution_options={"synchronize_session": False}).scalar()


def _first(kind: str, year: int) -> int:
    """The year's first number; when another transaction created the row meanwhile, the next after its."""
    try:
        with db.session.begin_nested():
            db.session.add(DocumentSequence(kind=kind, year=year, last_number=1))
        return 1
    except IntegrityError:
        return _increment(kind, year)
