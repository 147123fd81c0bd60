"""The receivables demo (issue 11), seeded once by `flask demo seed` (devtools/demo.py).

On the demo's customers and contracts, dated back from today so that the overdue invoice is overdue: exchange rates
for the documents' days, the accounts ACME and INITECH pay from (matched by IBAN), six invoices in EUR, GBP and USD
(paid in full, partly paid, overdue, open), a credit note, a due note with a late fee, the payments (one in GBP at a
later rate than its invoice's, so the allocation realizes FX; one nobody can be matched to) and their allocations.
It is skipped whenever a document the demo issued exists, so seeding again changes nothing.

`demo/bank-statement-camt053.xml` is the bank file to try the import with: it pays ACME's and INITECH's newest
invoices by number, one from the account INITECH is known to pay from, one credit nobody can be matched to, and one
outgoing debit the import skips. It was written by `bank_statement` for a fresh database seeded in 2026 (the numbers
are per year: INV-2026-000005); for another database, `python -m devtools.demo_receivables` writes one that fits it.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from lxml import etree
from sqlalchemy import func, select

from portal import settings
from portal.extensions import db
from portal.integrations import camt053
from portal.models import (
    Contract,
    Customer,
    CustomerBankAccount,
    ExchangeRate,
    FixedLineItem,
    Invoice,
    Payment,
    ReceivableDocument,
)
from portal.models.receivables import CANCELLED, CREDIT_NOTE, DUE_NOTE, INVOICE, ISSUED, OVERDUE, PAID, PARTIALLY_PAID
from portal.money import ZERO, D
from portal.services.masterdata import rules
from portal.services.receivables import allocations, corrections, invoicing, payments, reconciliation
from portal.services.receivables.invoicing import LineInput
from portal.services.receivables.matching import numbers_in
from portal.services.receivables.payments import PaymentInput

ACTOR = "demo seed"  # who the demo's documents, payments and allocations say made them; marks them as the demo's
ROOT = Path(__file__).resolve().parents[1]
BANK_FILE = ROOT / "demo" / "bank-statement-camt053.xml"
BANK_FILE_DAY = date(2026, 12, 4)  # the day demo/bank-statement-camt053.xml was written for (its entries' dates)

# Days before the seed's day with a rate, and the rates then (US dollars per unit): imported from the ECB's files
# in a real installation. Every document and payment of the demo falls on or after the first one.
RATE_DAYS = (112, 98, 84, 70, 56, 42, 28, 14, 1)
RATES = {
    "EUR": ("1.07120000", "1.07680000", "1.08030000", "1.07590000", "1.08410000", "1.08970000", "1.08620000",
            "1.09250000", "1.09580000"),
    "GBP": ("1.25400000", "1.26110000", "1.25870000", "1.26500000", "1.27030000", "1.26680000", "1.27340000",
            "1.27810000", "1.27560000"),
}

# The accounts two demo customers pay from (an incoming payment from one of them is matched by its IBAN).
BANK_ACCOUNTS = [
    # customer, IBAN, BIC, holder
    ("ACME", "DE38200505500008765432", "HASPDEHHXXX", "Acme Logistics GmbH"),
    ("INITECH", "GB29NWBK60161331926819", "NWBKGB2L", "Initech Services Ltd"),
]
ACME_IBAN, INITECH_IBAN = (row[1] for row in BANK_ACCOUNTS)
# Accounts nobody registered: ACME's second account (paid from by number), a stranger's, a supplier's.
ACME_OTHER_IBAN, ACME_OTHER_BIC = "DE51200400000627183400", "COBADEHHXXX"
STRANGER = ("Nordlicht Medien KG", "DE85370501980019283746", "COLSDE33XXX")
LANDLORD = ("Hausverwaltung Spree GmbH", "DE44500105175407324931", "INGDDEFFXXX")


def today() -> date:
    """The day the demo is dated back from (tests pin it)."""
    return date.today()


def seeded() -> bool:
    """Whether the receivables demo is there: any document it issued."""
    found = select(ReceivableDocument.id).where(ReceivableDocument.created_by == ACTOR).limit(1)
    return db.session.scalar(found) is not None


def seed() -> bool:
    """Seed the receivables demo, dated back from `today()`; False (and nothing written) when it is there already."""
    if seeded():
        return False
    on = today()
    _rates(on)
    _bank_accounts()
    _story(on)
    db.session.flush()
    return True


def business_day(day: date) -> date:
    """The day, or the Friday before when it falls on a weekend: banks book and the ECB publishes on weekdays."""
    return day - timedelta(days=max(0, day.weekday() - 4))


def _days_before(on: date, days: int) -> date:
    return business_day(on - timedelta(days=days))


def _rates(on: date) -> None:
    for currency, values in RATES.items():
        for days, value in zip(RATE_DAYS, values, strict=True):
            day = _days_before(on, days)
            if _find(ExchangeRate, currency=currency, rate_date=day, source="ecb") is None:
                _add(ExchangeRate(currency=currency, rate_date=day, rate=D(value), source="ecb"))


def _bank_accounts() -> None:
    for code, iban, bic, holder in BANK_ACCOUNTS:
        if _find(CustomerBankAccount, iban=iban) is None:  # an IBAN belongs to one customer
            _add(CustomerBankAccount(customer=_find(Customer, code=code), iban=iban, bic=bic, holder=holder))


def _story(on: date) -> None:
    """What happened on the demo accounts over the last three months, in the order it happened."""
    acme, globex, initech = (_find(Contract, number=n) for n in ("C-2026-001", "C-2026-002", "C-2026-003"))
    seller = settings.config()["SELLER_IBAN"]

    def day(days: int) -> date:
        return _days_before(on, days)

    # ACME, paid in full from the account it is known to pay from.
    acme_first = _invoice(acme, day(96))
    # INITECH: a month with two extra on-site days, one of them credited; the rest paid in pounds weeks later, at a
    # higher rate than the invoice's: a realized FX gain in dollars.
    initech_first = _invoice(initech, day(82), (LineInput("Additional on-site support day", "2", "650.00", "20",
                                                          "DAY"),))
    corrections.credit_note(initech_first, [LineInput("Additional on-site support day", "1", "650.00", "20", "DAY")],
                            "One of the two additional on-site days was cancelled by the customer before it was "
                            "worked", ACTOR, on=day(72))
    _pay(acme_first, acme_first.gross_total, day(70), 1, "Acme Logistics GmbH", ACME_IBAN, seller,
         f"{acme_first.number} {acme_first.notes}", reason=reconciliation.AUTO_REASON)
    # ACME's next invoice is not paid: overdue, and charged a late fee by a due note.
    acme_overdue = _invoice(acme, day(66), (_rate_card_line(acme, "incident", "P1", "2"),))
    _pay(initech_first, initech_first.open_amount, day(55), 2, "Initech Services Ltd", INITECH_IBAN, seller,
         f"{initech_first.number} less credit note", reason=reconciliation.AUTO_REASON)
    # GLOBEX (dollars, tax exempt, 45 days to pay): partly paid.
    globex_open = _invoice(globex, day(30))
    corrections.due_note(acme.customer, acme.currency, [LineInput("Late payment fee (§ 288 (5) BGB)", "1", "40.00")],
                         f"{acme_overdue.number} was due on {acme_overdue.due_date.isoformat()} and is not paid",
                         ACTOR, on=day(20), contract=acme, corrects=acme_overdue)
    # The newest invoices are open: demo/bank-statement-camt053.xml pays them.
    _invoice(acme, day(12), (_rate_card_line(acme, "request", "New laptop setup", "3"),))
    _invoice(initech, day(9))
    _pay(globex_open, D("5000.00"), day(8), 3, "Globex Corporation", "", "", f"{globex_open.number} part payment",
         reason="manual: part payment, the rest follows")
    # Money nobody can be matched to: no known account, no document number, no customer of that name.
    payments.record(PaymentInput(amount=D("1250.00"), currency="EUR", value_date=day(6),
                                 bank_reference=_reference(day(6), 4), account_iban=seller,
                                 payer_name="J. Kowalski Consulting", payer_iban="DE34200505501234567890",
                                 text="Rechnung 0815/2026 Kundennummer 40817"), ACTOR)


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def _invoice(contract: Contract, issue_date: date, extra: tuple[LineInput, ...] = ()) -> Invoice:
    """An issued invoice of the contract's fixed monthly lines (and `extra`), for the month of its date."""
    month = f"{MONTHS[issue_date.month - 1]} {issue_date.year}"
    fixed = db.session.scalars(select(FixedLineItem).where(FixedLineItem.contract_id == contract.id)
                               .order_by(FixedLineItem.id))
    lines = [LineInput(f"{line.description}, {month}", line.quantity, line.unit_price, line.tax_rate,
                       "MON" if line.quantity == 1 else "C62") for line in fixed]
    lines += [LineInput(f"{line.description}, {month}", line.quantity, line.unit_price, line.tax_rate, line.unit)
              for line in extra]
    draft = invoicing.create_draft(INVOICE, contract.customer, contract.currency, lines, issue_date=issue_date,
                                   created_by=ACTOR, contract=contract, notes=f"Managed services, {month}")
    return invoicing.issue(draft, ACTOR)


