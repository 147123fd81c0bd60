"""Allocating payments to invoices and due notes (partial, many-to-many) with realized FX, and unreconciling."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from portal.errors import Conflict, ValidationError
from portal.extensions import db
from portal.models import Allocation, Payment, ReceivableDocument
from portal.models.receivables import CANCELLED, CREDIT_NOTE
from portal.money import D, parse, quantize
from portal.services.masterdata import fx
from portal.services.receivables import invoicing


def allocate(payment: Payment, document: ReceivableDocument, amount, allocated_by: str, *,
             reason: str = "manual", on: date | None = None) -> Allocation:
    """Apply part of a payment to an open document of the same customer and currency; records realized FX."""
    payment, document = _locked(payment, document)
    value = parse(amount, "amount", document.currency, positive=True)
    _check(payment, document, value)
    base = fx.base_currency()
    allocation = Allocation(payment=payment, document=document, amount=value, base_currency=base,
                            realized_fx=realized_fx(value, payment.fx_rate, document.fx_rate, base),
                            allocated_on=on or invoicing.today(), reason=reason[:200], created_by=allocated_by)
    _apply(allocation, value)
    db.session.add(allocation)
    db.session.flush()
    return allocation


def realized_fx(amount, payment_rate, document_rate, base: str):
    """Gain (positive) or loss in the base currency: amount × (payment rate − document rate)."""
    return quantize(D(amount) * (D(payment_rate) - D(document_rate)), base)


def _locked(payment: Payment, document: ReceivableDocument) -> tuple[Payment, ReceivableDocument]:
    """Both rows locked and read again, so two allocations at once cannot both take the last open amount."""
    payment = db.session.scalar(select(Payment).where(Payment.id == payment.id).with_for_update()
                                .execution_options(populate_existing=True))
    document = db.session.scalar(select(ReceivableDocument).where(ReceivableDocument.id == document.id)
                                 .with_for_update().execution_options(populate_existing=True))
    return payment, document


def _check(payment: Payment, document: ReceivableDocument, value) -> None:
    if document.number is None or document.kind == CREDIT_NOTE or document.state == CANCELLED:
        raise ValidationError("document", f"{document} is not an open invoice or due note")
    if payment.customer_id is None:
        raise ValidationError("payment", f"payment {payment.id} has no customer yet; assign it first")
    if payment.customer_id != document.customer_id:
        raise ValidationError("document", f"{document.number} belongs to another customer than payment {payment.id}")
    if payment.currency != document.currency:
        raise ValidationError("document", f"{document.number} is in {document.currency}, payment {payment.id} in "
                                          f"{payment.currency}")
    if value > document.open_amount:
        raise ValidationError("amount", f"{document.number} has {document.open_amount} {document.currency} open")
    if value > payment.unapplied:
        raise ValidationError("amount", f"payment {payment.id} has {payment.unapplied} {payment.currency} unapplied")


def _apply(allocation: Allocation, value) -> None:
    allocation.payment.allocated_total = allocation.payment.allocated_total + value
    allocation.document.allocated_total = allocation.document.allocated_total + value
    invoicing.refresh_state(allocation.document)


def unallocate(allocation: Allocation, by: str, on: date | None = None) -> Allocation:
    """Reverse an allocation: a new row with the opposite amount and FX; the original stays in the history."""
    if allocation.reverses_id is not None:
        raise Conflict(f"allocation {allocation.id} is itself a reversal")
    if db.session.scalar(select(Allocation.id).where(Allocation.reverses_id == allocation.id)) is not None:
        raise Conflict(f"allocation {allocation.id} is already reversed")
    _locked(allocation.payment, allocation.document)
    reversal = Allocation(payment=allocation.payment, document=allocation.document, amount=-allocation.amount,
                          base_currency=allocation.base_currency, realized_fx=-allocation.realized_fx,
                          allocated_on=on or invoicing.today(), reverses=allocation, reason="unreconciled",
                          created_by=by)
    _apply(reversal, -allocation.amount)
    db.session.add(reversal)
    db.session.flush()
    return reversal


def live(document_or_payment) -> list[Allocation]:
    """The allocations of a document or payment that are not reversed (and not reversals)."""
    rows = document_or_payment.allocations
    reversed_ids = {row.reverses_id for row in rows if row.reverses_id is not None}
    return [row for row in rows if row.reverses_id is None and row.id not in reversed_ids]
