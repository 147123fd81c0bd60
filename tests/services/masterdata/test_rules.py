"""Master-data rules on every save: each column's limits, quantities, unit prices, rates and VAT ids per country."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from portal.errors import ValidationError
from portal.extensions import db
from portal.models import Customer, ExchangeRate, FixedLineItem
from portal.services.masterdata import rules
from tests.support import factories

NEGATIVE = "must not be negative (a discount is a line of the kind Discount)"


def customer(**fields) -> Customer:
    return Customer(**{"code": "ACME", "name": "Acme GmbH", "currency": "EUR", "billing_country": "DE", **fields})


def fixed_line(**fields) -> FixedLineItem:
    return FixedLineItem(**{"description": "Fee", "quantity": Decimal("1"), "unit_price": Decimal("10.00"),
                            "tax_rate": Decimal("19"), "valid_from": date(2026, 1, 1), **fields})


def refusal(obj) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        rules.validate(obj)
    return caught.value


# ---------------------------------------------------------------- every column's limits

@pytest.mark.no_db
def test_a_5000_character_billing_city_is_refused_naming_the_field():
    error = refusal(customer(billing_city="x" * 5000))
    assert (error.field, error.message) == ("billing_city", "allows at most 100 characters")


@pytest.mark.no_db
def test_every_field_over_its_length_is_reported_at_once():
    error = refusal(customer(billing_city="x" * 101, billing_postcode="1" * 21, name="n" * 201))
    assert error.errors == {"name": "allows at most 200 characters", "billing_city": "allows at most 100 characters",
                            "billing_postcode": "allows at most 20 characters"}


@pytest.mark.no_db
def test_a_value_exactly_as_long_as_its_column_is_accepted():
    rules.validate(customer(billing_city="x" * 100))


@pytest.mark.no_db
def test_a_price_of_0_001_in_a_money_column_is_refused_not_rounded():
    line = fixed_line(unit_price=Decimal("0.001"))
    error = refusal(line)
    assert (error.field, error.message) == ("unit_price", "allows at most 2 decimal places")
    assert line.unit_price == Decimal("0.001")  # nothing rounded behind the user's back


@pytest.mark.no_db
def test_trailing_zeros_beyond_the_scale_are_the_same_amount():
    rules.validate(fixed_line(unit_price=Decimal("12.5000"), quantity=Decimal("2.00000")))


@pytest.mark.no_db
@pytest.mark.parametrize(("rate", "message"), [
    (Decimal("1E+30"), "is too large (at most 10 digits before the decimal mark)"),
    (Decimal("10000000000"), "is too large (at most 10 digits before the decimal mark)"),
    (Decimal("1.123456789"), "allows at most 8 decimal places"),
    (Decimal("10000000.00000001"), "must be at most 10,000,000"),
    (Decimal("0"), "must be greater than zero"),
    (Decimal("-1.5"), "must be greater than zero"),
])
def test_exchange_rates_are_positive_bounded_and_kept_with_8_decimals(rate, message):
    error = refusal(ExchangeRate(currency="USD", rate_date=date(2026, 1, 5), rate=rate, source="manual"))
    assert (error.field, error.message) == ("rate", message)


@pytest.mark.no_db
@pytest.mark.parametrize("rate", [Decimal("0.00000001"), Decimal("1.08450000"), Decimal("10000000")])
def test_exchange_rates_within_the_bounds_are_accepted(rate):
    rules.validate(ExchangeRate(currency="USD", rate_date=date(2026, 1, 5), rate=rate, source="manual"))


# ---------------------------------------------------------------- quantities and unit prices

@pytest.mark.no_db
@pytest.mark.parametrize(("quantity", "message"), [
    (Decimal("1E+9"), "must be at most 1,000,000"),
    (Decimal("1000000.0001"), "must be at most 1,000,000"),
    (Decimal("0"), "must be greater than zero"),
    (Decimal("-2"), "must be greater than zero"),
    (Decimal("1.00001"), "allows at most 4 decimal places"),
])
def test_fixed_line_quantities_are_positive_at_most_a_million_with_4_decimals(quantity, message):
    error = refusal(fixed_line(quantity=quantity))
    assert (error.field, error.message) == ("quantity", message)


@pytest.mark.no_db
def test_a_negative_unit_price_on_a_fixed_line_item_is_refused():
    error = refusal(fixed_line(unit_price=Decimal("-5.00")))
    assert (error.field, error.message) == ("unit_price", NEGATIVE)


@pytest.mark.no_db
def test_a_million_and_a_free_line_are_accepted():
    rules.validate(fixed_line(quantity=Decimal("1000000"), unit_price=Decimal("0")))


@pytest.mark.no_db
@pytest.mark.parametrize(("raw", "message"), [
    ("1e9", "“1e9” is not a number (write digits, e.g. 1234.50)"),
    ("1000000000", "must be at most 1,000,000"),
    ("0.00001", "allows at most 4 decimal places"),
    ("0", "must be greater than zero"),
])
def test_typed_quantities_are_parsed_strictly(raw, message):
    with pytest.raises(ValidationError) as caught:
        rules.parse_quantity(raw)
    assert (caught.value.field, caught.value.message) == ("quantity", message)


@pytest.mark.no_db
@pytest.mark.parametrize(("raw", "message"), [
    ("0.001", "allows at most 2 decimal places"),
    ("-0.01", NEGATIVE),
    ("1E+2", "“1E+2” is not a number (write digits, e.g. 1234.50)"),
])
def test_typed_unit_prices_are_parsed_strictly(raw, message):
    with pytest.raises(ValidationError) as caught:
        rules.parse_unit_price(raw)
    assert (caught.value.field, caught.value.message) == ("unit_price", message)


@pytest.mark.no_db
def test_typed_quantities_and_prices_within_the_limits_are_exact():
    assert rules.parse_quantity("1 000 000") == Decimal("1000000")
    assert rules.parse_quantity("0,0001") == Decimal("0.0001")
    assert rules.parse_unit_price("0") == Decimal("0")


# ---------------------------------------------------------------- VAT ids per country

@pytest.mark.no_db
def test_vat_id_de123_is_refused_naming_the_field():
    error = refusal(customer(vat_id="DE123"))
    assert (error.field, error.message) == ("vat_id", "is not a valid VAT id of DE: the number has an invalid length.")


@pytest.mark.no_db
@pytest.mark.parametrize(("country", "vat_id", "message"), [
    ("DE", "DE811907981", "is not a valid VAT id of DE: the number's checksum or check digit is invalid."),
    ("DE", "FR40303265045", "a VAT id from DE starts with DE"),
    ("GR", "GR094259216", "a VAT id from GR starts with EL"),
    ("GB", "GB123456789", "is not a valid VAT id of GB: the number's checksum or check digit is invalid."),
    ("", "DE123", "is not a valid VAT id of DE: the number has an invalid length."),
])
def test_vat_ids_are_checked_by_their_countrys_rules(country, vat_id, message):
    error = refusal(customer(billing_country=country, vat_id=vat_id))
    assert (error.field, error.message) == ("vat_id", message)


@pytest.mark.no_db
@pytest.mark.parametrize(("country", "vat_id"), [
    ("DE", "DE811907980"), ("FR", "FR40303265045"), ("GR", "EL094259216"), ("GB", "GB980780684"),
    ("US", "US941234567"),  # stdnum has no US VAT number: the format check is all there is
    ("DE", ""),
])
def test_valid_vat_ids_and_countries_stdnum_does_not_know_are_accepted(country, vat_id):
    rules.validate(customer(billing_country=country, vat_id=vat_id))


def test_a_stored_vat_id_is_checked_again_only_when_it_or_the_country_changes(app):
    stored = factories.CustomerFactory(vat_id="DE100000000")  # saved before the check came in
    stored.name = "Renamed GmbH"
    rules.validate(stored)
    stored.billing_country = "AT"
    assert refusal(stored).field == "vat_id"
    stored.billing_country, stored.vat_id = "DE", "DE123"
    assert refusal(stored).field == "vat_id"
    db.session.rollback()


@pytest.mark.no_db
def test_column_limits_and_the_first_broken_rule_are_reported_together():
    error = refusal(fixed_line(description="d" * 301, unit_price=Decimal("-5.00")))
    assert error.errors == {"description": "allows at most 300 characters", "unit_price": NEGATIVE}
