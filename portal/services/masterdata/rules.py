"""Master-data rules: the checks every customer, contract, line, rate and template must pass."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import urlparse

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy import inspect as sa_inspect
from stdnum import bic as bic_number
from stdnum import get_cc_module
from stdnum import iban as iban_number
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as NumberError

from portal.errors import ValidationError
from portal.integrations import uploads
from portal.models import (
    Contract,
    Customer,
    CustomerBankAccount,
    CustomerContact,
    ExchangeRate,
    FixedLineItem,
    RateCard,
    RateCardItem,
)
from portal.models.contract import BILLING_CYCLES, DOCUMENT_FORMATS, FIXED_LINE_KINDS, TAX_RULES, UPLOAD_CHANNELS
from portal.models.customer import CALLLOG_AUTH, CONTACT_KINDS
from portal.models.rates import INCIDENT_PRIORITIES, RATE_ITEM_KINDS, RATE_SOURCES
from portal.models.types import ExactDecimal
from portal.money import parse

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
# Quantities: Quantity() holds 4 decimals; more than a million of anything on one line is a typing slip.
QUANTITY_PLACES = 4
MAX_QUANTITY = Decimal(1_000_000)
# Unit prices: Money() holds 2 decimals. A unit price may have more decimals than its currency (a JPY price of
# 0.50 per unit, docs/sap_mapping.md), never more than its column, which would round it silently.
UNIT_PRICE_PLACES = 2
# Exchange rates: base currency per unit. The largest real ones (rial per dinar) stay below ten million; Rate()
# would hold up to 10**10 but a rate that size is a slip of the keyboard.
MAX_RATE = Decimal(10_000_000)
_MAX_INTEGER = 2**31 - 1  # INTEGER on PostgreSQL; SQLite's is larger, so this is the limit both hold
# EU VAT ids carry their country's prefix, which is the ISO code except for Greece.
_VAT_PREFIX = {"GR": "EL"}


def validate(obj) -> None:
    """Raise ValidationError naming every field its column cannot hold and the first master-data rule `obj` breaks."""
    errors = column_limits(obj)
    checker = _CHECKERS.get(type(obj))
    if checker:
        _apply_column_defaults(obj)
        try:
            checker(obj)
        except ValidationError as exc:
            for field, message in exc.errors.items():
                errors.setdefault(field, message)
    if errors:
        raise ValidationError.of(errors)


def column_limits(obj) -> dict[str, str]:
    """Field -> what is wrong, for every value longer, larger or more precise than its column holds."""
    errors = {}
    for attribute in sa_inspect(type(obj)).column_attrs:
        column = attribute.columns[0]
        if not isinstance(column.type, String | ExactDecimal | Integer):
            continue  # no limit to check, and a deferred file body is not loaded for nothing
        value = getattr(obj, attribute.key, None)
        problem = _too_long(column, value) or _does_not_fit(column, value) or _integer_too_large(column, value)
        if problem:
            errors[attribute.key] = problem
    return errors


def _too_long(column, value) -> str | None:
    length = getattr(column.type, "length", None)
    if isinstance(value, str) and isinstance(length, int) and len(value) > length:
        return f"allows at most {length} characters"
    return None


def _does_not_fit(column, value) -> str | None:
    """An exact decimal column refuses what it would round (0.001 in a Money column) or overflow (a rate of 1e30)."""
    if not isinstance(column.type, ExactDecimal) or not isinstance(value, Decimal | int) or isinstance(value, bool):
        return None
    value, scale = Decimal(value), column.type.scale
    whole_digits = column.type.impl.precision - scale
    if not value.is_finite():
        return "is not a number"
    if value and value.adjusted() >= whole_digits:  # checked first: quantize() fails on numbers this large
        return f"is too large (at most {whole_digits} digits before the decimal mark)"
    if value != value.quantize(Decimal(1).scaleb(-scale)):
        return f"allows at most {scale} decimal places"
    return None


def _integer_too_large(column, value) -> str | None:
    if isinstance(column.type, Integer) and not isinstance(column.type, BigInteger) and isinstance(value, int) \
            and abs(value) > _MAX_INTEGER:
        return "is too large"
    return None


def parse_quantity(raw, field: str = "quantity") -> Decimal:
    """A quantity typed by people: plain digits, up to 4 decimals, more than zero and at most a million."""
    return check_quantity(field, parse(raw, field, places=QUANTITY_PLACES, positive=True))


def check_quantity(field: str, value) -> Decimal:
    """A quantity is more than zero and at most a million."""
    if value is None or Decimal(value) <= 0:
        raise ValidationError(field, "must be greater than zero")
    if Decimal(value) > MAX_QUANTITY:
        raise ValidationError(field, f"must be at most {MAX_QUANTITY:,}")
    return value


def parse_unit_price(raw, field: str = "unit_price", *, discount: bool = False) -> Decimal:
    """A unit price typed by people: plain digits, up to 2 decimals, not negative (below zero on a discount)."""
    return check_unit_price(field, parse(raw, field, places=UNIT_PRICE_PLACES), discount=discount)


def check_unit_price(field: str, value, *, discount: bool = False) -> Decimal:
    """A unit price is given; a charge's is zero or more, a discount's below zero: the only negative prices, which
    the UBL file turns into a negative quantity at a positive price (EN 16931 BR-27)."""
    if value is None:
        raise ValidationError(field, "is required")
    if discount and Decimal(value) >= 0:
        raise ValidationError(field, "must be below zero on a discount line")
    if not discount and Decimal(value) < 0:
        raise ValidationError(field, "must not be negative (a discount is a line of the kind Discount)")
    return value


def check_rate(field: str, value) -> Decimal:
    """An exchange rate is more than zero and at most ten million units of the base currency."""
    if value is None or Decimal(value) <= 0:
        raise ValidationError(field, "must be greater than zero")
    if Decimal(value) > MAX_RATE:
        raise ValidationError(field, f"must be at most {MAX_RATE:,}")
    return value


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
    _vat_id(c)
    _call_logging(c)


def _vat_id(c: Customer) -> None:
    """The VAT id as its country's registry writes it: EU ids by stdnum.eu.vat, others by the country's module."""
    if not c.vat_id:
        return
    if not re.fullmatch(r"[A-Z0-9]{4,20}", c.vat_id):
        raise ValidationError("vat_id", "letters and digits only, 4 to 20 characters, e.g. DE123456789")
    # Ids stored before this check are checked when they or the country change, so they block no unrelated edit.
    if not _new_or_changed(c, "vat_id", "billing_country"):
        return
    country = c.billing_country or c.vat_id[:2]
    module = _vat_module(country)
    if module is eu_vat and c.billing_country and not c.vat_id.startswith(_VAT_PREFIX.get(country, country)):
        raise ValidationError("vat_id", f"a VAT id from {country} starts with {_VAT_PREFIX.get(country, country)}")
    if module is None:
        return  # stdnum knows no VAT number of this country: the format check above is all there is
    try:
        module.validate(c.vat_id)
    except NumberError as exc:
        raise ValidationError("vat_id", f"is not a valid VAT id of {country}: {str(exc).lower()}") from None


def _vat_module(country: str):
    """stdnum's module for the VAT ids of a country (ISO code, or EL for Greece), None if it has none."""
    code = {"EL": "GR"}.get(country, country).lower()
    if code in eu_vat.MEMBER_STATES:
        return eu_vat
    return get_cc_module(code, "vat") if re.fullmatch(r"[a-z]{2}", code) else None


