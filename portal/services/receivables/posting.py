"""Posting to the customer ledger: one hash-chained entry and the balance it changes, under the balance's row lock."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import CustomerBalance, LedgerEntry
from portal.models.ledger import GENESIS
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


def post(posting: Posting) -> LedgerEntry:
    """Write the entry and move the customer's balance in its currency, in the caller's transaction."""
    balance = locked_balance(posting.customer_id, posting.currency)
    debit, credit = (posting.amount, ZERO) if posting.side == "debit" else (ZERO, posting.amount)
    base_debit, base_credit = ((posting.conversion.amount, ZERO) if posting.side == "debit"
                               else (ZERO, posting.conversion.amount))
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
