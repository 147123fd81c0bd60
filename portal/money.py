"""Money helpers: Decimal only, quantized per currency; floats are refused."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from iso4217 import Currency

ZERO = Decimal(0)
DEFAULT_MINOR_UNITS = 2
RATE_PLACES = Decimal("0.00000001")


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


def minor_units(currency: str) -> int:
    """Decimal places for amounts in this currency, from the ISO 4217 table (iso4217); 2 if it has none."""
    try:
        exponent = Currency(currency.upper()).exponent
    except ValueError:  # not in the ISO 4217 table: as before, two places
        return DEFAULT_MINOR_UNITS
    return DEFAULT_MINOR_UNITS if exponent is None else exponent


def quantize(amount, currency: str) -> Decimal:
    """Round an amount half-up to the currency's minor unit."""
    exponent = Decimal(1).scaleb(-minor_units(currency))
    return D(amount).quantize(exponent, rounding=ROUND_HALF_UP)


def quantize_rate(rate) -> Decimal:
    """Round an exchange rate to the 8 places the database keeps."""
    return D(rate).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)
