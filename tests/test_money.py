from decimal import Decimal

import pytest

from portal.money import D, quantize, quantize_rate


@pytest.mark.no_db
def test_floats_are_refused():
    with pytest.raises(TypeError):
        D(0.1)


@pytest.mark.no_db
@pytest.mark.parametrize("raw", ["12,50", " 12.50 ", 12, Decimal("12.5")])
def test_amounts_from_text_and_ints(raw):
    assert D(raw) == Decimal("12.5") or D(raw) == Decimal("12")


@pytest.mark.no_db
def test_garbage_names_the_value():
    with pytest.raises(ValueError, match="abc"):
        D("abc")


@pytest.mark.no_db
@pytest.mark.parametrize(("currency", "expected"), [("EUR", "2.68"), ("JPY", "3"), ("KWD", "2.675")])
def test_quantize_per_currency_half_up(currency, expected):
    assert quantize("2.675", currency) == Decimal(expected)


@pytest.mark.no_db
def test_rates_keep_eight_places():
    assert quantize_rate("1.234567891") == Decimal("1.23456789")
