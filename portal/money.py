"""Money helpers: Decimal only, quantized per currency; floats are refused."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 minor units that differ from 2.
_MINOR_UNITS = {
    "JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "KWD": 3, "BHD": 3, "OMR": 3, "JOD": 3, "TND": 3,
}
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
    """Number of decimal places used for amounts in this currency."""
    return _MINOR_UNITS.get(currency.upper(), 2)


def quantize(amount, currency: str) -> Decimal:
    """Round an amount half-up to the currency's minor unit."""
    exponent = Decimal(1).scaleb(-minor_units(currency))
    return D(amount).quantize(exponent, rounding=ROUND_HALF_UP)


def quantize_rate(rate) -> Decimal:
    """Round an exchange rate to the 8 places the database keeps."""
    return D(rate).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)
