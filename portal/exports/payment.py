"""How a proforma is paid: the payment reference derived from its number, and the seller's account as text."""

from __future__ import annotations

import re
from collections.abc import Mapping

from stdnum import iban as iban_numbers
from stdnum import iso11649
from stdnum.iso7064 import mod_97_10

from portal.exports.document import BankAccount

RF_BODY_LENGTH = 21  # ISO 11649: "RF", two check digits, then at most 21 letters and digits
_NOT_ALPHANUMERIC = re.compile(r"[^0-9A-Za-z]")


def payment_reference(number: str) -> str:
    """The reference a payer quotes for a proforma: the ISO 11649 creditor reference of its number.

    The body is the number's letters and digits, upper-cased ("PF-K-0001-2026-11" gives RF28PFK0001202611), so
    a bank statement still shows the number and the two check digits catch a mistyped reference. A number
    with more than 21 letters and digits has no creditor reference: the number itself is the reference then.
    """
    body = _NOT_ALPHANUMERIC.sub("", number).upper()
    if not body or len(body) > RF_BODY_LENGTH:
        return number
    # ISO 11649 checks "body + RF + check digits" with ISO 7064 mod 97-10, like an IBAN.
    return iso11649.validate(f"RF{mod_97_10.calc_check_digits(body + 'RF')}{body}")


def seller_account(settings: Mapping) -> BankAccount:
    """The seller's account from the settings SELLER_IBAN, SELLER_BIC, SELLER_BANK_NAME (checked by portal.config)."""
    return BankAccount(iban=settings["SELLER_IBAN"], bic=settings["SELLER_BIC"], bank_name=settings["SELLER_BANK_NAME"])


def grouped_iban(account: BankAccount) -> str:
    """The IBAN in groups of four for people to read and type, e.g. DE89 3704 0044 0532 0130 00."""
    return iban_numbers.format(account.iban)


def grouped_reference(reference: str) -> str:
    """A creditor reference in groups of four (RF28 PFK0 0012 0261 1); any other reference as it is."""
    return iso11649.format(reference) if iso11649.is_valid(reference) else reference
