"""Payments as CSV and XLSX rows (all, one customer's, one import's, or the Unidentified list), with cell text that
a spreadsheet would run as a formula neutralised (portal.exports.cells)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, select

from portal.exports import tables
from portal.extensions import db
from portal.models import Customer, Payment, PaymentImport

COLUMNS = ("Payment", "Value date", "Amount", "Currency", "Customer code", "Customer", "Matched by", "Payer",
           "Payer IBAN", "Our account", "Bank reference", "Text", "Allocated", "Refunded", "Unapplied",
           "Base amount", "FX rate", "Import file", "Recorded by", "Recorded at")
BATCH = 1000


@dataclass(frozen=True)
class Filters:
    """Which payments: the Unidentified list, one customer, one import, a span of value dates."""

    unidentified: bool = False
    customer_code: str = ""
    import_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None


def query(filters: Filters = Filters()) -> Select:
    """The payments the filters choose, newest value date first (a page for db.paginate, or the export's rows)."""
    chosen = select(Payment).order_by(Payment.value_date.desc(), Payment.id.desc())
    if filters.unidentified:
        chosen = chosen.where(Payment.customer_id.is_(None))
    if filters.customer_code:
        chosen = chosen.join(Customer, Payment.customer_id == Customer.id).where(
            Customer.code == filters.customer_code.strip())
    if filters.import_id is not None:
        chosen = chosen.where(Payment.import_id == filters.import_id)
    if filters.date_from is not None:
        chosen = chosen.where(Payment.value_date >= filters.date_from)
    if filters.date_to is not None:
        chosen = chosen.where(Payment.value_date <= filters.date_to)
    return chosen


def export_rows(filters: Filters = Filters()) -> Iterator[tuple]:
    """The header, then one row of plain values per payment, read in batches."""
    yield COLUMNS
    chosen = query(filters).subquery()
    rows = (select(chosen, Customer.code, Customer.name, PaymentImport.filename)
            .outerjoin(Customer, chosen.c.customer_id == Customer.id)
            .outerjoin(PaymentImport, chosen.c.import_id == PaymentImport.id)
            .order_by(chosen.c.value_date.desc(), chosen.c.id.desc()))
    for row in db.session.execute(rows.execution_options(yield_per=BATCH)):
        yield _row(row)


def _row(row) -> tuple:
    unapplied = row.amount - row.allocated_total - row.refunded_total
    return (row.id, row.value_date, row.amount, row.currency, row.code or "", row.name or "Unidentified",
            row.matched_by, row.payer_name, row.payer_iban, row.account_iban, row.bank_reference, row.text,
            row.allocated_total, row.refunded_total, unapplied, row.base_amount, row.fx_rate, row.filename or "",
            row.created_by, row.created_at)


def csv_chunks(rows: Iterable[tuple]) -> Iterator[str]:
    """The rows as CSV text, one chunk per row, so a response or a file can stream them."""
    return tables.csv_chunks(rows)


def xlsx_bytes(rows: Iterable[tuple]) -> bytes:
    """The rows as an XLSX workbook (portal.exports.tables)."""
    return tables.xlsx_bytes(rows, "Payments")
