"""Contracts, their projects and fixed monthly line items."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.types import EncryptedText, Money, Percent, Quantity, StoredFile, Timestamp, utcnow

BILLING_CYCLES = ("monthly", "quarterly", "yearly")
TAX_RULES = ("standard", "reverse_charge", "exempt")
UPLOAD_CHANNELS = ("none", "sftp", "https")
DOCUMENT_FORMATS = ("pdf", "html", "idoc", "sap_csv", "ubl")
# What a customer may download in the portal unless its contract says otherwise; IDoc and CSV go to SAP.
DEFAULT_PORTAL_FORMATS = "pdf,ubl"
# A fixed line charges (unit price zero or more) or gives a discount (a negative unit price).
FIXED_LINE_KINDS = ("charge", "discount")


class Contract(db.Model):
    __tablename__ = "contracts"
    __audited__ = True
    __audit_redacted__ = ("upload_secret",)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"), index=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    currency: Mapped[str] = mapped_column(String(3))
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=30)
    billing_cycle: Mapped[str] = mapped_column(String(20), default="monthly")
    tax_rate: Mapped[Decimal] = mapped_column(Percent(), default=0)
    tax_rule: Mapped[str] = mapped_column(String(20), default="standard")
    rate_card_id: Mapped[int | None] = mapped_column(ForeignKey("rate_cards.id", ondelete="SET NULL"))
    sap_partner_code: Mapped[str] = mapped_column(String(20), default="")
    sap_company_code: Mapped[str] = mapped_column(String(10), default="")
    document_formats: Mapped[str] = mapped_column(String(100), default="pdf")
    portal_formats: Mapped[str] = mapped_column(String(100), default=DEFAULT_PORTAL_FORMATS)
    # The customer's references, printed and sent with every proforma (UBL BT-13 and BT-10, IDoc E1EDK02 001).
    purchase_order_number: Mapped[str] = mapped_column(String(35), default="")  # IDoc BELNR holds 35
    buyer_reference: Mapped[str] = mapped_column(String(100), default="")
    # The SAP upload CSV as the customer's SAP reads it (portal.exports.sap_csv.DELIMITERS, DECIMAL_SEPARATORS).
    csv_delimiter: Mapped[str] = mapped_column(String(1), default=";")
    csv_decimal_separator: Mapped[str] = mapped_column(String(1), default=".")
    upload_channel: Mapped[str] = mapped_column(String(10), default="none")
    upload_url: Mapped[str] = mapped_column(String(500), default="")
    upload_username: Mapped[str] = mapped_column(String(120), default="")
    upload_secret: Mapped[str | None] = mapped_column(EncryptedText)
    upload_host_key: Mapped[str] = mapped_column(Text, default="")  # SFTP: the server's pinned public key(s)
    upload_ca_certificates: Mapped[str] = mapped_column(Text, default="")  # HTTPS: PEM CA(s) to trust
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    created_at = mapped_column(Timestamp(), default=utcnow)

    customer = relationship("Customer", back_populates="contracts")
    rate_card = relationship("RateCard")
    projects = relationship("Project", back_populates="contract")
    fixed_lines = relationship("FixedLineItem", back_populates="contract", cascade="all, delete-orphan")

    def __str__(self) -> str:
        return self.number

    @property
    def formats(self) -> list[str]:
        return [f for f in (self.document_formats or "").split(",") if f]

    @property
    def downloadable_formats(self) -> list[str]:
        """The rendered formats the customer may download in the portal."""
        allowed = {f.strip() for f in (self.portal_formats or "").split(",")}
        return [f for f in self.formats if f in allowed]


class Project(db.Model):
    __tablename__ = "projects"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="RESTRICT"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    account_manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    responsible_manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    description: Mapped[str] = mapped_column(Text, default="")

    contract = relationship(Contract, back_populates="projects")
    account_manager = relationship("User", foreign_keys=[account_manager_id])
    responsible_manager = relationship("User", foreign_keys=[responsible_manager_id])
    documents = relationship("ProjectDocument", back_populates="project", cascade="all, delete-orphan")

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class ProjectDocument(StoredFile, db.Model):
    """A file attached to a project (signed contract, SOW, ...)."""

    __tablename__ = "project_documents"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)

    project = relationship(Project, back_populates="documents")

    def __str__(self) -> str:
        return self.filename


class FixedLineItem(db.Model):
    __tablename__ = "fixed_line_items"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="charge")
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Quantity(), default=1)
    unit_price: Mapped[Decimal] = mapped_column(Money())
    tax_rate: Mapped[Decimal] = mapped_column(Percent(), default=0)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)

    contract = relationship(Contract, back_populates="fixed_lines")

    def __str__(self) -> str:
        return self.description
