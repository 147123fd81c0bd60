"""The customer ledger (statement of account, seed 004): opening and closing debit/credit, entries, running balance."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from portal.errors import ValidationError
from portal.extensions import db
from portal.models import Customer, LedgerEntry
from portal.money import ZERO
from portal.services.masterdata import fx

PARTICULARS = {"invoice": "Invoice", "due_note": "Due note", "credit_note": "Credit note", "payment": "Payment",
               "refund": "Refund", "adjustment": "Adjustment"}
COLUMNS = ("sl_num", "date", "particulars", "narration", "products", "debit", "credit", "balance")


@dataclass(frozen=True)
class Row:
    sl_num: int
    date: date
    particulars: str
    narration: str
    products: str
    debit: Decimal
    credit: Decimal
    balance: Decimal  # running: opening + debits − credits so far (positive: the customer owes)
    currency: str  # the document's currency (in a base-currency statement, the one it was converted from)


@dataclass(frozen=True)
class Statement:
    customer: Customer
    currency: str  # the currency of every figure (the base currency for a statement at historical rates)
    start: date
    end: date
    in_base: bool
    opening_debit: Decimal
    opening_credit: Decimal
    rows: list[Row]  # an iterator when streamed
    total_debit: Decimal  # opening debit + the range's debits
    total_credit: Decimal
    closing_debit: Decimal
    closing_credit: Decimal
    source_currencies: tuple[str, ...] = ()  # the currencies of the range's entries

    @property
    def closing_balance(self) -> Decimal:
        return self.closing_debit - self.closing_credit


def sides(debit: Decimal, credit: Decimal) -> tuple[Decimal, Decimal]:
    """Seed 004's rule: Σdebit > Σcredit → (difference, 0); less → (0, difference); equal → (0, 0)."""
    if debit > credit:
        return debit - credit, ZERO
    if debit < credit:
        return ZERO, credit - debit
    return ZERO, ZERO


def customer_ledger(customer: Customer, currency: str | None, start: date, end: date, *,
                    in_base: bool = False, stream: bool = False) -> Statement:
    """The statement of `customer` in `currency` from `start` to `end` (inclusive); `in_base` gives the same in the
    base currency at each entry's historical rate (all currencies together when `currency` is None). With `stream`
    the rows are an iterator read from the database as they are used (exports of any length in little memory)."""
    if start > end:
        raise ValidationError("from", f"the start ({start}) is after the end ({end})")
    if currency is None and not in_base:
        raise ValidationError("currency", "choose a currency (or the base currency for all of them)")
    debit_col, credit_col = _columns(in_base)
    opening_debit, opening_credit = sides(*_sums(customer.id, currency, debit_col, credit_col, start))
    range_debit, range_credit = _sums(customer.id, currency, debit_col, credit_col, date.fromordinal(
        end.toordinal() + 1), since=start)
    rows = _rows(customer.id, currency, start, end, in_base, opening_debit - opening_credit)
    total_debit, total_credit = opening_debit + range_debit, opening_credit + range_credit
    closing_debit, closing_credit = sides(total_debit, total_credit)
    return Statement(customer, fx.base_currency() if in_base else currency, start, end, in_base, opening_debit,
                     opening_credit, rows if stream else list(rows), total_debit, total_credit, closing_debit,
                     closing_credit, _currencies(customer.id, currency, start, end))


def _currencies(customer_id: int, currency: str | None, start: date, end: date) -> tuple[str, ...]:
    query = _filtered(select(LedgerEntry.currency).distinct(), customer_id, currency).where(
        LedgerEntry.entry_date >= start, LedgerEntry.entry_date <= end)
    return tuple(sorted(db.session.scalars(query)))


def _columns(in_base: bool):
    return (LedgerEntry.base_debit, LedgerEntry.base_credit) if in_base else (LedgerEntry.debit, LedgerEntry.credit)


def _filtered(query, customer_id: int, currency: str | None):
    query = query.where(LedgerEntry.customer_id == customer_id)
    return query if currency is None else query.where(LedgerEntry.currency == currency)


def _sums(customer_id: int, currency: str | None, debit_col, credit_col, before: date,
          since: date | None = None) -> tuple[Decimal, Decimal]:
    query = _filtered(select(func.coalesce(func.sum(debit_col), 0), func.coalesce(func.sum(credit_col), 0)),
                      customer_id, currency).where(LedgerEntry.entry_date < before)
    if since is not None:
        query = query.where(LedgerEntry.entry_date >= since)
    debit, credit = db.session.execute(query).one()
    return _decimal(debit, debit_col), _decimal(credit, credit_col)


def _decimal(value, column) -> Decimal:
    """coalesce(…, 0) loses the column type on SQLite (scaled integers): read it back through the column's type."""
    if isinstance(value, Decimal):
        return value
    return column.type.process_result_value(value, db.session.get_bind().dialect) if value else ZERO


def _rows(customer_id: int, currency: str | None, start: date, end: date, in_base: bool,
          balance: Decimal) -> Iterator[Row]:
    debit_col, credit_col = _columns(in_base)
    query = _filtered(select(LedgerEntry.entry_date, LedgerEntry.kind, LedgerEntry.reference, LedgerEntry.narration,
                             LedgerEntry.products, debit_col, credit_col, LedgerEntry.currency),
                      customer_id, currency)
    query = query.where(LedgerEntry.entry_date >= start, LedgerEntry.entry_date <= end).order_by(
        LedgerEntry.entry_date, LedgerEntry.id)
    result = db.session.execute(query.execution_options(yield_per=2000))
    for number, (day, kind, reference, narration, products, debit, credit, code) in enumerate(result, start=1):
        balance += debit - credit
        yield Row(number, day, f"{PARTICULARS.get(kind, kind)} {reference}", narration, products, debit, credit,
                  balance, code)


def balance_on(customer: Customer, currency: str, on: date) -> Decimal:
    """What the customer owed in `currency` at the end of `on` (Σ debits − Σ credits of entries dated up to it)."""
    debit, credit = _sums(customer.id, currency, LedgerEntry.debit, LedgerEntry.credit, date.fromordinal(
        on.toordinal() + 1))
    return debit - credit
