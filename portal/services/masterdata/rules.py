"""Master-data rules: the checks every customer, contract, line, rate and template must pass."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import urlparse

from portal.errors import ValidationError
from portal.integrations import uploads
from portal.models import (
    Contract,
    Customer,
    CustomerContact,
    ExchangeRate,
    FixedLineItem,
    RateCard,
    RateCardItem,
)
from portal.models.contract import BILLING_CYCLES, DOCUMENT_FORMATS, TAX_RULES, UPLOAD_CHANNELS
from portal.models.customer import CALLLOG_AUTH, CONTACT_KINDS
from portal.models.rates import INCIDENT_PRIORITIES, RATE_ITEM_KINDS, RATE_SOURCES

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


def validate(obj) -> None:
    """Raise ValidationError naming the field if `obj` breaks a master-data rule."""
    checker = _CHECKERS.get(type(obj))
    if checker:
        _apply_column_defaults(obj)
        checker(obj)


def _apply_column_defaults(obj) -> None:
    """Give unset attributes their column's scalar default now, so the rules see what will be saved."""
    for column in obj.__table__.columns:
        default = column.default
        if default is not None and default.is_scalar and getattr(obj, column.key, None) is None:
            setattr(obj, column.key, default.arg)


def _customer(c: Customer) -> None:
    _code("code", c.code)
    _required("name", c.name)
    _currency("currency", c.currency)
    if c.billing_country and not re.fullmatch(r"[A-Z]{2}", c.billing_country):
        raise ValidationError("billing_country", "use the two-letter ISO code, e.g. DE")
    if c.vat_id and not re.fullmatch(r"[A-Z0-9]{4,20}", c.vat_id):
        raise ValidationError("vat_id", "letters and digits only, 4 to 20 characters, e.g. DE123456789")
    _call_logging(c)


def _call_logging(c: Customer) -> None:
    _choice("calllog_auth", c.calllog_auth, CALLLOG_AUTH)
    if c.calllog_auth == "none":
        return
    if urlparse(c.calllog_url or "").scheme not in ("http", "https"):
        raise ValidationError("calllog_url", "give the call-logging system's https:// address")
    if c.calllog_auth == "basic" and not c.calllog_username:
        raise ValidationError("calllog_username", "basic authentication needs a user name")
    if c.calllog_auth == "oauth" and not c.calllog_client_id:
        raise ValidationError("calllog_client_id", "OAuth needs a client id")


def _contact(c: CustomerContact) -> None:
    _required("name", c.name)
    _choice("kind", c.kind, CONTACT_KINDS)
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", c.email or ""):
        raise ValidationError("email", "not an e-mail address")


def _contract(c: Contract) -> None:
    _code("number", c.number)
    _currency("currency", c.currency)
    if c.payment_terms_days is None or not 0 <= c.payment_terms_days <= 365:
        raise ValidationError("payment_terms_days", "must be between 0 and 365")
    _choice("billing_cycle", c.billing_cycle, BILLING_CYCLES)
    _choice("tax_rule", c.tax_rule, TAX_RULES)
    _percent("tax_rate", c.tax_rate)
    unknown = set(c.formats) - set(DOCUMENT_FORMATS)
    if unknown:
        allowed = ", ".join(DOCUMENT_FORMATS)
        raise ValidationError("document_formats", f"unknown {', '.join(sorted(unknown))}; use {allowed}")
    _upload_channel(c)
    _period(c.valid_from, c.valid_to)


def _upload_channel(c: Contract) -> None:
    _choice("upload_channel", c.upload_channel, UPLOAD_CHANNELS)
    if c.upload_channel == "none":
        return
    url = urlparse(c.upload_url or "")
    if url.scheme != c.upload_channel or not url.hostname:
        raise ValidationError("upload_url", f"a {c.upload_channel} channel needs a {c.upload_channel}://host/path URL")
    upload_channel_of(c)  # host keys and CA certificates are checked when saved, not at the first upload


def upload_channel_of(contract: Contract) -> uploads.Channel:
    """The contract's upload channel; a wrong setting is a ValidationError naming the contract's field."""
    try:
        return uploads.Channel(kind=contract.upload_channel, url=contract.upload_url or "",
                               username=contract.upload_username or "", secret=contract.upload_secret or "",
                               host_key=contract.upload_host_key or "",
                               ca_certificates=contract.upload_ca_certificates or "")
    except uploads.ChannelError as exc:
        field = "upload_channel" if exc.field == "kind" else f"upload_{exc.field}"
        raise ValidationError(field, f"contract {contract.number}: {exc}") from exc


def _fixed_line(line: FixedLineItem) -> None:
    _required("description", line.description)
    if line.quantity is None or Decimal(line.quantity) <= 0:
        raise ValidationError("quantity", "must be greater than zero")
    if line.unit_price is None:
        raise ValidationError("unit_price", "is required")
    _percent("tax_rate", line.tax_rate)
    _period(line.valid_from, line.valid_to)


def _rate_card(card: RateCard) -> None:
    _required("name", card.name)
    _currency("currency", card.currency)
    _period(card.valid_from, card.valid_to)


def _rate_card_item(item: RateCardItem) -> None:
    _choice("kind", item.kind, RATE_ITEM_KINDS)
    _required("key", item.key)
    if item.kind == "incident":
        _choice("key", item.key, INCIDENT_PRIORITIES)
    if item.unit_price is None or Decimal(item.unit_price) < 0:
        raise ValidationError("unit_price", "must be zero or more")


def _exchange_rate(rate: ExchangeRate) -> None:
    _currency("currency", rate.currency)
    if rate.rate_date is None:
        raise ValidationError("rate_date", "is required")
    if rate.rate is None or Decimal(rate.rate) <= 0:
        raise ValidationError("rate", "must be greater than zero")
    _choice("source", rate.source, RATE_SOURCES)


def _required(field: str, value) -> None:
    if value is None or not str(value).strip():
        raise ValidationError(field, "is required")


def _code(field: str, value) -> None:
    _required(field, value)
    if not _CODE.fullmatch(value):
        raise ValidationError(field, "letters, digits and . _ / - only, starting with a letter or digit")


def _currency(field: str, value) -> None:
    if not _CURRENCY.fullmatch(value or ""):
        raise ValidationError(field, "use a three-letter ISO 4217 code in capitals, e.g. USD")


def _choice(field: str, value, allowed) -> None:
    if value not in allowed:
        raise ValidationError(field, f"must be one of {', '.join(allowed)}")


def _percent(field: str, value) -> None:
    if value is None or not Decimal(0) <= Decimal(value) <= Decimal(100):
        raise ValidationError(field, "must be a percentage between 0 and 100")


def _period(valid_from, valid_to) -> None:
    if valid_from is None:
        raise ValidationError("valid_from", "is required")
    if valid_to is not None and valid_to < valid_from:
        raise ValidationError("valid_to", "must not be before valid_from")


_CHECKERS = {
    Customer: _customer,
    CustomerContact: _contact,
    Contract: _contract,
    FixedLineItem: _fixed_line,
    RateCard: _rate_card,
    RateCardItem: _rate_card_item,
    ExchangeRate: _exchange_rate,
}
