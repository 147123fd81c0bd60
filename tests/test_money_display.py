"""Amounts and case data as people read them: thousands separators, the currency's decimals, words for values."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from portal import money
from portal.web.formatting import case_value


@pytest.mark.parametrize(("amount", "currency", "shown"), [
    (Decimal("1234567.5"), "EUR", "1,234,567.50 EUR"),
    (Decimal("0"), "EUR", "0.00 EUR"),
    (Decimal("-1234.5"), "usd", "-1,234.50 USD"),
    (Decimal("1234"), "JPY", "1,234 JPY"),
    (Decimal("1234.567"), "KWD", "1,234.567 KWD"),
    (Decimal("999.999"), None, "999.999"),
    (Decimal("1234.50"), None, "1,234.50"),
    (Decimal("1000000"), None, "1,000,000"),
    ("12.5", None, "12.5"),
    (None, "EUR", "—"),
])
def test_amounts_are_shown_with_thousands_separators_and_the_currencys_decimals(amount, currency, shown):
    assert money.display(amount, currency) == shown


def test_display_refuses_a_float_like_every_money_path():
    with pytest.raises(TypeError):
        money.display(0.1)


# A stored (UTC) moment reads in the default time zone, Europe/Berlin, in the tests.
@pytest.mark.parametrize(("value", "shown"), [
    (True, "Yes"), (False, "No"), (None, "—"), ("", "—"), (Decimal("8455.00"), "8,455.00"), (12345, "12345"),
    (datetime(2026, 11, 5, 14, 7, 33), "2026-11-05 15:07"), (date(2026, 11, 5), "2026-11-05"),
    ({"b": 1, "a": "ü"}, '{"b": 1, "a": "ü"}'), ("<b>", "<b>"),
])
def test_case_values_read_as_words_and_grouped_numbers(value, shown):
    assert case_value(value) == shown
