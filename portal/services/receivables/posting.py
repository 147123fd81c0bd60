"""Posting to the customer ledger: one hash-chained entry and the balance it changes, under the balance's row lock."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from sqlalchemy import JSON, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import CustomerBalance, LedgerEntry
from portal.models.ledger import GENESIS
from portal.models.types import ExactDecimal, utcnow
from portal.money import ZERO
from portal.services.masterdata.fx import Conversion, base_currency


@dataclass(frozen=True)
class Posting:
    """What one entry records, before the ledger numbers and chains it."""

    customer_id: int
    currency: str
    entry_date: date
    kind: str
    amount: Decimal  # positive: the side says which way it moves the balance
    side: str  # "debit" | "credit"
    conversion: Conversion
    reference: str
    narration: str = ""
    products: str = ""
    posted_by: str = ""
    document_id: int | None = None
    payment_id: int | None = None
    refund_id: int | None = None
    adjustment_id: int | None = None


def sides(posting: Posting) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """(debit, credit, base debit, base credit) of a posting: its amount on the side it names, zero on the other."""
    amount, base = posting.amount, posting.conversion.amount
    return (amount, ZERO, base, ZERO) if posting.side == "debit" else (ZERO, amount, ZERO, base)


def post(posting: Posting) -> LedgerEntry:
    """Write the entry and move the customer's balance in its currency, in the caller's transaction."""
    balance = locked_balance(posting.customer_id, posting.currency)
    debit, credit, base_debit, base_credit = sides(posting)
    entry = LedgerEntry(
        customer_id=posting.customer_id, currency=posting.currency, entry_date=posting.entry_date, kind=posting.kind,
        reference=posting.reference[:40], narration=posting.narration, products=posting.products,
        debit=debit, credit=credit, base_currency=base_currency(),
        base_debit=base_debit, base_credit=base_credit, fx_rate=posting.conversion.rate,
        balance_after=balance.balance + debit - credit, document_id=posting.document_id,
        payment_id=posting.payment_id, refund_id=posting.refund_id, adjustment_id=posting.adjustment_id,
        posted_by=posting.posted_by, previous_hash=balance.last_hash)
    entry.entry_hash = entry_hash(entry)
    balance.balance = entry.balance_after
    balance.base_balance = balance.base_balance + base_debit - base_credit
    balance.entries += 1
    balance.last_hash = entry.entry_hash
    db.session.add(entry)
    db.session.flush()
    return entry


def post_many(postings: Sequence[Posting]) -> int:
    """Post many entries at once: what post() writes one by one, in order, with each balance row locked once and
    the entries inserted in bulk; returns how many were written."""
    batch = Batch()
    written = batch.post(postings)
    batch.close()
    return written


class Batch:
    """Postings over several calls (a bank import, a chunk at a time): each balance row is locked and read once,
    each call's entries are inserted in bulk, and close() writes every balance once."""

    def __init__(self):
        self.rows: dict[tuple[int, str], CustomerBalance] = {}
        # Kept apart from the rows until close(): a dirty row would be written again by every autoflush.
        self.running: dict[tuple[int, str], list] = {}  # [balance, base balance, entries, last hash]
        self.base = base_currency()

    def post(self, postings: Sequence[Posting]) -> int:
        """Insert the entries of `postings` in order, chained to what this batch posted before."""
        new = {(p.customer_id, p.currency) for p in postings} - self.rows.keys()
        for key, row in _locked_balances(new).items():
            self.rows[key] = row
            self.running[key] = [row.balance, row.base_balance, row.entries, row.last_hash]
        now = utcnow()
        entries = [self._entry(p, self.running[(p.customer_id, p.currency)], now) for p in postings]
        insert_rows(LedgerEntry, entries)
        return len(entries)

    def _entry(self, posting: Posting, state: list, now) -> dict:
        debit, credit, base_debit, base_credit = sides(posting)
        row = {"customer_id": posting.customer_id, "currency": posting.currency, "entry_date": posting.entry_date,
               "kind": posting.kind, "reference": posting.reference[:40], "narration": posting.narration,
               "products": posting.products, "debit": debit, "credit": credit, "base_currency": self.base,
               "base_debit": base_debit, "base_credit": base_credit, "fx_rate": posting.conversion.rate,
               "balance_after": state[0] + debit - credit, "document_id": posting.document_id,
               "payment_id": posting.payment_id, "refund_id": posting.refund_id,
               "adjustment_id": posting.adjustment_id, "posted_by": posting.posted_by, "posted_at": now,
               "previous_hash": state[3]}
        row["entry_hash"] = entry_hash(SimpleNamespace(**row))
        state[:] = [row["balance_after"], state[1] + base_debit - base_credit, state[2] + 1, row["entry_hash"]]
        return row

    def close(self) -> None:
        """Write each balance the batch moved, once."""
        for key, (balance, base_balance, entries, last_hash) in self.running.items():
            row = self.rows[key]
            row.balance, row.base_balance, row.entries, row.last_hash = balance, base_balance, entries, last_hash
        db.session.flush()


