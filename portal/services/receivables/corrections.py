"""Corrections of issued documents: credit notes (partial or full), cancellation, due notes and adjustments."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from portal.errors import Conflict, ValidationError
from portal.extensions import db
from portal.models import Adjustment, CreditNote, Customer, DueNote, ReceivableDocument
from portal.models.receivables import CANCELLED, CREDIT, CREDIT_NOTE, DEBIT, DUE_NOTE
from portal.money import ZERO, parse, quantize
from portal.services.masterdata import fx
from portal.services.receivables import invoicing, posting
from portal.services.receivables.invoicing import LineInput


def credit_note(target: ReceivableDocument, lines: list[LineInput], reason: str, issued_by: str,
                on: date | None = None) -> CreditNote:
    """Issue a credit note for part or all of an issued invoice or due note; it has its own CN- sequence."""
    return invoicing.issue(_credit_draft(target, lines, reason, issued_by, on), issued_by)


def _credit_draft(target: ReceivableDocument, lines: list[LineInput], reason: str, issued_by: str,
                  on: date | None) -> CreditNote:
    _creditable(target)
    if not (reason or "").strip():
        raise ValidationError("reason", "say why the document is credited")
    note = invoicing.create_draft(CREDIT_NOTE, target.customer, target.currency, lines,
                                  issue_date=on or invoicing.today(), created_by=issued_by, contract=target.contract,
                                  corrects=target, reason=reason, buyer_reference=target.buyer_reference)
    note.due_date = note.issue_date
    return note


def cancel(target: ReceivableDocument, reason: str, cancelled_by: str, on: date | None = None) -> CreditNote:
    """Cancel an issued invoice: it keeps its number and a credit note reverses what is not credited yet."""
    if target.allocated_total > 0:
        raise Conflict(f"{target.number} has payments allocated; unreconcile them before cancelling")
    remainder = _remainder(target)
    note = _credit_draft(target, [line for line, _tax in remainder], reason or "Cancelled", cancelled_by, on)
    for line, (_input, tax) in zip(note.lines, remainder, strict=True):
        if tax is not None:  # the tax not credited yet, exactly: per-line rounding must not leave a cent open
            line.tax_amount = tax
    note.tax_total = sum((line.tax_amount for line in note.lines), ZERO)
    note.gross_total = note.net_total + note.tax_total
    return invoicing.issue(note, cancelled_by)


def _creditable(target: ReceivableDocument) -> None:
    if target.number is None or target.kind == CREDIT_NOTE:
        raise ValidationError("document", "only an issued invoice or due note can be credited")
    if target.state == CANCELLED:
        raise Conflict(f"{target.number} is cancelled")


def _remainder(target: ReceivableDocument) -> list[tuple[LineInput, object]]:
    """Lines crediting what is not credited yet: the document's own lines if nothing is, else one per tax rate
    with the net and the tax still uncredited at that rate."""
    credited = [n for n in target.corrections if n.number is not None]
    if not credited:
        return [(LineInput(line.description, line.quantity, line.unit_price, line.tax_rate, line.unit), None)
                for line in target.lines]
    net, tax = defaultdict(lambda: ZERO), defaultdict(lambda: ZERO)
    for sign, lines in [(1, target.lines)] + [(-1, note.lines) for note in credited]:
        for line in lines:
            net[line.tax_rate] += sign * line.net_amount
            tax[line.tax_rate] += sign * line.tax_amount
    # A rate credited beyond the document's own lines gives a negative line, so the lines add up to the remainder.
    return [(LineInput(f"Remainder of {target.number} at {rate.normalize()} % tax", "1",
                       quantize(amount, target.currency), rate), tax[rate])
            for rate, amount in sorted(net.items()) if amount or tax[rate]]


def due_note(customer: Customer, currency: str, lines: list[LineInput], reason: str, issued_by: str,
             on: date | None = None, contract=None, corrects: ReceivableDocument | None = None) -> DueNote:
    """Issue a due note (a debit note for an extra charge, e.g. a late fee), payable like an invoice."""
    if not (reason or "").strip():
        raise ValidationError("reason", "say what the charge is for")
    note = invoicing.create_draft(DUE_NOTE, customer, currency, lines, issue_date=on or invoicing.today(),
                                  created_by=issued_by, contract=contract, reason=reason)
    note.corrects = corrects
    return invoicing.issue(note, issued_by)


def adjust(customer: Customer, currency: str, side: str, amount, reason: str, adjusted_by: str,
           on: date | None = None) -> Adjustment:
    """A manual debit or credit on the customer's account, with its reason; posted to the ledger at once."""
    if side not in (DEBIT, CREDIT):
        raise ValidationError("side", "must be debit or credit")
    if not (reason or "").strip():
        raise ValidationError("reason", "say why the account is adjusted")
    currency = invoicing.check_currency(currency)
    value = parse(amount, "amount", currency, positive=True)
    entry_date = on or invoicing.today()
    conversion = fx.to_base(value, currency, entry_date)
    adjustment = Adjustment(customer_id=customer.id, side=side, currency=currency, amount=value,
                            entry_date=entry_date, reason=reason.strip(), created_by=adjusted_by,
                            base_amount=conversion.amount, fx_rate=conversion.rate,
                            fx_rate_date=conversion.rate_date, fx_source=conversion.source)
    db.session.add(adjustment)
    db.session.flush()
    posting.post(posting.Posting(
        customer_id=customer.id, currency=currency, entry_date=entry_date, kind="adjustment", amount=value,
        side=side, conversion=conversion, reference=f"ADJ-{adjustment.id}", narration=adjustment.reason,
        posted_by=adjusted_by, adjustment_id=adjustment.id))
    return adjustment
