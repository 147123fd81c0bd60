"""Receivables: invoices, credit and due notes with their lines and stored files, adjustments, number sequences."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, and_, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.types import Money, Percent, Quantity, Rate, StoredFile, Timestamp, utcnow

INVOICE, CREDIT_NOTE, DUE_NOTE = "invoice", "credit_note", "due_note"
DOCUMENT_KINDS = (INVOICE, CREDIT_NOTE, DUE_NOTE)
DRAFT, ISSUED, PARTIALLY_PAID, PAID, OVERDUE, CANCELLED = (
    "draft", "issued", "partially_paid", "paid", "overdue", "cancelled")
INVOICE_STATES = (DRAFT, ISSUED, PARTIALLY_PAID, PAID, OVERDUE, CANCELLED)
DEBIT, CREDIT = "debit", "credit"


class DocumentSequence(db.Model):
    """The last number given to a kind of document (invoice, credit note, due note) in a year.

    Taken by an UPDATE inside the issuing transaction, whose row lock queues concurrent issues: a rolled-back issue
    gives its number back, so the numbers have no gaps and never repeat.
    """

    __tablename__ = "document_sequences"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class Converted:
    """The base-currency amount of a document or payment at the rate of its own date, kept as it was."""

    base_amount: Mapped[Decimal | None] = mapped_column(Money())
    fx_rate: Mapped[Decimal | None] = mapped_column(Rate())
    fx_rate_date: Mapped[date | None] = mapped_column(Date)
    fx_source: Mapped[str] = mapped_column(String(20), default="")


class ReceivableDocument(Converted, db.Model):
    """A document that posts to a customer's account: an invoice, a credit note or a due note (debit note).

    One table, one class per kind: they share numbering, lines, files, conversion and posting. Issued documents
    are immutable; `allocated_total` and `credited_total` are kept by the services that allocate and credit.
    """

    __tablename__ = "receivable_documents"
    __audited__ = True
    __mapper_args__ = {"polymorphic_on": "kind"}

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"), index=True)
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id", ondelete="RESTRICT"), index=True)
    proforma_id: Mapped[int | None] = mapped_column(ForeignKey("proformas.id", ondelete="RESTRICT"), unique=True)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("receivable_documents.id", ondelete="RESTRICT"),
                                                    index=True)
    state: Mapped[str] = mapped_column(String(20), default=DRAFT, index=True)
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[date] = mapped_column(Date, index=True)
    due_date: Mapped[date] = mapped_column(Date, index=True)
    net_total: Mapped[Decimal] = mapped_column(Money(), default=0)
    tax_total: Mapped[Decimal] = mapped_column(Money(), default=0)
    gross_total: Mapped[Decimal] = mapped_column(Money(), default=0)
    allocated_total: Mapped[Decimal] = mapped_column(Money(), default=0)  # payments applied (invoice, due note)
    credited_total: Mapped[Decimal] = mapped_column(Money(), default=0)  # credit notes applied to it
    applied_total: Mapped[Decimal] = mapped_column(Money(), default=0)  # credit note: the part applied to its invoice
    refunded_total: Mapped[Decimal] = mapped_column(Money(), default=0)  # credit note: unapplied credit paid back
    tax_rule: Mapped[str] = mapped_column(String(20), default="standard")
    buyer_reference: Mapped[str] = mapped_column(String(100), default="")
    purchase_order_number: Mapped[str] = mapped_column(String(35), default="")
    reason: Mapped[str] = mapped_column(Text, default="")  # why a credit or due note was raised
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(254), default="")
    created_at = mapped_column(Timestamp(), default=utcnow)
    issued_by: Mapped[str] = mapped_column(String(254), default="")
    issued_at = mapped_column(Timestamp())
    cancelled_at = mapped_column(Timestamp())

    customer = relationship("Customer")
    contract = relationship("Contract")
    proforma = relationship("Proforma")
    corrects = relationship("ReceivableDocument", remote_side=[id], backref="corrections")
    lines = relationship("DocumentLine", back_populates="document", order_by="DocumentLine.position",
                         cascade="all, delete-orphan")

    @property
    def open_amount(self) -> Decimal:
        """What is still owed on a debit document: total − payments applied − credit notes applied."""
        return self.gross_total - self.allocated_total - self.credited_total

    @property
    def unapplied_credit(self) -> Decimal:
        """A credit note's credit not applied to its invoice and not refunded."""
        return self.gross_total - self.applied_total - self.refunded_total

    def __str__(self) -> str:
        return self.number or f"draft {self.kind.replace('_', ' ')} {self.id or ''}".strip()


