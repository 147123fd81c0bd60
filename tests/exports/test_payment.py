"""Payment reference (ISO 11649 creditor reference of the proforma number) and the account as people read it."""

from __future__ import annotations

import pytest
from stdnum import iso11649

from portal.exports.document import BankAccount
from portal.exports.payment import grouped_iban, grouped_reference, payment_reference, seller_account

pytestmark = pytest.mark.no_db


@pytest.mark.parametrize(("number", "reference"), [
    ("PF-K-0001-2026-11", "RF28PFK0001202611"),
    ("PF-C-2026-001-2026-10", "RF59PFC2026001202610"),
    ("pf-2026-11-0042", "RF91PF2026110042"),
])
def test_the_reference_is_the_creditor_reference_of_the_numbers_letters_and_digits(number, reference):
    assert payment_reference(number) == reference
    assert iso11649.is_valid(reference)


def test_the_standard_example_comes_out_right():
    assert payment_reference("5390 0754 7034") == "RF18539007547034"  # ISO 11649's own example


def test_a_number_too_long_for_a_creditor_reference_is_its_own_reference():
    number = "PF-" + "K" * 19 + "-2026-11"  # 28 letters and digits, ISO 11649 holds 21
    assert payment_reference(number) == number
    assert grouped_reference(number) == number


def test_iban_and_reference_read_in_groups_of_four():
    assert grouped_iban(BankAccount("DE89370400440532013000")) == "DE89 3704 0044 0532 0130 00"
    assert grouped_reference("RF28PFK0001202611") == "RF28 PFK0 0012 0261 1"


def test_the_account_comes_from_the_seller_settings():
    settings = {"SELLER_IBAN": "DE89370400440532013000", "SELLER_BIC": "COBADEFFXXX", "SELLER_BANK_NAME": "Demo Bank"}
    assert seller_account(settings) == BankAccount("DE89370400440532013000", "COBADEFFXXX", "Demo Bank")