def _rate_card_line(contract: Contract, kind: str, key: str, quantity: str) -> LineInput:
    """A line priced from the contract's rate card, at the contract's tax rate."""
    item = next(item for item in contract.rate_card.items if (item.kind, item.key) == (kind, key))
    return LineInput(item.description, quantity, item.unit_price, contract.tax_rate, "E48")


def _pay(document: ReceivableDocument, amount: Decimal, value_date: date, serial: int, payer: str, payer_iban: str,
         account: str, text: str, *, reason: str) -> Payment:
    """A payment received, matched to its payer as one from a bank file is, and allocated to `document`."""
    payment = payments.record(PaymentInput(
        amount=amount, currency=document.currency, value_date=value_date, bank_reference=_reference(value_date, serial),
        account_iban=account, payer_name=payer, payer_iban=payer_iban, text=text), ACTOR)
    allocations.allocate(payment, document, amount, ACTOR, reason=reason, on=value_date)
    return payment


def _reference(day: date, serial: int) -> str:
    """A bank's reference for what it booked that day."""
    return f"{day:%Y%m%d}{serial:07d}"


def _find(model, **key):
    return db.session.scalar(select(model).filter_by(**key))


def _add(obj):
    rules.validate(obj)
    db.session.add(obj)
    db.session.flush()
    return obj


