"""What a customer sees of its receivables in the customer portal: its own issued documents and statement."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from portal.errors import NotFound
from portal.extensions import db
from portal.models import ReceivableDocument, ReceivableFile
from portal.services.identity.customer_portal import own_customer
from portal.services.receivables import rendering, statement


def own_documents(user, limit: int = 200) -> list[ReceivableDocument]:
    """The customer's issued invoices, credit notes and due notes, newest first."""
    if user.customer_id is None:
        return []
    query = (select(ReceivableDocument).where(ReceivableDocument.customer_id == user.customer_id,
                                               ReceivableDocument.number.is_not(None))
             .order_by(ReceivableDocument.issue_date.desc(), ReceivableDocument.id.desc()).limit(limit))
    return list(db.session.scalars(query))


def own_document(user, document_id: int) -> ReceivableDocument:
    """One of the customer's issued documents; NotFound for anybody else's (or a draft)."""
    found = db.session.get(ReceivableDocument, document_id)
    if found is None or found.number is None or user.customer_id is None or found.customer_id != user.customer_id:
        raise NotFound("no such document")
    return found


def own_file(user, document_id: int, fmt: str) -> ReceivableFile:
    """The stored PDF or UBL file of one of the customer's documents."""
    return rendering.stored_file(own_document(user, document_id), fmt)


def own_statement(user, currency: str, start: date, end: date) -> statement.Statement:
    """The customer's statement of account in `currency`."""
    return statement.customer_ledger(own_customer(user), currency, start, end)
