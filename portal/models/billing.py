"""Billing: service records pulled from the call-logging system, proformas and their lines, a result cache."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.types import Money, Percent, Quantity, StoredFile, Timestamp, utcnow

PROFORMA_STATES = ("draft", "in_review", "approved", "rejected", "cancelled")
# A discount line carries a negative unit price, the only kind that may; where a line came from is its source_ref
# ("fixed", "manual", a ticket number).
LINE_KINDS = ("incident", "request", "fixed", "manual", "discount")
DISCOUNT = "discount"


class IntegrationCache(db.Model):
    """The last good answer of an external system, so a short outage does not block work."""

    __tablename__ = "integration_cache"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at = mapped_column(Timestamp(), default=utcnow, onupdate=utcnow)


class ServiceRecord(db.Model):
    """A resolved incident or completed service request of a customer, as fetched for a billing period."""

    __tablename__ = "service_records"
    __table_args__ = (UniqueConstraint("customer_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"), index=True)
    period: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM
    kind: Mapped[str] = mapped_column(String(10))
    external_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(40))
    priority: Mapped[str | None] = mapped_column(String(4))
    catalog_item: Mapped[str | None] = mapped_column(String(200))
    short_description: Mapped[str] = mapped_column(String(300), default="")
    closed_at = mapped_column(Timestamp())
    raw: Mapped[dict] = mapped_column(JSON, default=dict)

    def __str__(self) -> str:
        return self.number


class Proforma(db.Model):
    """A draft invoice for one contract and billing period; no ledger effect until invoiced."""

    __tablename__ = "proformas"
    __audited__ = True
    __table_args__ = (UniqueConstraint("contract_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(60), unique=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="RESTRICT"), index=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    state: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    net_total: Mapped[Decimal] = mapped_column(Money(), default=0)
    tax_total: Mapped[Decimal] = mapped_column(Money(), default=0)
    gross_total: Mapped[Decimal] = mapped_column(Money(), default=0)
    source_stale: Mapped[bool] = mapped_column(default=False)  # built from the cache during an outage
    source_note: Mapped[str] = mapped_column(Text, default="")
    editors: Mapped[list] = mapped_column(JSON, default=list)  # who prepared or edited it (four-eyes)
    process_instance_id: Mapped[int | None] = mapped_column(Integer)
    created_at = mapped_column(Timestamp(), default=utcnow)

    contract = relationship("Contract")
    lines = relationship("ProformaLine", back_populates="proforma", order_by="ProformaLine.position",
                         cascade="all, delete-orphan")

    def __str__(self) -> str:
        return self.number


class ProformaLine(db.Model):
    __tablename__ = "proforma_lines"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    proforma_id: Mapped[int] = mapped_column(ForeignKey("proformas.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Quantity())
    unit_price: Mapped[Decimal] = mapped_column(Money())
    tax_rate: Mapped[Decimal] = mapped_column(Percent())
    net_amount: Mapped[Decimal] = mapped_column(Money())
    tax_amount: Mapped[Decimal] = mapped_column(Money())
    source_ref: Mapped[str] = mapped_column(String(40), default="")  # ticket number, "fixed" ...
    priority: Mapped[str | None] = mapped_column(String(4))
    closed_at = mapped_column(Timestamp())
    service_record_id: Mapped[int | None] = mapped_column(ForeignKey("service_records.id", ondelete="SET NULL"))

    proforma = relationship(Proforma, back_populates="lines")

    def __str__(self) -> str:
        return f"{self.position}. {self.description}"


DOCUMENT_FORMAT_FILES = {  # format -> (file extension, content type)
    "pdf": ("pdf", "application/pdf"),
    "html": ("html", "text/html"),
    "idoc": ("idoc.xml", "application/xml"),
    "sap_csv": ("csv", "text/csv"),
    "ubl": ("ubl.xml", "application/xml"),
}


class ProformaDocument(StoredFile, db.Model):
    """One rendered format of a proforma (PDF, HTML, IDoc, SAP CSV, UBL), as sent and as shown."""

    __tablename__ = "proforma_documents"
    __table_args__ = (UniqueConstraint("proforma_id", "format"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proforma_id: Mapped[int] = mapped_column(ForeignKey("proformas.id", ondelete="CASCADE"), index=True)
    format: Mapped[str] = mapped_column(String(10))

    proforma = relationship(Proforma, backref="documents")


class UploadReceipt(db.Model):
    """What the customer's channel answered for one uploaded file; a receipt means: do not send again."""

    __tablename__ = "upload_receipts"
    __table_args__ = (UniqueConstraint("proforma_id", "filename", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proforma_id: Mapped[int] = mapped_column(ForeignKey("proformas.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(500))
    location: Mapped[str] = mapped_column(String(500))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str] = mapped_column(String(300), default="")
    already_present: Mapped[bool] = mapped_column(default=False)
    uploaded_at = mapped_column(Timestamp(), default=utcnow)