def _open_indexes() -> None:
    """Indexes the reconciliation ranking needs at 100,000 open documents (services/receivables/reconciliation.py).

    The due-date ones are partial on payable, open documents; the open-amount ones are not partial, because
    PostgreSQL keeps statistics on an expression only for a full index.
    """
    doc = ReceivableDocument
    open_ones = and_(doc.kind.in_((INVOICE, DUE_NOTE)), doc.state.in_((ISSUED, PARTIALLY_PAID, OVERDUE)))
    # Written as SQLAlchemy reflects it from PostgreSQL, so that Alembic's comparison of models and migrations agrees.
    open_amount = text("(gross_total - allocated_total - credited_total)")
    Index("ix_receivable_documents_open_due", doc.customer_id, doc.currency, doc.due_date, doc.id,
          postgresql_where=open_ones, sqlite_where=open_ones)
    Index("ix_receivable_documents_open_currency_due", doc.currency, doc.due_date, doc.id,
          postgresql_where=open_ones, sqlite_where=open_ones)
    Index("ix_receivable_documents_open_amount", doc.customer_id, doc.currency, open_amount)
    Index("ix_receivable_documents_open_currency_amount", doc.currency, open_amount)


_open_indexes()


class Invoice(ReceivableDocument):
    __mapper_args__ = {"polymorphic_identity": INVOICE}


class CreditNote(ReceivableDocument):
    __mapper_args__ = {"polymorphic_identity": CREDIT_NOTE}


class DueNote(ReceivableDocument):
    __mapper_args__ = {"polymorphic_identity": DUE_NOTE}


class DocumentLine(db.Model):
    __tablename__ = "receivable_document_lines"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("receivable_documents.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Quantity())
    unit_price: Mapped[Decimal] = mapped_column(Money())
    tax_rate: Mapped[Decimal] = mapped_column(Percent(), default=0)
    net_amount: Mapped[Decimal] = mapped_column(Money())
    tax_amount: Mapped[Decimal] = mapped_column(Money())
    unit: Mapped[str] = mapped_column(String(3), default="C62")  # UN/ECE rec. 20
    source_ref: Mapped[str] = mapped_column(String(40), default="")

    document = relationship(ReceivableDocument, back_populates="lines")

    def __str__(self) -> str:
        return f"{self.position}. {self.description}"


class ReceivableFile(StoredFile, db.Model):
    """A document's PDF or UBL file, rendered once at issue and served from here, never rendered again."""

    __tablename__ = "receivable_files"
    __table_args__ = (UniqueConstraint("document_id", "format"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("receivable_documents.id", ondelete="RESTRICT"), index=True)
    format: Mapped[str] = mapped_column(String(10))

    document = relationship(ReceivableDocument, backref="files")


class Adjustment(Converted, db.Model):
    """A manual debit or credit on a customer's account with its reason (finance managers only)."""

    __tablename__ = "adjustments"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"), index=True)
    side: Mapped[str] = mapped_column(String(6))  # debit | credit
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(Money())
    entry_date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(254), default="")
    created_at = mapped_column(Timestamp(), default=utcnow)

    customer = relationship("Customer")

    def __str__(self) -> str:
        return f"adjustment {self.id} ({self.side})"
