"""Reconciliation (issue 11): open invoices and due notes ranked for a payment, with reasons; auto-reconcile."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import bindparam, literal, select
from sqlalchemy.orm import joinedload

from portal.errors import ValidationError
from portal.extensions import db
from portal.models import Allocation, Payment, ReceivableDocument
from portal.models.receivables import DUE_NOTE, INVOICE, ISSUED, OVERDUE, PARTIALLY_PAID
from portal.models.types import Money
from portal.money import display
from portal.services.receivables import allocations, invoicing
from portal.services.receivables.matching import numbers_in

PAYABLE_KINDS = (INVOICE, DUE_NOTE)
OPEN_STATES = (ISSUED, PARTIALLY_PAID, OVERDUE)
AUTO_REASON = "auto: number and amount match"
DEFAULT_LIMIT = 20
# Points per reason, shown with each suggestion: a named number outweighs any amount.
NUMBER_POINTS, EQUAL_POINTS, PARTIAL_POINTS = 100, 50, 20
EQUAL, PARTIAL, BEYOND = "equal", "partial", "beyond"  # the payment equals, is below, is above the open amount
# At 100,000 open documents the tier queries stay in milliseconds on PostgreSQL only with indexes on
# (customer_id, currency, due_date, id) and (currency, due_date, id), both partial on the kinds and states above
# (the queries write those as literals so the planner can use them), and on (customer_id, currency, open amount)
# and (currency, open amount), not partial, so that PostgreSQL keeps statistics on the open-amount expression.


@dataclass(frozen=True)
class Suggestion:
    """One open document proposed for a payment: how much to allocate and why it ranks where it does."""

    rank: int
    document: ReceivableDocument
    open_amount: Decimal
    proposed_amount: Decimal  # the smaller of the payment's unapplied part and the open amount
    score: int
    number_named: bool
    amount_match: str  # equal | partial | beyond
    reasons: tuple[str, ...]

    @property
    def auto_applicable(self) -> bool:
        """The only pairs auto-reconcile applies: the number is in the text and the amount is the open amount."""
        return self.number_named and self.amount_match == EQUAL

    def as_dict(self) -> dict:
        """JSON-ready: amounts as strings, the document by id and number."""
        document = self.document
        return {"rank": self.rank, "document_id": document.id, "number": document.number, "kind": document.kind,
                "customer_code": document.customer.code, "currency": document.currency,
                "issue_date": document.issue_date.isoformat(), "due_date": document.due_date.isoformat(),
                "open_amount": str(self.open_amount), "proposed_amount": str(self.proposed_amount),
                "score": self.score, "number_named": self.number_named, "amount_match": self.amount_match,
                "reasons": list(self.reasons)}


@dataclass(frozen=True)
class AutoAllocation:
    """What auto-reconcile did: one allocation of a payment to a document."""

    payment: Payment
    document: ReceivableDocument
    amount: Decimal
    allocation: Allocation

    def as_dict(self) -> dict:
        """JSON-ready: ids, the document's number, the amount as a string."""
        return {"payment_id": self.payment.id, "document_id": self.document.id, "number": self.document.number,
                "customer_code": self.document.customer.code, "amount": str(self.amount),
                "currency": self.document.currency, "allocation_id": self.allocation.id}


def suggest(payment: Payment, limit: int = DEFAULT_LIMIT) -> list[Suggestion]:
    """The open documents a payment may pay, best first (at most `limit`); empty when nothing is unapplied.

    A payment whose text names document numbers gets only those documents; otherwise the customer's (or, for an
    unidentified payment, every customer's) open documents in its currency: amount equal to the open amount,
    then less than it, then the rest, each oldest due date first.
    """
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValidationError("limit", "must be a whole number of at least 1")
    unapplied = payment.unapplied
    if unapplied <= 0:
        return []
    named = numbers_in(payment.text)
    found = _named(payment, named) if named else _by_amount(payment, unapplied, limit)
    ordered = sorted(found, key=lambda d: (_amount_order(unapplied, d.open_amount), d.due_date, d.id))[:limit]
    return [_suggestion(rank, payment, unapplied, document, bool(named))
            for rank, document in enumerate(ordered, start=1)]


def _open_amount():
    """The open amount as SQL, written as the index on it is (see the module's index notes)."""
    return ReceivableDocument.gross_total - ReceivableDocument.allocated_total - ReceivableDocument.credited_total


def _fixed(value, type_=None):
    """A value written into the SQL text, not bound: PostgreSQL can then prove the partial index's predicate, and
    even a prepared statement (psycopg prepares repeated ones) is planned for this amount's selectivity."""
    if isinstance(value, tuple):
        return bindparam(None, value, expanding=True, literal_execute=True)
    return literal(value, type_, literal_execute=True)


