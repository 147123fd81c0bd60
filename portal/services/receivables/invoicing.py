"""Invoices, credit notes and due notes: drafts with lines, issuing (number, FX, ledger), states from amounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from iso4217 import Currency
from sqlalchemy import select

from portal.errors import Conflict, NotFound, ValidationError
from portal.extensions import db
from portal.models import CreditNote, Customer, DocumentLine, DueNote, Invoice, ReceivableDocument
from portal.models.receivables import (
    CANCELLED,
    CREDIT_NOTE,
    DRAFT,
    DUE_NOTE,
    INVOICE,
    ISSUED,
    OVERDUE,
    PAID,
    PARTIALLY_PAID,
)
from portal.models.types import utcnow
from portal.money import ZERO, parse
from portal.services.billing.drafting import price_lines
from portal.services.masterdata import fx
from portal.services.receivables import numbering, posting, rendering

CLASSES = {INVOICE: Invoice, CREDIT_NOTE: CreditNote, DUE_NOTE: DueNote}
DEFAULT_TERMS_DAYS = 30
UNITS = ("C62", "E48", "HUR", "DAY", "MON", "ANN")  # UN/ECE rec. 20: one, service unit, hour, day, month, year


@dataclass(frozen=True)
class LineInput:
    """A line as typed (strings or Decimals); checked and priced when the draft is made."""

    description: str
    quantity: object
    unit_price: object
    tax_rate: object = "0"
    unit: str = "C62"
    source_ref: str = ""


def today() -> date:
    return utcnow().date()


def create_draft(kind: str, customer: Customer, currency: str, lines: list[LineInput], *, issue_date: date,
                 created_by: str, contract=None, corrects: ReceivableDocument | None = None,
                 due_date: date | None = None, reason: str = "", notes: str = "",
                 buyer_reference: str = "") -> ReceivableDocument:
    """A draft document of `kind` with its priced lines; nothing is numbered or posted until it is issued."""
    if kind not in CLASSES:
        raise ValidationError("kind", f"must be one of {', '.join(CLASSES)}")
    if not lines:
        raise ValidationError("lines", "add at least one line")
    terms = contract.payment_terms_days if contract is not None else DEFAULT_TERMS_DAYS
    document = CLASSES[kind](
        customer=customer, customer_id=customer.id, contract=contract, currency=check_currency(currency),
        issue_date=issue_date, due_date=due_date or issue_date + timedelta(days=terms), corrects=corrects,
        tax_rule=contract.tax_rule if contract is not None else "standard", reason=_text(reason, "reason", 2000),
        notes=_text(notes, "notes", 2000), created_by=created_by, state=DRAFT,
        buyer_reference=_text(buyer_reference or (contract.buyer_reference if contract is not None else ""),
                              "buyer reference", 100),
        purchase_order_number=contract.purchase_order_number if contract is not None else "")
    document.lines = [_line(position, line, document.currency) for position, line in enumerate(lines, start=1)]
    price_lines(document)
    if document.gross_total <= 0:
        raise ValidationError("lines", f"the total must be greater than zero (it is {document.gross_total})")
    db.session.add(document)
    db.session.flush()
    return document


def _line(position: int, line: LineInput, currency: str) -> DocumentLine:
    field = f"line {position}"
    description = _text(line.description, f"{field}: description", 300)
    if not description:
        raise ValidationError(f"{field}: description", "is required")
    if line.unit not in UNITS:
        raise ValidationError(f"{field}: unit", f"must be one of {', '.join(UNITS)}")
    return DocumentLine(
        position=position, description=description, unit=line.unit, source_ref=line.source_ref[:40],
        quantity=parse(line.quantity, f"{field}: quantity", places=4, positive=True),
        unit_price=parse(line.unit_price, f"{field}: unit price", currency),
        tax_rate=parse(line.tax_rate, f"{field}: tax rate", places=4, negative=False))


def check_currency(code: str) -> str:
    text = (code or "").strip().upper()
    try:
        Currency(text)
    except ValueError:
        raise ValidationError("currency", f"“{code}” is not an ISO 4217 currency code") from None
    return text


def _text(value, field: str, limit: int) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        raise ValidationError(field, f"is too long ({len(text)} characters; at most {limit})")
    return text


def issue(document: ReceivableDocument, issued_by: str, on: date | None = None) -> ReceivableDocument:
    """Number the draft, convert it at the rate of its date, post it to the ledger; immutable from then on."""
    if document.number is not None:
        raise Conflict(f"{document} is already issued")
    if on is not None:
        document.due_date = on + (document.due_date - document.issue_date)
        document.issue_date = on
    if isinstance(document, CreditNote):
        _check_credit(document)
    conversion = fx.to_base(document.gross_total, document.currency, document.issue_date)
    document.number = numbering.next_number(document.kind, document.issue_date.year)
    document.base_amount, document.fx_rate = conversion.amount, conversion.rate
    document.fx_rate_date, document.fx_source = conversion.rate_date, conversion.source
    document.issued_by, document.issued_at = issued_by, utcnow()
    posting.post(_posting(document, conversion, issued_by))
    if isinstance(document, CreditNote):
        _apply_credit(document)
    refresh_state(document)
    rendering.render_files(document)
    db.session.flush()
    return document


def _posting(document: ReceivableDocument, conversion, issued_by: str) -> posting.Posting:
    return posting.Posting(
        customer_id=document.customer_id, currency=document.currency, entry_date=document.issue_date,
        kind=document.kind, amount=document.gross_total, side="credit" if document.kind == CREDIT_NOTE else "debit",
        conversion=conversion, reference=document.number, narration=narration(document),
        products=", ".join(line.description for line in document.lines)[:2000], posted_by=issued_by,
        document_id=document.id)


def narration(document: ReceivableDocument) -> str:
    """What the statement says about a document: the reason, or what it corrects, or its contract."""
    if document.kind == CREDIT_NOTE and document.corrects is not None:
        return f"Credit for {document.corrects.number}" + (f": {document.reason}" if document.reason else "")
    if document.reason:
        return document.reason
    if document.proforma is not None:
        return f"Proforma {document.proforma.number}, period {document.proforma.period}"
    return f"Contract {document.contract.number}" if document.contract is not None else document.notes[:200]


def _check_credit(note: CreditNote) -> None:
    target = note.corrects
    if target is None or target.number is None or target.kind == CREDIT_NOTE:
        raise ValidationError("corrects", "a credit note corrects an issued invoice or due note")
    if note.customer_id != target.customer_id or note.currency != target.currency:
        raise ValidationError("corrects", f"{target.number} belongs to another customer or currency")
    credited = sum((n.gross_total for n in target.corrections if n.number is not None and n is not note), ZERO)
    room = target.gross_total - credited
    if note.gross_total > room:
        raise ValidationError("lines", f"{target.number} has {room} {target.currency} left to credit; "
                                       f"this credit note is {note.gross_total}")


def _apply_credit(note: CreditNote) -> None:
    """The credit goes to the corrected document's open amount; what exceeds it stays as unapplied credit."""
    target = note.corrects
    applied = min(note.gross_total, max(target.open_amount, ZERO))
    target.credited_total = target.credited_total + applied
    note.applied_total = applied
    refresh_state(target)


