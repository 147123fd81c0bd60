"""ISO 20022 bank-to-customer statements (camt.053.001.02 to .08) read into transactions: one per transaction
detail of each entry, so a batched entry becomes its several payments. Plain data in and out: no database.

Versions differ in a few places, each handled here: the entry status is text up to .03 and `<Sts><Cd>` from .04;
a detail's amount is `AmtDtls/TxAmt/Amt` (all versions) or `Amt` (from .04); a party is `Dbtr/Nm` up to .07 and
`Dbtr/Pty/Nm` in .08; dates are `Dt` or `DtTm`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from lxml import etree

from portal.integrations import untrusted
from portal.integrations.bank_transactions import CREDIT, DEBIT, BankFileError, Transaction

NAMESPACE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.0([2-8])$")
__all__ = ["CREDIT", "DEBIT", "BankFileError", "Transaction", "read", "transactions"]


def read(content: bytes, name: str = "") -> list[Transaction]:
    """Every transaction of every statement in the file; BankFileError names what cannot be read."""
    return list(transactions(content, name))


def transactions(content: bytes, name: str = "") -> Iterator[Transaction]:
    """The file's transactions one entry at a time, each entry's XML dropped once read (a 100,000-entry file in
    little memory); BankFileError names what cannot be read."""
    label = name or "file"
    untrusted.check_size(len(content), label, BankFileError)
    events = etree.iterparse(io.BytesIO(content), events=("start", "end"), resolve_entities=False, no_network=True,
                             load_dtd=False, huge_tree=False, remove_comments=True)
    ns, statements, entries = None, 0, 0
    try:
        for event, element in events:
            if ns is None:
                ns = _checked_root(element, label)
                continue
            if event != "end" or not isinstance(element.tag, str):
                continue
            local = etree.QName(element).localname
            if local == "Ntry" and etree.QName(element.getparent()).localname == "Stmt":
                statement = element.getparent()
                statements = statements if statement.get(_SEEN) else statements + 1
                statement.set(_SEEN, str(statements))
                entries += 1
                yield from _entry(element, f"Stmt {statements}, Ntry {_index(statement)}",
                                  *_account(statement, statements, ns), ns)
                statement.remove(element)
            elif local == "Stmt" and not element.get(_SEEN):
                statements += 1
                _account(element, statements, ns)  # a statement without entries still needs its account
    except etree.XMLSyntaxError as exc:
        raise BankFileError(f"{label}: not well-formed XML ({exc})") from None
    if ns is None:
        raise BankFileError(f"{label}: not well-formed XML (the file is empty)")
    if not statements:
        raise BankFileError(f"{label}: line 1: no BkToCstmrStmt/Stmt element")


_SEEN = "{urn:ledgerflow}statement"  # set on a Stmt element once counted (never in the file itself)
_ENTRIES = "{urn:ledgerflow}entries"


def _checked_root(root, label: str) -> dict:
    namespace = etree.QName(root).namespace or ""
    if etree.QName(root).localname != "Document" or not NAMESPACE.match(namespace):
        raise BankFileError(f"{label}: not a camt.053 statement (version 001.02 to 001.08): root "
                            f"{etree.QName(root).localname} in {namespace or 'no namespace'}")
    return {"c": namespace}


def _index(statement) -> int:
    """The number of the entry just read within its statement (read entries are removed, so counted here)."""
    number = int(statement.get(_ENTRIES, "0")) + 1
    statement.set(_ENTRIES, str(number))
    return number


def _account(statement, number: int, ns: dict) -> tuple[str, str]:
    """The statement's id and account (both come before its entries in every version)."""
    where = f"line {statement.sourceline}: Stmt {number}"
    identifier = _text(statement, "c:Id", ns)
    iban = _text(statement, "c:Acct/c:Id/c:IBAN", ns) or _text(statement, "c:Acct/c:Id/c:Othr/c:Id", ns)
    if not iban:
        raise BankFileError(f"{where}: Acct/Id: the account has no IBAN or other id")
    return identifier, iban