def _new_or_changed(obj, *names: str) -> bool:
    """Whether `obj` is not stored yet or one of `names` differs from what is stored."""
    state = sa_inspect(obj)
    return not state.persistent or any(state.attrs[name].history.has_changes() for name in names)


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


def _bank_account(account: CustomerBankAccount) -> None:
    """The IBAN's country format and checksum, the BIC's format (python-stdnum); both kept compact."""
    try:
        account.iban = iban_number.validate(account.iban or "")
    except NumberError as exc:
        raise ValidationError("iban", f"{account.iban or ''!r} is not a valid IBAN ({exc})") from None
    if account.bic:
        try:
            account.bic = bic_number.validate(account.bic)
        except NumberError as exc:
            raise ValidationError("bic", f"{account.bic!r} is not a valid BIC ({exc})") from None


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
    _choice("kind", line.kind, FIXED_LINE_KINDS)
    _required("description", line.description)
    check_quantity("quantity", line.quantity)
    check_unit_price("unit_price", line.unit_price, discount=line.kind == "discount")
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
    check_rate("rate", rate.rate)
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
        raise ValidationError("valid_to", "must not be before the start date (Valid from)")


_CHECKERS = {
    Customer: _customer,
    CustomerContact: _contact,
    CustomerBankAccount: _bank_account,
    Contract: _contract,
    FixedLineItem: _fixed_line,
    RateCard: _rate_card,
    RateCardItem: _rate_card_item,
    ExchangeRate: _exchange_rate,
}
