"""Users and roles: staff sign in with password + TOTP; customer users belong to one customer."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.types import EncryptedText, Timestamp, utcnow

ADMIN = "admin"
FINANCE_MANAGER = "finance_manager"
APPROVER = "approver"
REVIEWER = "reviewer"
ACCOUNTANT = "accountant"
ACCOUNT_MANAGER = "account_manager"
RESPONSIBLE_MANAGER = "responsible_manager"
ANALYST = "analyst"
GUEST = "guest"
CUSTOMER = "customer"

# code -> (name, description); the order is the order shown to people.
ROLE_CATALOG = {
    ADMIN: ("Administrator", "Everything, including users, roles and the audit trail"),
    FINANCE_MANAGER: ("Finance manager", "Oversees finance data, rates and templates; reads the audit trail"),
    APPROVER: ("Approver", "Approves proforma invoices"),
    REVIEWER: ("Reviewer", "Reviews and edits draft proforma invoices"),
    ACCOUNTANT: ("Accountant", "Maintains master data, rates, payments and ledgers"),
    ACCOUNT_MANAGER: ("Account manager", "Looks after customers and their balances"),
    RESPONSIBLE_MANAGER: ("Responsible manager", "Answers for projects and their debts"),
    ANALYST: ("Business analyst", "Edits and deploys workflow diagrams"),
    GUEST: ("Guest", "Read-only access to master data"),
    CUSTOMER: ("Customer", "Sees its own company's documents in the customer portal"),
}

user_roles = Table(
    "user_roles",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)


class Role(db.Model):
    __tablename__ = "roles"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")

    def __str__(self) -> str:
        return self.name


class User(db.Model):
    __tablename__ = "users"
    __audited__ = True
    __audit_redacted__ = ("password_hash", "totp_secret")
    # Sign-in bookkeeping: the sign-in itself is the audit event (portal.services.identity.auth.record_login).
    __audit_ignored__ = ("last_login_at", "totp_last_step")

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str | None] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    # IANA name ("Europe/Berlin") times are shown in; empty: the portal's DEFAULT_TIME_ZONE.
    time_zone: Mapped[str] = mapped_column(String(64), default="")
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText)
    totp_confirmed_at = mapped_column(Timestamp())
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    created_at = mapped_column(Timestamp(), default=utcnow)
    last_login_at = mapped_column(Timestamp())

    roles = relationship(Role, secondary=user_roles, lazy="selectin", order_by=Role.code)
    customer = relationship("Customer", back_populates="users")

    def __str__(self) -> str:
        return self.name or self.email

    # The four members Flask-Login asks of a user object.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return bool(self.active)

    def get_id(self) -> str:
        return str(self.id)

    @property
    def role_codes(self) -> frozenset[str]:
        return frozenset(role.code for role in self.roles)

    @property
    def is_customer(self) -> bool:
        return CUSTOMER in self.role_codes

    @property
    def is_staff(self) -> bool:
        return bool(self.role_codes - {CUSTOMER})

    @property
    def has_second_factor(self) -> bool:
        return self.totp_confirmed_at is not None
