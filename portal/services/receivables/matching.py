"""Who paid: a payment's payer matched to a customer by IBAN, then an invoice number in its text, then by name."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from stdnum import iban as iban_number

from portal.extensions import db
from portal.models import Customer, CustomerBankAccount, ReceivableDocument

# The numbers the sequences give (INV-2026-000123, DN-...), as payers write them: any case, "-", "/", " " or none.
# Also inside the structured creditor reference printed on invoices (ISO 11649: RF67INV2026000002).
NUMBER_IN_TEXT = re.compile(r"(?<![A-Za-z])(INV|DN|CN)[\s/_-]?(\d{4})[\s/_-]?(\d{6})(?!\d)", re.IGNORECASE)
_LEGAL_FORMS = re.compile(r"\b(gmbh|ag|ltd|llc|inc|sa|sas|srl|bv|nv|oy|ab|as|plc|ooo|kg|co)\b\.?", re.IGNORECASE)


@dataclass(frozen=True)
class PayerMatch:
    customer: Customer | None
    matched_by: str  # iban | invoice_number | name | ""


@functools.lru_cache(maxsize=4096)  # a bank file names the same few accounts on thousands of rows
def compact_iban(value: str) -> str:
    """An IBAN or account number without spaces and in capitals, as stored."""
    return iban_number.compact(value or "")


def numbers_in(text: str) -> list[str]:
    """Document numbers written in a payment's text, in the sequences' own form, first mention first."""
    found = [f"{kind.upper()}-{year}-{serial}" for kind, year, serial in NUMBER_IN_TEXT.findall(text or "")]
    return list(dict.fromkeys(found))


def match_payer(payer_iban: str, text: str, payer_name: str) -> PayerMatch:
    """The customer who paid, and how it was found; (None, "") when nothing matches."""
    if payer_iban:
        account = db.session.scalar(select(CustomerBankAccount)
                                    .where(CustomerBankAccount.iban == compact_iban(payer_iban)))
        if account is not None:
            return PayerMatch(account.customer, "iban")
    for number in numbers_in(text):
        document = db.session.scalar(select(ReceivableDocument).where(ReceivableDocument.number == number))
        if document is not None:
            return PayerMatch(document.customer, "invoice_number")
    customer = _by_name(payer_name)
    return PayerMatch(customer, "name") if customer is not None else PayerMatch(None, "")


def _by_name(payer_name: str) -> Customer | None:
    """The one customer whose name is the payer's, ignoring case, punctuation and legal forms; None if not one."""
    wanted = normal_name(payer_name)
    if len(wanted) < 3:
        return None
    first_word = wanted.split()[0]
    candidates = db.session.scalars(select(Customer).where(func.lower(Customer.name).contains(first_word)))
    matches = [c for c in candidates if normal_name(c.name) == wanted]
    return matches[0] if len(matches) == 1 else None


def normal_name(name: str) -> str:
    text = _LEGAL_FORMS.sub(" ", (name or "").lower())
    return " ".join(re.sub(r"[^\w]+", " ", text).split())
