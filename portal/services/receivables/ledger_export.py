"""The customer ledger for export: a statement turned into plain header, rows and totals, and its JSON shape."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import BinaryIO, TextIO

from portal.exports import ledger as ledger_export
from portal.exports.ledger import LedgerHeader, LedgerTotals
from portal.money import quantize
from portal.services.receivables import invoicing, payments, statement
from portal.services.receivables.statement import Statement

FORMATS = ("json", "csv", "xlsx", "pdf")


def statement_for(customer_code: str, currency: str | None, start: date, end: date, *,
                  in_base: bool = False, stream: bool = False) -> Statement:
    """The statement of the customer with `customer_code`; without a currency, the customer's own one (or, in the
    base currency, all of them together)."""
    customer = payments.customer_by_code(customer_code)
    if currency is None and not in_base:
        currency = customer.currency
    checked = invoicing.check_currency(currency) if currency is not None else None
    return statement.customer_ledger(customer, checked, start, end, in_base=in_base, stream=stream)


def header(ledger: Statement) -> LedgerHeader:
    """Customer, period, currency (and what was converted) and the opening on its side."""
    return LedgerHeader(ledger.customer.code, ledger.customer.name, ledger.currency, ledger.start, ledger.end,
                        ledger.opening_debit, ledger.opening_credit, note=_note(ledger))


def _note(ledger: Statement) -> str:
    """In a base-currency statement, say so and from which currencies; otherwise nothing."""
    if not ledger.in_base:
        return ""
    sources = sorted(set(ledger.source_currencies) - {ledger.currency})
    converted = f", converted from {', '.join(sources)}" if sources else ""
    return f"{ledger.currency} at each entry's historical rate{converted}"


def rows(ledger: Statement) -> Iterator[tuple]:
    """Each entry as a plain tuple in the export columns' order (seed 004), then its own currency."""
    for row in ledger.rows:
        yield (row.sl_num, row.date, row.particulars, row.narration, row.products, row.debit, row.credit,
               row.balance, row.currency)


def totals(ledger: Statement) -> LedgerTotals:
    """The totals (opening included, as seed 004 adds them) and the closing on its side."""
    return LedgerTotals(ledger.total_debit, ledger.total_credit, ledger.closing_debit, ledger.closing_credit)


def write_csv(ledger: Statement, out: TextIO) -> None:
    """The statement as CSV text into `out`."""
    ledger_export.write_csv(out, header(ledger), rows(ledger), totals(ledger))


def write_xlsx(ledger: Statement, out: BinaryIO) -> int:
    """The statement as a streamed XLSX into `out`; returns the number of entries written."""
    return ledger_export.write_xlsx(out, header(ledger), rows(ledger), totals(ledger))


def write_pdf(ledger: Statement) -> bytes:
    """The statement as a PDF."""
    return ledger_export.write_pdf(header(ledger), rows(ledger), totals(ledger))


def as_dict(ledger: Statement) -> dict:
    """JSON-ready, shaped like seed 004's LedgerStruct: amounts as strings at the currency's decimals."""
    currency = ledger.currency

    def money(value: Decimal) -> str:
        return str(quantize(value, currency))

    return {
        "customer_code": ledger.customer.code, "customer_name": ledger.customer.name, "currency": currency,
        "in_base": ledger.in_base, "note": _note(ledger),
        "start": ledger.start.isoformat(), "end": ledger.end.isoformat(),
        "opening_debit": money(ledger.opening_debit), "opening_credit": money(ledger.opening_credit),
        "entries": [{"sl_num": row.sl_num, "date": row.date.isoformat(), "particulars": row.particulars,
                     "narration": row.narration, "products": row.products, "debit": money(row.debit),
                     "credit": money(row.credit), "balance": money(row.balance), "currency": row.currency}
                    for row in ledger.rows],
        "total_debit": money(ledger.total_debit), "total_credit": money(ledger.total_credit),
        "closing_debit": money(ledger.closing_debit), "closing_credit": money(ledger.closing_credit),
        "closing_balance": money(ledger.closing_balance),
    }
