"""Money helpers: Decimal only, quantized per currency; floats are refused."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from iso4217 import Currency

from portal.errors import ValidationError

ZERO = Decimal(0)
DEFAULT_MINOR_UNITS = 2
RATE_PLACES = Decimal("0.00000001")
# What the database's amount columns hold: NUMERIC(18, places).
MAX_DIGITS = 18
# Plain decimal notation only: no exponent ("1e9"), no NaN or Infinity; "." or "," before the decimals; spaces,
# no-break spaces and apostrophes group thousands ("1 234,50", "1'234.50"); "1,234.50" has both marks: the last is
# the decimal one.
_GROUPING = re.compile(r"[\s\u00a0\u202f']")
# ASCII digits only: Decimal() also reads Arabic-Indic and full-width digits, which a reviewer cannot check by eye.
_NUMBER = re.compile(r"[+-]?(\d+)(?:\.(\d+))?", re.ASCII)


def D(value) -> Decimal:  # noqa: N802 - the short name is the point
    """Turn a str, int or Decimal into a Decimal; refuse float and garbage with a clear error."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise TypeError("money must not be a float; pass a string or Decimal")
    if isinstance(value, bool) or value is None:
        raise TypeError(f"not an amount: {value!r}")
    try:
        return Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc


def parse(raw, field: str, currency: str | None = None, *, places: int | None = None,
          positive: bool = False, negative: bool = True) -> Decimal:
    """The one parser of typed amounts and quantities: exact, with at most the currency's (or `places`) decimals;
    a ValidationError names `field` otherwise."""
    if not isinstance(raw, (str, int, Decimal)) or isinstance(raw, bool):
        raise ValidationError(field, f"“{raw}” is not a number")
    text = str(raw)
    places = minor_units(currency) if places is None and currency else places
    value = _plain_decimal(text, field)
    _check_size(value, field, places, positive=positive, negative=negative)
    if places is not None and -value.as_tuple().exponent > places:  # "12.500" in EUR: the same amount, 12.50
        value = value.quantize(Decimal(1).scaleb(-places))
    return value


def _plain_decimal(text: str, field: str) -> Decimal:
    text = _GROUPING.sub("", text.strip())
    if "," in text and "." in text:
        grouping = "," if text.rfind(",") < text.rfind(".") else "."
        text = text.replace(grouping, "")
    text = text.replace(",", ".")
    if not _NUMBER.fullmatch(text):
        raise ValidationError(field, f"“{text}” is not a number (write digits, e.g. 1234.50)")
    return Decimal(text)


def _check_size(value: Decimal, field: str, places: int | None, *, positive: bool, negative: bool) -> None:
    decimals = max(0, -value.as_tuple().exponent)
    if places is not None and decimals > places and value != value.quantize(Decimal(1).scaleb(-places)):
        raise ValidationError(field, f"allows at most {places} decimal places")
    whole_digits = len(str(abs(value).to_integral_value(rounding="ROUND_DOWN")))
    if whole_digits > MAX_DIGITS - (places if places is not None else DEFAULT_MINOR_UNITS):
        raise ValidationError(field, "is too large")
    if positive and value <= 0:
        raise ValidationError(field, "must be greater than zero")
    if not negative and value < 0:
        raise ValidationError(field, "must not be negative")


def minor_units(currency: str) -> int:
    """Decimal places for amounts in this currency, from the ISO 4217 table (iso4217); 2 if it has none."""
    try:
        exponent = Currency(currency.upper()).exponent
    except ValueError:  # not in the ISO 4217 table: as before, two places
        return DEFAULT_MINOR_UNITS
    return DEFAULT_MINOR_UNITS if exponent is None else exponent


def quantize(amount, currency: str) -> Decimal:
    """Round an amount half-up to the currency's minor unit; never a negative zero (the tax of a discount at 0 %)."""
    exponent = Decimal(1).scaleb(-minor_units(currency))
    rounded = D(amount).quantize(exponent, rounding=ROUND_HALF_UP)
    return rounded.copy_abs() if rounded.is_zero() else rounded


def quantize_rate(rate) -> Decimal:
    """Round an exchange rate to the 8 places the database keeps."""
    return D(rate).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def display(amount, currency: str | None = None, *, code: bool = True) -> str:
    """An amount for people: thousands separators, the currency's decimals and its code ("1,234.50 EUR"); digits
    beyond the currency's decimals are shown, never rounded away (a unit price of 12.50 JPY); `code=False` leaves the
    code out (amounts in a column under one currency)."""
    if amount is None:
        return "—"
    value = D(amount)
    own = max(0, -value.normalize().as_tuple().exponent) if value.is_finite() else 0
    places = max(minor_units(currency), own) if currency else max(0, -value.as_tuple().exponent)
    text = f"{value:,.{places}f}"
    if text.startswith("-") and not text.strip("-0.,"):  # "-0.00": a negative zero or less than a cent below it
        text = text[1:]
    return f"{text} {currency.upper()}" if currency and code else text