def summary() -> list[str]:
    """What `flask demo seed` says about receivables, before the logins: what there is and how to try the import."""
    issued = ReceivableDocument.number.is_not(None)
    kinds = dict(db.session.execute(select(ReceivableDocument.kind, func.count()).where(issued)
                                    .group_by(ReceivableDocument.kind)).all())
    states = dict(db.session.execute(select(Invoice.state, func.count()).where(issued).group_by(Invoice.state)).all())
    currencies = db.session.scalars(select(Invoice.currency).where(issued).distinct().order_by(Invoice.currency))
    unidentified = db.session.scalar(select(func.count()).select_from(Payment).where(Payment.customer_id.is_(None)))
    shown = ", ".join(f"{states[state]} {state.replace('_', ' ')}"
                      for state in (PAID, PARTIALLY_PAID, OVERDUE, ISSUED, CANCELLED) if states.get(state))
    relative = BANK_FILE.relative_to(ROOT)
    lines = [f"Receivables: {_count(kinds.get(INVOICE, 0), 'invoice')} in {', '.join(currencies)} ({shown}), "
             f"{_count(kinds.get(CREDIT_NOTE, 0), 'credit note')}, {_count(kinds.get(DUE_NOTE, 0), 'due note')}, "
             f"{_count(unidentified, 'unidentified payment')}.",
             f"Bank file to try the import with: {relative}. "
             f".venv/bin/flask --app wsgi payments import {relative} --dry-run shows what it would do; without "
             "--dry-run it imports, then .venv/bin/flask --app wsgi reconcile auto allocates what it can."]
    if seeded() and not bank_file_fits():
        lines.append(f"  {relative} names invoices this database numbered otherwise: "
                     ".venv/bin/python -m devtools.demo_receivables writes instance/bank-statement-camt053.xml to fit.")
    return lines


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def bank_file_fits(content: bytes | None = None) -> bool:
    """Whether every document number the bank file names is one the demo issued (False without the file)."""
    if content is None:
        if not BANK_FILE.is_file():
            return False
        content = BANK_FILE.read_bytes()
    named = {number for row in camt053.read(content, BANK_FILE.name) for number in numbers_in(row.text)}
    found = db.session.scalars(select(ReceivableDocument.number).where(ReceivableDocument.created_by == ACTOR,
                                                                       ReceivableDocument.number.in_(named)))
    return set(found) == named


# ---- the bank file ---------------------------------------------------------------------------------------------

CAMT = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
# Bank transaction codes (ISO 20022): a SEPA credit transfer received or sent, a UK domestic one received.
SEPA_CREDIT, SEPA_DEBIT, DOMESTIC_CREDIT = ("RCDT", "ESCT"), ("ICDT", "ESCT"), ("RCDT", "DMCT")


@dataclass(frozen=True)
class Entry:
    """One booked movement of a statement and its one transaction."""

    amount: Decimal
    direction: str  # CRDT | DBIT
    day: date
    reference: str  # the bank's (AcctSvcrRef)
    end_to_end: str  # the payer's, or NOTPROVIDED
    party: str  # the debtor of a credit, the creditor of a debit
    party_iban: str
    party_bic: str
    text: str  # unstructured remittance information
    code: tuple[str, str] = SEPA_CREDIT


