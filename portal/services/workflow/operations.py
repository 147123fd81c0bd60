"""Handlers of the workflow operations (workflows/operations.py names them by dotted path)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from portal.errors import ValidationError
from portal.extensions import db
from portal.models import HistoryEvent
from portal.money import D
from portal.services.masterdata import fx


@dataclass(frozen=True)
class OperationContext:
    """What a handler knows about the call: which instance and element, and the idempotency key."""

    instance_id: int
    business_key: str
    element_id: str
    idempotency_key: str
    attempt: int


def convert_to_base(params: dict, context: OperationContext) -> dict:
    """fx.convert: amount in currency on a date → base amount with the rate used and its source."""
    on = params.get("on")
    if isinstance(on, str):
        try:
            on = date.fromisoformat(on)
        except ValueError as exc:
            raise ValidationError("on", f"not a date: {on!r}") from exc
    if not isinstance(on, date):
        raise ValidationError("on", "give the date the amount belongs to")
    result = fx.to_base(D(params.get("amount")), str(params.get("currency", "")).upper(), on)
    return {"base_amount": result.amount, "rate": result.rate, "rate_date": result.rate_date,
            "rate_source": result.source}


def history_note(params: dict, context: OperationContext) -> dict:
    """history.note: a line in the instance history."""
    text = str(params.get("text") or "").strip()
    if not text:
        raise ValidationError("text", "the note is empty")
    # Every column given, like runtime.history's rows, so the step's history goes out in one INSERT.
    db.session.add(HistoryEvent(instance_id=context.instance_id, kind="note", element_id=context.element_id,
                                actor="", details={"text": text}))
    return {}
