"""Payments received, their allocations to documents, refunds, bank-file imports and remembered column mappings."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from portal.extensions import db
from portal.models.receivables import Converted
from portal.models.types import Money, StoredFile, Timestamp, utcnow

PAYMENT_METHODS = ("bank_transfer", "card", "cash", "cheque", "online", "other")
# How the payer was found: by the account paid from, an invoice number in the text, the payer's name, by hand.
MATCHED_BY = ("iban", "invoice_number", "name", "manual", "")


class PaymentImport(db.Model):
    """One confirmed bank-file import: which file (by SHA-256), who, and what it made."""

    __tablename__ = "payment_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    file_format: Mapped[str] = mapped_column(String(10))  # csv | xlsx | camt053 | mt940
    account_iban: Mapped[str] = mapped_column(String(34), default="")
    imported_by: Mapped[str] = mapped_column(String(254), default="")
    imported_at = mapped_column(Timestamp(), default=utcnow)
    payments: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)

    def __str__(self) -> str:
        return f"{self.filename} ({self.imported_at:%Y-%m-%d %H:%M})" if self.imported_at else self.filename


class PendingBankFile(StoredFile, db.Model):
    """A bank file uploaded for its preview, kept until it is confirmed (any web host can confirm it)."""

    __tablename__ = "pending_bank_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_iban: Mapped[str] = mapped_column(String(34), default="")


class BankImportMapping(db.Model):
    """How to read one bank account's CSV or XLSX statements, remembered after the first import."""

    __tablename__ = "bank_import_mappings"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    account_iban: Mapped[str] = mapped_column(String(34), unique=True)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_by: Mapped[str] = mapped_column(String(254), default="")
    updated_at = mapped_column(Timestamp(), default=utcnow, onupdate=utcnow)

    def __str__(self) -> str:
        return self.account_iban


class Payment(Converted, db.Model):
    """Money received; without a customer it waits in the Unidentified list and posts nothing until assigned."""

    __tablename__ = "payments"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3))
    value_date: Mapped[date] = mapped_column(Date, index=True)
    method: Mapped[str] = mapped_column(String(20), default="bank_transfer")
    bank_reference: Mapped[str] = mapped_column(String(140), default="", index=True)
    account_iban: Mapped[str] = mapped_column(String(34), default="")  # our account it was paid into
    payer_name: Mapped[str] = mapped_column(String(200), default="")
    payer_iban: Mapped[str] = mapped_column(String(34), default="", index=True)
    text: Mapped[str] = mapped_column(Text, default="")  # remittance information, free text
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)  # amount + date + text, for duplicates
    matched_by: Mapped[str] = mapped_column(String(20), default="")
    allocated_total: Mapped[Decimal] = mapped_column(Money(), default=0)
    refunded_total: Mapped[Decimal] = mapped_column(Money(), default=0)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("payment_imports.id", ondelete="RESTRICT"), index=True)
    created_by: Mapped[str] = mapped_column(String(254), default="")
    created_at = mapped_column(Timestamp(), default=utcnow)

    customer = relationship("Customer")
    payment_import = relationship(PaymentImport)

    @property
    def unapplied(self) -> Decimal:
        """What of the payment is neither allocated to a document nor refunded: the customer's credit."""
        return self.amount - self.allocated_total - self.refunded_total

    def __str__(self) -> str:
        return f"payment {self.id} ({self.amount} {self.currency}, {self.value_date})"


class Allocation(db.Model):
    """Part of a payment applied to an invoice or due note, with the realized FX in the base currency.

    Append-only: unreconciling adds a reversing row (negative amount and FX) that points at the original.
    """

    __tablename__ = "allocations"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("receivable_documents.id", ondelete="RESTRICT"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money())
    base_currency: Mapped[str] = mapped_column(String(3))
    realized_fx: Mapped[Decimal] = mapped_column(Money())  # amount × (payment rate − document rate)
    allocated_on: Mapped[date] = mapped_column(Date)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("allocations.id", ondelete="RESTRICT"), unique=True)
    reason: Mapped[str] = mapped_column(String(200), default="")  # "auto: number and amount match", "manual" ...
    created_by: Mapped[str] = mapped_column(String(254), default="")
    created_at = mapped_column(Timestamp(), default=utcnow)

    payment = relationship(Payment, backref="allocations")
    document = relationship("ReceivableDocument", backref="allocations")
    reverses = relationship("Allocation", remote_side=[id], backref=backref("reversal", uselist=False))

    def __str__(self) -> str:
        return f"allocation {self.id}: {self.amount} of payment {self.payment_id}"


class Refund(Converted, db.Model):
    """Money paid back to a customer out of a payment's unapplied part or a credit note's unapplied credit."""

    __tablename__ = "refunds"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"), index=True)
    credit_note_id: Mapped[int | None] = mapped_column(ForeignKey("receivable_documents.id", ondelete="RESTRICT"),
                                                       index=True)
    amount: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3))
    refund_date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(254), default="")
    created_at = mapped_column(Timestamp(), default=utcnow)

    customer = relationship("Customer")
    payment = relationship(Payment, backref="refunds")
    credit_note = relationship("ReceivableDocument")

    def __str__(self) -> str:
        return f"refund {self.id} ({self.amount} {self.currency})"