def insert_rows(model, rows: list[dict]) -> None:
    """Insert plain rows (every column given, defaults included) in bulk and in order, so their ids follow it:
    PostgreSQL's COPY, elsewhere one executemany; both insert row after row, unlike a multi-row VALUES."""
    if not rows:
        return
    connection = db.session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql":
        db.session.execute(insert(model), rows)
        return
    names = list(rows[0])
    columns = [model.__table__.c[name] for name in names]
    processors = [_copy_processor(column, dialect) for column in columns]
    quoted = ", ".join(dialect.identifier_preparer.quote(column.name) for column in columns)
    statement = f"COPY {dialect.identifier_preparer.format_table(model.__table__)} ({quoted}) FROM STDIN"
    with connection.connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[name] if process is None else process(row[name])
                            for name, process in zip(names, processors, strict=True)])


def _copy_processor(column, dialect):
    """How COPY gets a column's value: JSON as its text (the JSON type would hand psycopg a dict), exact decimals
    as they are (their binding changes nothing on PostgreSQL), any other type as it binds."""
    if isinstance(column.type, JSON):
        return json.dumps
    if isinstance(column.type, ExactDecimal):
        return None
    return column.type.bind_processor(dialect)


def _locked_balances(keys: set[tuple[int, str]]) -> dict[tuple[int, str], CustomerBalance]:
    """The balance rows of (customer, currency) keys, locked; the missing ones created in one statement."""
    found = _select_locked({customer_id for customer_id, _ in keys})
    missing = sorted(key for key in keys if key not in found)
    if missing:
        dialect = db.session.get_bind().dialect.name
        if dialect not in ("postgresql", "sqlite"):
            return {key: found[key] if key in found else locked_balance(*key) for key in keys}
        statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(CustomerBalance)
        # A row another transaction creates meanwhile is left to it: the locking read below waits for it.
        db.session.execute(statement.on_conflict_do_nothing(), [
            {"customer_id": customer_id, "currency": currency, "balance": ZERO, "base_balance": ZERO, "entries": 0,
             "last_hash": GENESIS} for customer_id, currency in missing])
        found.update(_select_locked({customer_id for customer_id, _ in missing}))
    return {key: found[key] for key in keys}


def _select_locked(customer_ids: set[int]) -> dict[tuple[int, str], CustomerBalance]:
    """Every balance row of the customers, locked, one query per 1,000 customers."""
    ordered, found = sorted(customer_ids), {}
    for start in range(0, len(ordered), 1000):
        query = (select(CustomerBalance).where(CustomerBalance.customer_id.in_(ordered[start:start + 1000]))
                 .with_for_update().execution_options(populate_existing=True))
        found.update({(row.customer_id, row.currency): row for row in db.session.scalars(query)})
    return found


def locked_balance(customer_id: int, currency: str) -> CustomerBalance:
    """The customer's balance row in `currency`, locked until the transaction ends (created on first use)."""
    query = (select(CustomerBalance).where(CustomerBalance.customer_id == customer_id,
                                           CustomerBalance.currency == currency)
             .with_for_update().execution_options(populate_existing=True))
    balance = db.session.scalar(query)
    if balance is not None:
        return balance
    try:
        with db.session.begin_nested():
            balance = CustomerBalance(customer_id=customer_id, currency=currency, balance=ZERO, base_balance=ZERO,
                                      entries=0, last_hash=GENESIS)
            db.session.add(balance)
        return db.session.scalar(query)
    except IntegrityError:  # another transaction created it meanwhile: wait for its lock
        return db.session.scalar(query)


def entry_hash(entry: LedgerEntry) -> str:
    """SHA-256 of the previous hash and every figure of the entry, in a fixed text form."""
    parts = (entry.previous_hash, entry.customer_id, entry.currency, entry.entry_date.isoformat(), entry.kind,
             entry.reference, _money(entry.debit), _money(entry.credit), entry.base_currency,
             _money(entry.base_debit), _money(entry.base_credit), f"{Decimal(entry.fx_rate):.8f}",
             _money(entry.balance_after), entry.document_id, entry.payment_id, entry.refund_id, entry.adjustment_id)
    return hashlib.sha256("|".join("" if p is None else str(p) for p in parts).encode("utf-8")).hexdigest()


def _money(value) -> str:
    return f"{Decimal(value):.2f}"


@dataclass(frozen=True)
class ChainCheck:
    entries: int
    broken_at: int | None  # the id of the first entry whose hash or balance does not follow, if any

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def verify_chain(customer_id: int, currency: str) -> ChainCheck:
    """Recompute the customer's chain in `currency`: each hash and each balance_after must follow the previous."""
    entries = db.session.scalars(select(LedgerEntry).where(LedgerEntry.customer_id == customer_id,
                                                           LedgerEntry.currency == currency)
                                 .order_by(LedgerEntry.id))
    previous, balance, count = GENESIS, ZERO, 0
    for entry in entries:
        count += 1
        balance += entry.debit - entry.credit
        if entry.previous_hash != previous or entry.entry_hash != entry_hash(entry) or entry.balance_after != balance:
            return ChainCheck(count, entry.id)
        previous = entry.entry_hash
    stored = db.session.get(CustomerBalance, (customer_id, currency))
    if stored is not None and (stored.last_hash != previous or stored.balance != balance):
        return ChainCheck(count, -1)
    return ChainCheck(count, None)
