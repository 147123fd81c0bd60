"""The customer ledger: append-only, hash-chained entries and the denormalized balance per customer and currency."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.types import Money, Rate, Timestamp, utcnow

# What an entry records; invoices, due notes and refunds are debits, payments and credit notes credits, an
# adjustment either side; an assigned payment moved to another customer is reversed with the opposite side.
ENTRY_KINDS = ("invoice", "due_note", "credit_note", "payment", "refund", "adjustment")
GENESIS = "0" * 64


class LedgerEntry(db.Model):
    """One posting to a customer's account in the document's currency and in the base currency.

    Never updated or deleted (a PostgreSQL and SQLite trigger refuse it); `entry_hash` chains it to the previous
    entry of the same customer and currency, so an edit made behind the application's back shows.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_statement", "customer_id", "currency", "entry_date", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    currency: Mapped[str] = mapped_column(String(3))
    entry_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str] = mapped_column(String(40), default="")  # the document number, "payment 12" ...
    narration: Mapped[str] = mapped_column(Text, default="")
    products: Mapped[str] = mapped_column(Text, default="")  # the line items' names, for the statement
    debit: Mapped[Decimal] = mapped_column(Money(), default=0)
    credit: Mapped[Decimal] = mapped_column(Money(), default=0)
    base_currency: Mapped[str] = mapped_column(String(3))
    base_debit: Mapped[Decimal] = mapped_column(Money(), default=0)
    base_credit: Mapped[Decimal] = mapped_column(Money(), default=0)
    fx_rate: Mapped[Decimal] = mapped_column(Rate())
    balance_after: Mapped[Decimal] = mapped_column(Money())  # the customer's balance in `currency` after it
    document_id: Mapped[int | None] = mapped_column(ForeignKey("receivable_documents.id", ondelete="RESTRICT"),
                                                    index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"), index=True)
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id", ondelete="RESTRICT"))
    adjustment_id: Mapped[int | None] = mapped_column(ForeignKey("adjustments.id", ondelete="RESTRICT"))
    posted_by: Mapped[str] = mapped_column(String(254), default="")
    posted_at = mapped_column(Timestamp(), default=utcnow)
    previous_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)

    customer = relationship("Customer")

    def __str__(self) -> str:
        return f"{self.entry_date} {self.kind} {self.reference}"


class CustomerBalance(db.Model):
    """What a customer owes in one currency (debits − credits), updated under a row lock with every entry."""

    __tablename__ = "customer_balances"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    balance: Mapped[Decimal] = mapped_column(Money(), default=0)
    base_balance: Mapped[Decimal] = mapped_column(Money(), default=0)  # Σ base debits − Σ base credits
    entries: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)
    updated_at = mapped_column(Timestamp(), default=utcnow, onupdate=utcnow)

    customer = relationship("Customer")
