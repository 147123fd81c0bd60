from decimal import Decimal

import pytest

from portal.money import D, minor_units, quantize, quantize_rate


@pytest.mark.no_db
def test_floats_are_refused():
    with pytest.raises(TypeError):
        D(0.1)


@pytest.mark.no_db
@pytest.mark.parametrize(("raw", "expected"), [("12,50", "12.50"), (" 12.50 ", "12.50"), (12, "12"),
                                             (Decimal("12.5"), "12.5")])
def test_amounts_from_text_and_ints(raw, expected):
    value = D(raw)
    assert isinstance(value, Decimal)
    assert value == Decimal(expected) and str(value) == expected  # the exact digits, not just the number


@pytest.mark.no_db
@pytest.mark.parametrize(("currency", "places"), [("EUR", 2), ("usd", 2), ("JPY", 0), ("KRW", 0), ("ISK", 0),
                                                 ("KWD", 3), ("BHD", 3), ("XAU", 2), ("XYZ", 2)])
def test_minor_units_come_from_iso4217(currency, places):
    assert minor_units(currency) == places


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


def test_eighteen_digit_amounts_and_eight_place_rates_survive_the_database(app):
    from portal.extensions import db
    from tests.support.factories import ExchangeRateFactory, FixedLineFactory

    line = FixedLineFactory(unit_price=Decimal("9999999999999999.99"))
    rate = ExchangeRateFactory(rate=Decimal("1234567890.12345678"))
    db.session.expire_all()
    assert line.unit_price == Decimal("9999999999999999.99")
    assert rate.rate == Decimal("1234567890.12345678")


def test_money_columns_refuse_floats(app):
    import sqlalchemy.exc

    from tests.support.factories import FixedLineFactory

    with pytest.raises((TypeError, sqlalchemy.exc.StatementError)):
        FixedLineFactory(unit_price=12.5)


def test_amounts_compare_numerically_in_sql(app):
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.models import FixedLineItem
    from tests.support.factories import FixedLineFactory

    contract = FixedLineFactory(unit_price=Decimal("9.50")).contract
    FixedLineFactory(contract=contract, unit_price=Decimal("100.25"))
    FixedLineFactory(contract=contract, unit_price=Decimal("20.00"))
    where = FixedLineItem.contract_id == contract.id
    assert db.session.scalar(select(func.sum(FixedLineItem.unit_price)).where(where)) == Decimal("129.75")
    above = db.session.scalars(select(FixedLineItem.unit_price).where(where, FixedLineItem.unit_price > Decimal("10")))
    assert sorted(above) == [Decimal("20.00"), Decimal("100.25")]
