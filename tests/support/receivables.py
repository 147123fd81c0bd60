"""Receivables fixtures: rates, issued invoices and recorded payments in a few lines each."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from portal.extensions import db
from portal.models import ExchangeRate
from portal.services.receivables import invoicing, payments
from portal.services.receivables.invoicing import LineInput
from portal.services.receivables.payments import PaymentInput

BY = "accountant@example.test"


def rate(currency: str, day: date, value: str, source: str = "manual") -> ExchangeRate:
    """Base-currency units one `currency` buys on `day`."""
    row = ExchangeRate(currency=currency, rate_date=day, rate=Decimal(value), source=source)
    db.session.add(row)
    db.session.flush()
    return row


def invoice(customer, amount: str, currency: str = "USD", on: date = date(2026, 1, 10), *, tax: str = "0",
            contract=None, description: str = "Service desk", due_days: int | None = None):
    """An issued invoice of one line of `amount` net."""
    draft = invoicing.create_draft("invoice", customer, currency, [LineInput(description, "1", amount, tax)],
                                   issue_date=on, created_by=BY, contract=contract,
                                   due_date=None if due_days is None else date.fromordinal(on.toordinal() + due_days))
    return invoicing.issue(draft, BY)


def pay(customer, amount: str, currency: str = "USD", on: date = date(2026, 1, 20), *, text: str = "",
        reference: str = "", **more):
    """A recorded payment of `customer` (by its code), or unidentified when customer is None."""
    return payments.record(PaymentInput(amount=amount, currency=currency, value_date=on, text=text,
                                        bank_reference=reference, customer_code=customer.code if customer else "",
                                        **more), BY)