@dataclass(frozen=True)
class Statement:
    iban: str
    bic: str
    currency: str
    opening: Decimal
    entries: tuple[Entry, ...]


def bank_statement(on: date | None = None) -> bytes:
    """A camt.053.001.02 file of the seller's account (SELLER_IBAN, which the invoices ask to be paid into; a
    statement per currency it is kept in, euros and pounds) for the two business days before `on`: it pays the newest
    invoices the demo issued to ACME (by number, from an account not registered) and INITECH (from its registered
    account), with one credit nobody can be matched to and one outgoing debit."""
    on = on or today()
    second = business_day(on - timedelta(days=1))
    first = business_day(second - timedelta(days=1))
    acme, initech = _newest_invoice("ACME"), _newest_invoice("INITECH")
    config = settings.config()
    euro = Statement(config["SELLER_IBAN"], config["SELLER_BIC"], "EUR", D("48215.37"), (
        Entry(_owed(acme), "CRDT", first, _reference(first, 1), f"ACME-PAY-{first:%Y%m%d}-01", "Acme Logistics GmbH",
              ACME_OTHER_IBAN, ACME_OTHER_BIC, f"{acme.number} {acme.notes}"),
        Entry(D("1785.00"), "CRDT", first, _reference(first, 2), "NOTPROVIDED", *STRANGER,
              "Rechnung 2026-0931 vom 12.11. Vielen Dank"),
        Entry(D("3200.00"), "DBIT", second, _reference(second, 1), f"RENT-{second:%Y%m}", *LANDLORD,
              f"Miete {second:%m/%Y} Buero Berlin Musterstrasse 1", SEPA_DEBIT),
    ))
    pound = Statement(config["SELLER_IBAN"], config["SELLER_BIC"], "GBP", D("12640.55"), (
        Entry(_owed(initech), "CRDT", second, _reference(second, 2), "NOTPROVIDED", "Initech Services Ltd",
              INITECH_IBAN, "NWBKGB2L", f"Invoice {initech.number} on-site support", DOMESTIC_CREDIT),
    ))
    root = etree.Element(f"{{{CAMT}}}Document", nsmap={None: CAMT, "xsi": XSI})
    message = _sub(root, "BkToCstmrStmt")
    header = _sub(message, "GrpHdr")
    _sub(header, "MsgId", f"CAMT053-{on:%Y%m%d}-0001")
    _sub(header, "CreDtTm", _moment(on, time(6, 15)))
    pages = _sub(header, "MsgPgntn")
    _sub(pages, "PgNb", "1")
    _sub(pages, "LastPgInd", "true")
    for number, statement in enumerate((euro, pound), start=1):
        _statement(message, statement, number, first, second, on)
    etree.indent(root, space="  ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="UTF-8") + b"\n"


def _newest_invoice(code: str) -> Invoice:
    """The customer's newest invoice the demo issued (whatever has been paid on it since)."""
    found = db.session.scalar(select(Invoice).join(Customer, Customer.id == Invoice.customer_id).where(
        Customer.code == code, Invoice.created_by == ACTOR, Invoice.number.is_not(None))
        .order_by(Invoice.issue_date.desc(), Invoice.id.desc()).limit(1))
    if found is None:
        raise LookupError(f"no demo invoice of {code}: run `flask demo seed` first")
    return found


def _owed(invoice: Invoice) -> Decimal:
    """What the invoice asks to be paid: its total less the credit notes on it."""
    return invoice.gross_total - invoice.credited_total


def _statement(parent, statement: Statement, number: int, first: date, last: date, on: date) -> None:
    node = _sub(parent, "Stmt")
    _sub(node, "Id", f"{last:%Y%m%d}-{statement.currency}-{number:03d}")
    _sub(node, "ElctrncSeqNb", str(last.timetuple().tm_yday))
    _sub(node, "CreDtTm", _moment(on, time(6, 15)))
    period = _sub(node, "FrToDt")
    _sub(period, "FrDtTm", _moment(first, time(0, 0)))
    _sub(period, "ToDtTm", _moment(last, time(23, 59, 59)))
    account = _sub(node, "Acct")
    _sub(_sub(account, "Id"), "IBAN", statement.iban)
    _sub(account, "Ccy", statement.currency)
    _sub(_sub(account, "Ownr"), "Nm", settings.config()["SELLER_NAME"])
    _sub(_sub(_sub(account, "Svcr"), "FinInstnId"), "BIC", statement.bic)
    credits = [entry.amount for entry in statement.entries if entry.direction == "CRDT"]
    debits = [entry.amount for entry in statement.entries if entry.direction == "DBIT"]
    closing = statement.opening + sum(credits, ZERO) - sum(debits, ZERO)
    _balance(node, "OPBD", statement.opening, statement.currency, first)
    _balance(node, "CLBD", closing, statement.currency, last)
    totals = _sub(node, "TxsSummry")
    net = sum(credits, ZERO) - sum(debits, ZERO)
    every = _sub(totals, "TtlNtries")
    _sub(every, "NbOfNtries", str(len(statement.entries)))
    _sub(every, "Sum", _amount(sum(credits, ZERO) + sum(debits, ZERO)))
    _sub(every, "TtlNetNtryAmt", _amount(abs(net)))
    _sub(every, "CdtDbtInd", "CRDT" if net >= 0 else "DBIT")
    for tag, amounts in (("TtlCdtNtries", credits), ("TtlDbtNtries", debits)):
        if not amounts:
            continue
        side = _sub(totals, tag)
        _sub(side, "NbOfNtries", str(len(amounts)))
        _sub(side, "Sum", _amount(sum(amounts, ZERO)))
    for index, entry in enumerate(statement.entries, start=1):
        _entry(node, entry, index, statement.currency)


def _balance(parent, code: str, amount: Decimal, currency: str, day: date) -> None:
    node = _sub(parent, "Bal")
    _sub(_sub(_sub(node, "Tp"), "CdOrPrtry"), "Cd", code)
    _sub(node, "Amt", _amount(abs(amount)), Ccy=currency)
    _sub(node, "CdtDbtInd", "CRDT" if amount >= 0 else "DBIT")
    _sub(_sub(node, "Dt"), "Dt", day.isoformat())


def _entry(parent, entry: Entry, index: int, currency: str) -> None:
    node = _sub(parent, "Ntry")
    _sub(node, "NtryRef", str(index))
    _sub(node, "Amt", _amount(entry.amount), Ccy=currency)
    _sub(node, "CdtDbtInd", entry.direction)
    _sub(node, "Sts", "BOOK")
    _sub(_sub(node, "BookgDt"), "Dt", entry.day.isoformat())
    _sub(_sub(node, "ValDt"), "Dt", entry.day.isoformat())
    _sub(node, "AcctSvcrRef", entry.reference)
    domain = _sub(_sub(node, "BkTxCd"), "Domn")
    _sub(domain, "Cd", "PMNT")
    family = _sub(domain, "Fmly")
    _sub(family, "Cd", entry.code[0])
    _sub(family, "SubFmlyCd", entry.code[1])
    detail = _sub(_sub(node, "NtryDtls"), "TxDtls")
    references = _sub(detail, "Refs")
    _sub(references, "AcctSvcrRef", entry.reference)
    _sub(references, "EndToEndId", entry.end_to_end)
    _sub(_sub(_sub(detail, "AmtDtls"), "TxAmt"), "Amt", _amount(entry.amount), Ccy=currency)
    party, account, agent = ("Dbtr", "DbtrAcct", "DbtrAgt") if entry.direction == "CRDT" else (
        "Cdtr", "CdtrAcct", "CdtrAgt")
    parties = _sub(detail, "RltdPties")
    _sub(_sub(parties, party), "Nm", entry.party)
    _sub(_sub(_sub(parties, account), "Id"), "IBAN", entry.party_iban)
    _sub(_sub(_sub(_sub(detail, "RltdAgts"), agent), "FinInstnId"), "BIC", entry.party_bic)
    _sub(_sub(detail, "RmtInf"), "Ustrd", entry.text[:140])


def _sub(parent, tag: str, text: str | None = None, **attributes):
    node = etree.SubElement(parent, f"{{{CAMT}}}{tag}", attributes)
    if text is not None:
        node.text = text
    return node


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


def _moment(day: date, at: time) -> str:
    return datetime.combine(day, at).isoformat()


def main(argv: list[str] | None = None) -> None:
    """Write the bank file that fits the configured database's demo (DATABASE_URL; `make run`'s by default)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--output", type=Path, default=ROOT / "instance" / "bank-statement-camt053.xml")
    parser.add_argument("--day", type=date.fromisoformat, default=None,
                        help="the day the file is made on, its entries dated the two business days before (today)")
    options = parser.parse_args(argv)
    os.environ.setdefault("LEDGERFLOW_ENV", "development")
    from wsgi import app  # the app `flask --app wsgi` runs, on the environment's database

    with app.app_context():
        content = bank_statement(options.day)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_bytes(content)
    print(f"Wrote {options.output}: try it with .venv/bin/flask --app wsgi payments import {options.output}")


if __name__ == "__main__":
    main()
