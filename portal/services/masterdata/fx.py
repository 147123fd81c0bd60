"""Exchange rates: the rate of a date is the last one published on or before it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from portal import settings
from portal.errors import ValidationError
from portal.extensions import db
from portal.models import ExchangeRate
from portal.money import D, quantize


@dataclass(frozen=True)
class Conversion:
    amount: Decimal
    rate: Decimal
    rate_date: date
    source: str


def base_currency() -> str:
    return settings.config()["BASE_CURRENCY"]


def rate_on(currency: str, on: date) -> ExchangeRate | None:
    """The newest rate for `currency` dated on or before `on`."""
    query = (select(ExchangeRate).where(ExchangeRate.currency == currency, ExchangeRate.rate_date <= on)
             .order_by(ExchangeRate.rate_date.desc(), ExchangeRate.id.desc()).limit(1))
    return db.session.scalar(query)


def to_base(amount, currency: str, on: date) -> Conversion:
    """Convert an amount into the base currency at the rate of its date; names the field when impossible."""
    base = base_currency()
    if currency == base:
        return Conversion(quantize(amount, base), Decimal(1), on, "identity")
    rate = rate_on(currency, on)
    if rate is None:
        raise ValidationError("currency", f"no {currency} exchange rate on or before {on.isoformat()}")
    return Conversion(quantize(D(amount) * rate.rate, base), rate.rate, rate.rate_date, rate.source)
