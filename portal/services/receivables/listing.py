"""What the receivables pages list: documents and payments, filtered, scoped to the reader's customers, paged."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from portal.errors import NotFound, ValidationError
from portal.extensions import db
from portal.models import Customer, Payment, ReceivableDocument
from portal.models.receivables import DOCUMENT_KINDS, INVOICE_STATES
from portal.services.receivables import scope

PAGE_SIZE = 25
STATE_LABELS = {"draft": "Draft", "issued": "Issued", "partially_paid": "Partially paid", "paid": "Paid",
                "overdue": "Overdue", "cancelled": "Cancelled"}
KIND_LABELS = {"invoice": "Invoice", "credit_note": "Credit note", "due_note": "Due note"}
PAYMENT_VIEWS = ("all", "unidentified", "unapplied")


@dataclass(frozen=True)
class DocumentFilters:
    kind: str = ""
    state: str = ""
    customer_id: int | None = None
    currency: str = ""
    search: str = ""

    def args(self) -> dict:
        return {k: v for k, v in (("kind", self.kind), ("state", self.state), ("customer", self.customer_id),
                                  ("currency", self.currency), ("q", self.search)) if v}


def document_filters(args: Mapping[str, str]) -> DocumentFilters:
    """Filters from the query string; a ValidationError names the filter that means nothing."""
    kind, state = args.get("kind", ""), args.get("state", "")
    if kind and kind not in DOCUMENT_KINDS:
        raise ValidationError("kind", "choose a kind from the list")
    if state and state not in INVOICE_STATES:
        raise ValidationError("state", "choose a state from the list")
    customer = args.get("customer", "")
    if customer and not customer.isdigit():
        raise ValidationError("customer", "choose a customer from the list")
    currency = args.get("currency", "").strip().upper()
    if currency and (len(currency) != 3 or not currency.isalpha()):
        raise ValidationError("currency", "write a three-letter currency code, e.g. EUR")
    return DocumentFilters(kind, state, int(customer) if customer else None, currency, args.get("q", "").strip()[:60])


def documents(user, filters: DocumentFilters, page: int = 1):
    """One page of the documents the user may see, newest first."""
    query = scope.restrict(select(ReceivableDocument).options(joinedload(ReceivableDocument.customer)),
                           ReceivableDocument.customer_id, user)
    conditions = [ReceivableDocument.kind == filters.kind if filters.kind else None,
                  ReceivableDocument.state == filters.state if filters.state else None,
                  ReceivableDocument.customer_id == filters.customer_id if filters.customer_id else None,
                  ReceivableDocument.currency == filters.currency if filters.currency else None]
    query = query.where(*[c for c in conditions if c is not None])
    if filters.search:
        query = query.join(Customer, Customer.id == ReceivableDocument.customer_id).where(or_(
            ReceivableDocument.number.ilike(f"%{filters.search}%"), Customer.name.ilike(f"%{filters.search}%")))
    query = query.order_by(ReceivableDocument.issue_date.desc(), ReceivableDocument.id.desc())
    return db.paginate(query, page=page, per_page=PAGE_SIZE, error_out=False)


def document(user, document_id: int) -> ReceivableDocument:
    """A document the user may see (NotFound otherwise)."""
    found = db.session.get(ReceivableDocument, document_id)
    if found is None:
        raise NotFound("no such document")
    scope.check(user, found.customer_id)
    return found


def payments(user, view: str = "all", page: int = 1):
    """One page of payments, newest first: all, the unidentified ones (no customer) or those with money unapplied."""
    if view not in PAYMENT_VIEWS:
        raise ValidationError("view", "choose all, unidentified or unapplied")
    query = select(Payment).options(joinedload(Payment.customer))
    ids = scope.customer_ids(user)
    if ids is not None:  # unidentified payments belong to no customer: only the all-customers readers see them
        query = query.where(Payment.customer_id.in_(ids))
    if view == "unidentified":
        query = query.where(Payment.customer_id.is_(None))
    elif view == "unapplied":
        query = query.where(Payment.customer_id.is_not(None),
                            Payment.amount - Payment.allocated_total - Payment.refunded_total > 0)
    query = query.order_by(Payment.value_date.desc(), Payment.id.desc())
    return db.paginate(query, page=page, per_page=PAGE_SIZE, error_out=False)


def payment(user, payment_id: int) -> Payment:
    """A payment the user may see (NotFound otherwise; unidentified ones only for all-customers readers)."""
    found = db.session.get(Payment, payment_id)
    if found is None:
        raise NotFound("no such payment")
    ids = scope.customer_ids(user)
    if ids is not None and found.customer_id not in ids:
        raise NotFound("no such payment")
    return found


def customers(user) -> list[Customer]:
    """The customers the user may choose in filters and forms, by name."""
    return list(db.session.scalars(scope.restrict(select(Customer).order_by(Customer.name), Customer.id, user)))


def parse_day(raw: str, field: str) -> date:
    try:
        return date.fromisoformat((raw or "").strip())
    except ValueError:
        raise ValidationError(field, "write a date as YYYY-MM-DD") from None
