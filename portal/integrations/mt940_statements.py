"""SWIFT MT940 statements read with the `mt-940` package into the same transactions as camt.053: several
statements per file, multi-line and structured (German `?20`..`?32`) `:86:` details, UTF-8 or Latin-1."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import mt940

from portal.integrations import untrusted
from portal.integrations.bank_transactions import CREDIT, DEBIT, BankFileError, Transaction

# ":61:" mark -> direction: a reversal of a credit (RC) takes money out, a reversal of a debit (RD) brings it in.
DIRECTIONS = {"C": CREDIT, "D": DEBIT, "RC": DEBIT, "RD": CREDIT}
OPTIONS = mt940.Options.all()  # the package's fixes (?31 as the applicant's IBAN, reversal signs, no truncation)


def read(content: bytes, name: str = "") -> list[Transaction]:
    """Every transaction of every statement in the file; BankFileError names what cannot be read."""
    label = name or "file"
    untrusted.check_size(len(content), label, BankFileError)
    text = _decoded(content)
    if not re.search(r"(?m)^:20:", text):
        raise BankFileError(f"{label}: not an MT940 statement (no :20: line)")
    lines = _transaction_lines(text)
    try:
        statements = mt940.parse_statements(text, options=OPTIONS)
    except Exception as exc:  # the package raises what its regexes and int()/Decimal() raise on broken tags
        raise BankFileError(f"{label}: {_unreadable(exc, text)}") from None
    found = []
    for number, statement in enumerate(statements, start=1):
        for transaction in statement:
            found.append(_transaction(statement, number, transaction.data, lines, len(found), label))
    return found


def _unreadable(exc: Exception, text: str) -> str:
    """Where the package gave up: the tag and its line when it says (a RuntimeError of message, tag, value)."""
    if isinstance(exc, RuntimeError) and len(exc.args) == 3 and hasattr(exc.args[1], "id"):
        value = str(exc.args[2])
        start = text.find(value)
        line = text.count("\n", 0, start) + 1 if start >= 0 else "?"
        return f"line {line}: :{exc.args[1].id}: cannot read {value[:80]!r}"
    return f"not a readable MT940 statement ({type(exc).__name__})"


def _decoded(content: bytes) -> str:
    """UTF-8 when it is (with or without a BOM), else Latin-1, which the older German banks still send."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("latin-1")


def _transaction_lines(text: str) -> list[int]:
    """The line number of each `:61:` in the file, in order, for messages."""
    return [text.count("\n", 0, match.start()) + 1 for match in re.finditer(r"(?m)^:61:", text)]


def _transaction(statement, number: int, data: dict, lines: list[int], index: int, label: str) -> Transaction:
    line = lines[index] if index < len(lines) else 0
    where = f"line {line}: statement {number}, :61: {index + 1}"
    mark = str(data.get("status") or "").upper()
    if mark not in DIRECTIONS:
        raise BankFileError(f"{label}: {where}: {mark!r} is not a debit/credit mark (C, D, RC, RD)")
    amount = data.get("amount")
    if amount is None:
        raise BankFileError(f"{label}: {where}: no amount")
    value = abs(Decimal(amount.amount))
    header = statement.data
    reference = next((ref for ref in (data.get("bank_reference"), data.get("customer_reference"))
                      if ref and ref.upper() != "NONREF"), "")
    return Transaction(
        statement=" ".join(part for part in (header.get("transaction_reference"), header.get("statement_number"))
                           if part),
        account_iban=str(header.get("account_identification") or "").replace(" ", ""),
        direction=DIRECTIONS[mark], amount=value, currency=str(data.get("currency") or amount.currency or ""),
        booking_date=_day(data.get("entry_date")), value_date=_day(data.get("date")), status="BOOK",
        bank_reference=reference, end_to_end_id=_plain(data.get("end_to_end_reference")),
        counterparty_name=_plain(data.get("applicant_name")),
        counterparty_iban=_plain(data.get("applicant_iban") or data.get("gvc_applicant_iban")).replace(" ", "").upper(),
        text=_plain(data.get("purpose") or data.get("transaction_details")), where=where)


def _day(value) -> date | None:
    """mt940's Date (a date subclass) as a plain date."""
    return None if value is None else date(value.year, value.month, value.day)


def _plain(value) -> str:
    return "" if value is None or str(value).upper() == "NOTPROVIDED" else " ".join(str(value).split())