def _open_documents(payment: Payment):
    """Open payable documents in the payment's currency, of its customer when it has one."""
    query = select(ReceivableDocument).where(
        ReceivableDocument.kind.in_(_fixed(PAYABLE_KINDS)), ReceivableDocument.state.in_(_fixed(OPEN_STATES)),
        ReceivableDocument.currency == _fixed(payment.currency), _open_amount() > _fixed(Decimal(0), Money()))
    if payment.customer_id is None:
        return query.options(joinedload(ReceivableDocument.customer))
    return query.where(ReceivableDocument.customer_id == _fixed(payment.customer_id))


def _named(payment: Payment, numbers: list[str]) -> list[ReceivableDocument]:
    """Only the documents the text names: a pair whose referenced number differs is never proposed."""
    return list(db.session.scalars(_open_documents(payment).where(ReceivableDocument.number.in_(numbers))))


def _by_amount(payment: Payment, unapplied: Decimal, limit: int) -> list[ReceivableDocument]:
    """Up to `limit` documents, one query per amount tier, each served by an index in due-date order."""
    open_amount, value = _open_amount(), _fixed(unapplied, Money())
    found: list[ReceivableDocument] = []
    for condition in (open_amount == value, open_amount > value, open_amount < value):
        if len(found) >= limit:
            break
        query = (_open_documents(payment).where(condition)
                 .order_by(ReceivableDocument.due_date, ReceivableDocument.id).limit(limit - len(found)))
        found.extend(db.session.scalars(query))
    return found


def _amount_order(unapplied: Decimal, open_amount: Decimal) -> int:
    return (EQUAL, PARTIAL, BEYOND).index(_amount_match(unapplied, open_amount))


def _amount_match(unapplied: Decimal, open_amount: Decimal) -> str:
    if unapplied == open_amount:
        return EQUAL
    return PARTIAL if unapplied < open_amount else BEYOND


def _suggestion(rank: int, payment: Payment, unapplied: Decimal, document: ReceivableDocument,
                named: bool) -> Suggestion:
    open_amount = document.open_amount
    match = _amount_match(unapplied, open_amount)
    score = (NUMBER_POINTS if named else 0) + {EQUAL: EQUAL_POINTS, PARTIAL: PARTIAL_POINTS}.get(match, 0)
    return Suggestion(rank, document, open_amount, min(unapplied, open_amount), score, named, match,
                      _reasons(payment, unapplied, document, named, match))


def _reasons(payment: Payment, unapplied: Decimal, document: ReceivableDocument, named: bool,
             match: str) -> tuple[str, ...]:
    """Why the document is proposed, strongest first, in words."""
    currency = document.currency
    paid, owed = display(unapplied, currency), display(document.open_amount, currency)
    reasons = [f"{document.number} is named in the payment text"] if named else []
    reasons.append({
        EQUAL: f"the payment's unapplied {paid} equals the open amount",
        PARTIAL: f"the payment's unapplied {paid} is less than the open {owed} (a partial payment)",
        BEYOND: f"the open {owed} is less than the payment's unapplied {paid}; the rest stays as unapplied credit",
    }[match])
    reasons.append(_due(document.due_date))
    if payment.customer_id is None:
        reasons.append(f"customer {document.customer.code} ({document.customer.name}); the payment has none yet")
    return tuple(reasons)


def _due(due_date: date) -> str:
    overdue = " (overdue)" if due_date < invoicing.today() else ""
    return f"due {due_date.isoformat()}{overdue}; the oldest due date ranks first"


def auto_reconcile(by: str, payments: Iterable[Payment] | None = None) -> list[AutoAllocation]:
    """Allocate each payment (all with a customer and money unapplied, or those given) to the one document whose
    number its text names and whose open amount it equals; returns what it allocated."""
    done: list[AutoAllocation] = []
    for payment in _auto_candidates(payments):
        applied = _auto_one(payment, by)
        if applied is not None:
            done.append(applied)
    return done


def _auto_candidates(payments: Iterable[Payment] | None) -> list[Payment]:
    """Identified payments with money unapplied whose text names a document number (unidentified ones never)."""
    if payments is None:
        unapplied = Payment.amount - Payment.allocated_total - Payment.refunded_total
        payments = db.session.scalars(select(Payment).where(Payment.customer_id.is_not(None),
                                                            unapplied > literal(Decimal(0), Money()))
                                      .order_by(Payment.id))
    return [p for p in payments if p.customer_id is not None and p.unapplied > 0 and numbers_in(p.text)]


def _auto_one(payment: Payment, by: str) -> AutoAllocation | None:
    """The allocation made for one payment, or None when not exactly one suggestion matches number and amount."""
    matches = [s for s in suggest(payment) if s.auto_applicable]
    if len(matches) != 1:  # two named documents with the same open amount: a person chooses
        return None
    chosen = matches[0]
    try:
        allocation = allocations.allocate(payment, chosen.document, chosen.proposed_amount, by, reason=AUTO_REASON)
    except ValidationError:  # another transaction paid it meanwhile (re-checked under the row locks)
        return None
    return AutoAllocation(allocation.payment, allocation.document, allocation.amount, allocation)