def _entry(entry, place: str, statement: str, iban: str, ns: dict) -> list[Transaction]:
    where = f"line {entry.sourceline}: {place}"
    amount, currency = _amount(entry.find("c:Amt", ns), f"{where}: Amt")
    direction = _direction(_text(entry, "c:CdtDbtInd", ns), f"{where}: CdtDbtInd")
    status = _text(entry, "c:Sts/c:Cd", ns) or _text(entry, "c:Sts", ns)
    booked = _date(entry.find("c:BookgDt", ns), ns, f"{where}: BookgDt")
    valued = _date(entry.find("c:ValDt", ns), ns, f"{where}: ValDt")
    reference = _text(entry, "c:AcctSvcrRef", ns) or _text(entry, "c:NtryRef", ns)
    details = entry.findall("c:NtryDtls/c:TxDtls", ns)
    shared = {"statement": statement, "account_iban": iban, "currency": currency, "booking_date": booked,
              "value_date": valued, "status": status}
    if not details:
        return [Transaction(**shared, direction=direction, amount=amount, bank_reference=reference, end_to_end_id="",
                            counterparty_name="", counterparty_iban="",
                            text=_text(entry, "c:AddtlNtryInf", ns), where=where)]
    found = [_detail(detail, f"{place}, TxDtls {index}", shared, direction, reference, amount, len(details), entry, ns)
             for index, detail in enumerate(details, start=1)]
    total = sum((item.amount for item in found), Decimal(0))
    if len(found) > 1 and total != amount:
        raise BankFileError(f"{where}: the {len(found)} TxDtls amounts add up to {total}, the entry's Amt is {amount}")
    return found


def _detail(detail, place: str, shared: dict, direction: str, reference: str, entry_amount: Decimal, count: int,
            entry, ns: dict) -> Transaction:
    where = f"line {detail.sourceline}: {place}"
    amount_element = detail.find("c:AmtDtls/c:TxAmt/c:Amt", ns)
    if amount_element is None:
        amount_element = detail.find("c:Amt", ns)
    if amount_element is None and count > 1:
        raise BankFileError(f"{where}: Amt: a batched entry needs each detail's amount")
    amount = entry_amount
    if amount_element is not None:
        amount, currency = _amount(amount_element, f"{where}: Amt")
        if currency != shared["currency"]:
            raise BankFileError(f"{where}: Amt: currency {currency} differs from the entry's {shared['currency']}")
    own_direction = _text(detail, "c:CdtDbtInd", ns)
    if own_direction:
        direction = _direction(own_direction, f"{where}: CdtDbtInd")
    party, account = ("Dbtr", "DbtrAcct") if direction == CREDIT else ("Cdtr", "CdtrAcct")
    name = _text(detail, f"c:RltdPties/c:{party}/c:Pty/c:Nm", ns) or _text(detail, f"c:RltdPties/c:{party}/c:Nm", ns)
    counter_iban = _text(detail, f"c:RltdPties/c:{account}/c:Id/c:IBAN", ns)
    return Transaction(**shared, direction=direction, amount=amount,
                       bank_reference=_text(detail, "c:Refs/c:AcctSvcrRef", ns) or reference,
                       end_to_end_id=_end_to_end(detail, ns), counterparty_name=name,
                       counterparty_iban=counter_iban.replace(" ", "").upper(),
                       text=_remittance(detail, ns) or _text(entry, "c:AddtlNtryInf", ns), where=where)


def _end_to_end(detail, ns: dict) -> str:
    value = _text(detail, "c:Refs/c:EndToEndId", ns)
    return "" if value == "NOTPROVIDED" else value


def _remittance(detail, ns: dict) -> str:
    parts = [" ".join((node.text or "").split()) for node in detail.findall("c:RmtInf/c:Ustrd", ns)]
    parts += [" ".join((node.text or "").split())
              for node in detail.findall("c:RmtInf/c:Strd/c:CdtrRefInf/c:Ref", ns)]
    return " ".join(part for part in parts if part)


def _text(node, path: str, ns: dict) -> str:
    found = node.find(path, ns)
    return " ".join((found.text or "").split()) if found is not None else ""


def _amount(node, where: str) -> tuple[Decimal, str]:
    if node is None:
        raise BankFileError(f"{where}: missing")
    raw = (node.text or "").strip()
    currency = (node.get("Ccy") or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise BankFileError(f"{where}: Ccy {node.get('Ccy')!r} is not a three-letter currency code")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise BankFileError(f"{where}: {raw!r} is not an amount") from None
    if not re.fullmatch(r"\d{1,18}(\.\d{1,5})?", raw) or value <= 0:
        raise BankFileError(f"{where}: {raw!r} is not an amount above zero (digits and a dot)")
    return value, currency


def _direction(code: str, where: str) -> str:
    if code == "CRDT":
        return CREDIT
    if code == "DBIT":
        return DEBIT
    raise BankFileError(f"{where}: {code!r} is neither CRDT nor DBIT")


def _date(node, ns: dict, where: str) -> date | None:
    if node is None:
        return None
    day, moment = _text(node, "c:Dt", ns), _text(node, "c:DtTm", ns)
    try:
        if day:
            return date.fromisoformat(day)
        if moment:
            return datetime.fromisoformat(moment.replace("Z", "+00:00")).date()
    except ValueError:
        raise BankFileError(f"{where}: {(day or moment)!r} is not a date") from None
    raise BankFileError(f"{where}: neither Dt nor DtTm")
