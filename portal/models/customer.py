"""Customers and their contacts."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.types import EncryptedText, Timestamp, utcnow

CONTACT_KINDS = ("billing", "technical", "management", "other")


CALLLOG_AUTH = ("none", "basic", "oauth")


class Customer(db.Model):
    __tablename__ = "customers"
    __audited__ = True
    __audit_redacted__ = ("calllog_secret", "calllog_client_secret")

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    vat_id: Mapped[str] = mapped_column(String(32), default="")
    currency: Mapped[str] = mapped_column(String(3))
    billing_street: Mapped[str] = mapped_column(String(200), default="")
    billing_city: Mapped[str] = mapped_column(String(100), default="")
    billing_postcode: Mapped[str] = mapped_column(String(20), default="")
    billing_country: Mapped[str] = mapped_column(String(2), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    # The customer's call-logging system (ServiceNow Table API); secrets encrypted at rest.
    calllog_url: Mapped[str] = mapped_column(String(300), default="")
    calllog_company: Mapped[str] = mapped_column(String(200), default="")
    calllog_auth: Mapped[str] = mapped_column(String(10), default="none")
    calllog_username: Mapped[str] = mapped_column(String(120), default="")
    calllog_client_id: Mapped[str] = mapped_column(String(120), default="")
    calllog_secret: Mapped[str | None] = mapped_column(EncryptedText)
    calllog_client_secret: Mapped[str | None] = mapped_column(EncryptedText)
    created_at = mapped_column(Timestamp(), default=utcnow)

    contacts = relationship("CustomerContact", back_populates="customer", cascade="all, delete-orphan")
    # The accounts the customer pays from: an incoming payment is matched to its customer by the payer's IBAN.
    bank_accounts = relationship("CustomerBankAccount", back_populates="customer", cascade="all, delete-orphan")
    contracts = relationship("Contract", back_populates="customer")
    users = relationship("User", back_populates="customer")

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"

    @property
    def billing_contact(self):
        return next((c for c in self.contacts if c.kind == "billing"), None)


class CustomerContact(db.Model):
    __tablename__ = "customer_contacts"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="billing")
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(40), default="")

    customer = relationship(Customer, back_populates="contacts")

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class CustomerBankAccount(db.Model):
    """An account a customer pays from; an IBAN belongs to one customer, kept compact (no spaces, upper case)."""

    __tablename__ = "customer_bank_accounts"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    iban: Mapped[str] = mapped_column(String(34), unique=True)
    bic: Mapped[str] = mapped_column(String(11), default="")
    holder: Mapped[str] = mapped_column(String(140), default="")

    customer = relationship(Customer, back_populates="bank_accounts")

    def __str__(self) -> str:
        return self.iban
