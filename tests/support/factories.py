"""factory-boy factories for the models; rows are flushed into the test's transaction."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import factory
from factory.alchemy import SQLAlchemyModelFactory
from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    Contract,
    Customer,
    CustomerContact,
    ExchangeRate,
    FixedLineItem,
    Project,
    RateCard,
    Role,
    User,
)
from portal.services.identity.auth import hash_password

PASSWORD = "correct horse battery"


class Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class CustomerFactory(Base):
    class Meta:
        model = Customer

    code = factory.Sequence(lambda n: f"CUST{n:03d}")
    name = factory.Sequence(lambda n: f"Customer {n} Ltd")
    vat_id = factory.Sequence(lambda n: f"DE{100000000 + n}")
    currency = "EUR"
    billing_country = "DE"


class ContactFactory(Base):
    class Meta:
        model = CustomerContact

    customer = factory.SubFactory(CustomerFactory)
    kind = "billing"
    name = "Billing Clerk"
    email = factory.Sequence(lambda n: f"billing{n}@customer.example")


class ContractFactory(Base):
    class Meta:
        model = Contract

    customer = factory.SubFactory(CustomerFactory)
    number = factory.Sequence(lambda n: f"K-{n:04d}")
    currency = "EUR"
    payment_terms_days = 30
    billing_cycle = "monthly"
    tax_rate = Decimal("19")
    tax_rule = "standard"
    document_formats = "pdf"
    upload_channel = "none"
    valid_from = date(2026, 1, 1)


class ProjectFactory(Base):
    class Meta:
        model = Project

    contract = factory.SubFactory(ContractFactory)
    code = factory.Sequence(lambda n: f"PRJ-{n:04d}")
    name = factory.Sequence(lambda n: f"Project {n}")


class FixedLineFactory(Base):
    class Meta:
        model = FixedLineItem

    contract = factory.SubFactory(ContractFactory)
    description = "Flat fee"
    quantity = Decimal("1")
    unit_price = Decimal("100.00")
    tax_rate = Decimal("19")
    valid_from = date(2026, 1, 1)


class RateCardFactory(Base):
    class Meta:
        model = RateCard

    name = factory.Sequence(lambda n: f"Card {n}")
    currency = "EUR"
    valid_from = date(2026, 1, 1)


class ExchangeRateFactory(Base):
    class Meta:
        model = ExchangeRate

    currency = "EUR"
    rate_date = date(2026, 11, 2)
    rate = Decimal("1.08450000")
    source = "manual"


def role(code: str) -> Role:
    return db.session.scalar(select(Role).where(Role.code == code))


def make_user(*role_codes: str, email: str | None = None, customer=None, password: str = PASSWORD,
              totp_secret: str | None = None, **fields) -> User:
    """A user with the given roles; customer users get a customer unless one is given."""
    role_codes = role_codes or ("admin",)
    if "customer" in role_codes and customer is None:
        customer = CustomerFactory()
    user = User(
        email=email or f"{'-'.join(role_codes)}.{make_user.counter}@staff.example",
        name=" ".join(role_codes).title(),
        password_hash=hash_password(password, 10),
        customer=customer,
        **{"active": True, **fields},
    )
    make_user.counter += 1
    db.session.add(user)
    user.roles = [role(code) for code in role_codes]
    if totp_secret:
        from portal.models.types import utcnow

        user.totp_secret = totp_secret
        user.totp_confirmed_at = utcnow()
    db.session.add(user)
    db.session.flush()
    return user


make_user.counter = 0