def derived_state(document: ReceivableDocument, on: date | None = None) -> str:
    """The state that follows from a document's amounts and dates."""
    if document.number is None:
        return DRAFT
    if document.kind == CREDIT_NOTE:
        return ISSUED
    if document.open_amount <= 0:
        return CANCELLED if document.allocated_total <= 0 else PAID
    if document.due_date < (on or today()):
        return OVERDUE
    return PARTIALLY_PAID if document.allocated_total > 0 else ISSUED


def refresh_state(document: ReceivableDocument, on: date | None = None) -> None:
    state = derived_state(document, on)
    if state == CANCELLED and document.cancelled_at is None:
        document.cancelled_at = utcnow()
    document.state = state


def get(document_id) -> ReceivableDocument:
    document = db.session.get(ReceivableDocument, document_id) if str(document_id).isdigit() else None
    if document is None:
        raise NotFound(f"no document {document_id}")
    return document


def by_number(number: str) -> ReceivableDocument:
    document = db.session.scalar(select(ReceivableDocument).where(ReceivableDocument.number == (number or "").strip()))
    if document is None:
        raise NotFound(f"no document numbered {number}")
    return document


def mark_overdue(on: date | None = None) -> int:
    """Give every open document whose due date has passed the state its amounts and dates call for; how many
    changed (the daily sweep: stored states then agree with derived_state for lists and filters)."""
    day = on or today()
    query = select(ReceivableDocument).where(ReceivableDocument.state.in_((ISSUED, PARTIALLY_PAID)),
                                             ReceivableDocument.due_date < day).with_for_update()
    changed = 0
    for document in db.session.scalars(query):
        refresh_state(document, day)
        changed += 1
    db.session.flush()
    return changed
