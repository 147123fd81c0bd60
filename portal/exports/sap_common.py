"""Value formatting shared by the SAP outputs (IDoc XML, upload CSV): Decimal in, plain text out, never float."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from portal.exports.document import Document
from portal.money import minor_units

# Characters XML 1.0 forbids (and SAP cannot store); tab, LF and CR are handled as whitespace.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Tax category when a rate has no TaxBreakdown, by Document.tax_rule (UNCL5305 codes).
_RULE_CATEGORY = {"reverse_charge": "AE", "exempt": "E"}


def decimal_text(value: Decimal, min_places: int = 0) -> str:
    """Dot-decimal text with at least `min_places` decimals; refuses float, int and non-finite values."""
    if not isinstance(value, Decimal):
        raise TypeError(f"expected Decimal, got {type(value).__name__} {value!r}")
    if not value.is_finite():
        raise ValueError(f"not a finite amount: {value}")
    if value.as_tuple().exponent > -min_places:  # only pads with zeros, never rounds
        value = value.quantize(Decimal(1).scaleb(-min_places))
    if value.is_zero():
        value = value.copy_abs()  # no "-0.00"
    return format(value, "f")


def money_text(value: Decimal, currency: str) -> str:
    """An amount with exactly the currency's minor units; raises instead of rounding."""
    places = minor_units(currency)
    if isinstance(value, Decimal) and value.is_finite() and value.as_tuple().exponent < -places:
        if value != value.quantize(Decimal(1).scaleb(-places)):
            raise ValueError(f"{value} has more decimals than {currency} allows ({places}); quantize it first")
        value = value.quantize(Decimal(1).scaleb(-places))
    return decimal_text(value, places)


def rate_text(rate: Decimal) -> str:
    """A tax rate in percent with two decimals, more only where the rate has them: 19.00, 8.875 (not 19.0000)."""
    if isinstance(rate, Decimal) and rate.is_finite():
        rate = rate.normalize()  # the Percent column hands back four decimals, the mapping shows what matters
    return decimal_text(rate, 2)


def sap_date(value: date) -> str:
    """SAP date text YYYYMMDD."""
    return value.strftime("%Y%m%d")


def single_line(value: str) -> str:
    """Text on one line: control characters dropped, runs of whitespace collapsed to one space."""
    return " ".join(_CONTROL.sub("", value or "").split())


def tax_category(document: Document, rate: Decimal) -> str:
    """UNCL5305 category of a rate: from the document's TaxBreakdown, else from its tax rule and the rate."""
    for tax in document.taxes:
        if tax.rate == rate:
            return tax.category
    return _RULE_CATEGORY.get(document.tax_rule) or ("Z" if rate == 0 else "S")
