from decimal import Decimal

import pytest

from portal import money
from portal.money import D, minor_units, parse, quantize, quantize_rate


@pytest.mark.no_db
def test_floats_are_refused():
    with pytest.raises(TypeError):
        D(0.1)


@pytest.mark.no_db
@pytest.mark.parametrize(("raw", "expected"), [("12,50", "12.50"), (" 12.50 ", "12.50"), (12, "12"),
                                             (Decimal("12.5"), "12.5"), ("-3,75", "-3.75"), (0, "0"),
                                             ("0.005", "0.005")])
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


# ---- money.parse: the one parser of typed amounts ---------------------------------------------------------------

@pytest.mark.no_db
@pytest.mark.parametrize(("raw", "expected"), [
    ("12,50", "12.50"), (" 12.50 ", "12.50"), ("1 234,50", "1234.50"), ("1\u00a0234,50", "1234.50"),
    ("1'234.50", "1234.50"), ("1,234.50", "1234.50"), ("1.234,50", "1234.50"), ("-5", "-5"), ("+3", "3"),
    ("12.500", "12.50"), (7, "7"), (Decimal("0.10"), "0.10"),
])
def test_parse_reads_what_people_type(raw, expected):
    value = parse(raw, "price", "EUR")
    assert str(value) == expected


@pytest.mark.no_db
@pytest.mark.parametrize(("raw", "message"), [
    ("1e9", "not a number"), ("NaN", "not a number"), ("Infinity", "not a number"), ("1.2.3", "not a number"),
    ("", "not a number"), ("12 EUR", "not a number"), (12.5, "not a number"), (True, "not a number"),
    (None, "not a number"), ("0.001", "at most 2 decimal places"), ("99999999999999999", "too large"),
])
def test_parse_refuses_with_the_field_named(raw, message):
    from portal.errors import ValidationError

    with pytest.raises(ValidationError, match=message) as caught:
        parse(raw, "unit_price", "EUR")
    assert caught.value.field == "unit_price"


@pytest.mark.no_db
def test_parse_follows_the_currency_or_the_places_given():
    from portal.errors import ValidationError

    assert parse("1.125", "amount", "KWD") == Decimal("1.125")
    with pytest.raises(ValidationError, match="at most 0 decimal places"):
        parse("10.5", "amount", "JPY")
    assert parse("0.0125", "quantity", places=4) == Decimal("0.0125")
    assert parse("0.00001", "rate") == Decimal("0.00001")  # no currency, no places: exact as typed


@pytest.mark.no_db
def test_parse_sign_rules():
    from portal.errors import ValidationError

    with pytest.raises(ValidationError, match="greater than zero"):
        parse("0", "quantity", positive=True)
    with pytest.raises(ValidationError, match="must not be negative"):
        parse("-0.01", "amount", "EUR", negative=False)
    assert parse("0", "amount", "EUR", negative=False) == 0


# ---- found by the mutation run (docs/testing.md): exact messages, boundaries, rounding of rates -----------------

@pytest.mark.no_db
@pytest.mark.parametrize("value", [None, True, False])
def test_none_and_booleans_are_not_amounts(value):
    with pytest.raises(TypeError, match=f"^not an amount: {value!r}$"):
        D(value)


@pytest.mark.no_db
def test_the_float_refusal_says_what_to_pass():
    with pytest.raises(TypeError, match=r"^money must not be a float; pass a string or Decimal$"):
        D(1.5)


@pytest.mark.no_db
@pytest.mark.parametrize("raw", ["1.234,567.89", "1,234.567,89"])
def test_decimal_marks_in_the_wrong_order_are_refused(raw):
    from portal.errors import ValidationError

    with pytest.raises(ValidationError, match="not a number"):
        parse(raw, "amount")


@pytest.mark.no_db
def test_the_largest_amount_a_column_holds_is_accepted_and_one_digit_more_is_not():
    from portal.errors import ValidationError

    assert parse("9999999999999999.99", "amount", "EUR") == Decimal("9999999999999999.99")  # NUMERIC(18, 2)
    assert parse("99999999999999.9999", "quantity", places=4) == Decimal("99999999999999.9999")  # NUMERIC(18, 4)
    with pytest.raises(ValidationError) as caught:
        parse("100000000000000", "quantity", places=4)
    assert (caught.value.field, caught.value.message) == ("quantity", "is too large")


@pytest.mark.no_db
@pytest.mark.parametrize(("raw", "options", "message"), [
    ("0", {"positive": True}, "must be greater than zero"),
    ("-1", {"negative": False}, "must not be negative"),
])
def test_sign_errors_name_the_field_exactly(raw, options, message):
    from portal.errors import ValidationError

    with pytest.raises(ValidationError) as caught:
        parse(raw, "quantity", **options)
    assert (caught.value.field, caught.value.message) == ("quantity", message)


@pytest.mark.no_db
def test_a_quantity_below_one_is_positive():
    assert parse("0.5", "quantity", places=4, positive=True) == Decimal("0.5")


@pytest.mark.no_db
def test_rates_round_half_up_not_half_even():
    assert quantize_rate("1.234567885") == Decimal("1.23456789")
    assert quantize_rate("1.234567875") == Decimal("1.23456788")


# ---- strict input (issue 10): exponent notation in every spelling, digits people can check by eye ---------------

@pytest.mark.no_db
@pytest.mark.parametrize("raw", ["1e9", "1E9", "1E+9", "1e-3", "1.5e2", Decimal("1E+9"), "١٢٣", "１２.５"])
def test_exponents_and_non_ascii_digits_are_not_numbers(raw):
    from portal.errors import ValidationError

    with pytest.raises(ValidationError, match="is not a number") as caught:
        parse(raw, "quantity", places=4)
    assert caught.value.field == "quantity"


@pytest.mark.no_db
def test_a_zero_is_never_negative_when_rounded_or_shown():
    # the tax of a discount line at 0 % is -25.00 x 0 / 100: "-0.00" on the page and in the files before
    assert str(money.quantize(Decimal("-25.00") * 0 / 100, "EUR")) == "0.00"
    assert str(money.quantize(Decimal("-0.004"), "EUR")) == "0.00"
    assert money.display(Decimal("-0.00"), "EUR") == "0.00 EUR"
    assert money.display(Decimal("-0.01"), "EUR") == "-0.01 EUR"
    assert money.display(Decimal("-1234.5"), "EUR") == "-1,234.50 EUR"


@pytest.mark.no_db
@pytest.mark.parametrize(("amount", "currency", "shown"), [
    ("146913.00", "JPY", "146,913 JPY"),  # a Money column's two decimals, in a currency without minor units
    ("12.50", "JPY", "12.5 JPY"),  # a unit price's own decimals are never rounded away
    ("0.125", "EUR", "0.125 EUR"),
    ("1234.5", "EUR", "1,234.50 EUR"),
    ("1000", "KWD", "1,000.000 KWD"),
])
def test_amounts_show_the_currencys_decimals_and_never_hide_digits(amount, currency, shown):
    assert money.display(Decimal(amount), currency) == shown


@pytest.mark.no_db
def test_an_amount_in_a_column_under_one_currency_leaves_the_code_out():
    assert money.display(Decimal("4500"), "EUR", code=False) == "4,500.00"
