"""The portal's one registry of workflow operations, the @operation decorator that fills it, and the built-in
handlers (fx.convert, history.note); billing's handlers register themselves in their own modules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from portal.errors import ValidationError
from portal.extensions import db
from portal.models import HistoryEvent
from portal.money import D
from portal.services.masterdata import fx
from workflows.operations import Handler, Operation, Parameter, Registry

# Filled as handler modules are imported; portal.services.handlers.register_all() imports every one of them.
REGISTRY = Registry()


@dataclass(frozen=True)
class OperationContext:
    """What a handler knows about the call: which instance and element, and the idempotency key."""

    instance_id: int
    business_key: str
    element_id: str
    idempotency_key: str
    attempt: int


def operation(*, topic: str, label: str, description: str, **options: Any):
    """Register the decorated function as the handler of `topic`; `options` are the other Operation fields
    (inputs, outputs, max_attempts, backoff_seconds, queue, savepoint)."""

    def register(handler: Handler) -> Handler:
        REGISTRY.add(Operation(topic=topic, label=label, description=description, handler=handler, **options))
        return handler

    return register


def get(topic: str) -> Operation:
    """The registered operation of a topic; KeyError names an unknown one."""
    return REGISTRY.get(topic)


def queue_of(topic: str) -> str:
    """The RQ queue a topic's jobs go to (the default queue for an unknown topic)."""
    return REGISTRY.queue_of(topic)


def topics() -> set[str]:
    """Every registered topic: what a deployed diagram may name."""
    return REGISTRY.topics()


def element_templates() -> list[dict]:
    """The registered operations as Camunda element templates for the BPMN editor."""
    return REGISTRY.element_templates()


@operation(
    topic="fx.convert",
    label="Convert an amount to the base currency",
    description="Looks up the last exchange rate on or before the date and converts the amount.",
    inputs=(Parameter("amount", "Amount", "${amount}"), Parameter("currency", "Currency", "${currency}"),
            Parameter("on", "Date (YYYY-MM-DD)", "${on}")),
    outputs=("base_amount", "rate", "rate_date", "rate_source"),
)
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


@operation(
    topic="history.note",
    label="Write a note in the instance history",
    description="Records a line in the instance's history, e.g. to mark a milestone for auditors.",
    inputs=(Parameter("text", "Text", "Milestone reached"),),
    max_attempts=1,
    savepoint=False,
)
def history_note(params: dict, context: OperationContext) -> dict:
    """history.note: a line in the instance history."""
    text = str(params.get("text") or "").strip()
    if not text:
        raise ValidationError("text", "the note is empty")
    # Every column given, like runtime.history's rows, so the step's history goes out in one INSERT.
    db.session.add(HistoryEvent(instance_id=context.instance_id, kind="note", element_id=context.element_id,
                                actor="", details={"text": text}))
    return {}
