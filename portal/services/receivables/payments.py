"""Payments: recording (by hand or from a bank file), duplicates, assigning unidentified ones, refunds."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import or_, select

from portal.errors import Conflict, NotFound, ValidationError
from portal.extensions import db
from portal.models import Customer, Payment, Refund
from portal.models.payments import PAYMENT_METHODS
from portal.money import parse, quantize
from portal.services.masterdata import fx
from portal.services.receivables import invoicing, matching, posting


@dataclass(frozen=True)
class PaymentInput:
    """A payment as typed or read from a bank file; strings are checked when it is recorded."""

    amount: object
    currency: str
    value_date: date
    method: str = "bank_transfer"
    bank_reference: str = ""
    account_iban: str = ""
    payer_name: str = ""
    payer_iban: str = ""
    text: str = ""
    customer_code: str = ""  # empty: match the payer
    source: dict = field(default_factory=dict)  # where it was read (file, line), for errors


def fingerprint(account_iban: str, amount, currency: str, value_date: date, text: str) -> str:
    """What makes two payments the same when the bank gave no reference: account, amount, date and text."""
    normal = " ".join((text or "").lower().split())
    # At the currency's decimals: "2500" typed and "2500.00" read from a bank file are the same amount.
    account, exact = matching.compact_iban(account_iban), quantize(amount, currency)
    key = f"{account}|{exact}|{currency}|{value_date.isoformat()}|{normal}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def checked(values: PaymentInput) -> dict:
    """The payment's columns, checked; a ValidationError names the field."""
    currency = invoicing.check_currency(values.currency)
    amount = parse(values.amount, "amount", currency, positive=True)
    if values.method not in PAYMENT_METHODS:
        raise ValidationError("method", f"must be one of {', '.join(PAYMENT_METHODS)}")
    if not isinstance(values.value_date, date):
        raise ValidationError("value date", "is required")
    columns = {"amount": amount, "currency": currency, "value_date": values.value_date, "method": values.method,
               "bank_reference": _text(values.bank_reference, "bank reference", 140),
               "account_iban": _iban(values.account_iban, "account IBAN"),
               "payer_name": _text(values.payer_name, "payer name", 200),
               "payer_iban": _iban(values.payer_iban, "payer IBAN"), "text": _text(values.text, "text", 4000)}
    columns["fingerprint"] = fingerprint(columns["account_iban"], amount, currency, values.value_date,
                                         columns["text"])
    return columns


def _text(value, name: str, limit: int) -> str:
    text = " ".join(str(value or "").split())
    if len(text) > limit:
        raise ValidationError(name, f"is too long ({len(text)} characters; at most {limit})")
    return text


def _iban(value, name: str) -> str:
    text = matching.compact_iban(str(value or ""))
    if len(text) > 34:
        raise ValidationError(name, "is too long for an IBAN or account number (at most 34 characters)")
    return text


def duplicate_of(columns: dict) -> Payment | None:
    """An already recorded payment with the same bank reference and account, or the same amount, date and text."""
    same_reference = (Payment.bank_reference == columns["bank_reference"]) & (
        Payment.account_iban == columns["account_iban"])
    condition = Payment.fingerprint == columns["fingerprint"]
    if columns["bank_reference"]:
        condition = or_(condition, same_reference)
    return db.session.scalar(select(Payment).where(condition).order_by(Payment.id).limit(1))


def record(values: PaymentInput, created_by: str, *, import_id: int | None = None,
           allow_duplicate: bool = False) -> Payment:
    """Record a payment: converted at its value date, matched to its payer, and posted if the payer is known."""
    columns = checked(values)
    duplicate = None if allow_duplicate else duplicate_of(columns)
    if duplicate is not None:
        raise Conflict(f"this looks like payment {duplicate.id} of {duplicate.value_date} already recorded")
    customer, matched_by = _payer(values, columns)
    conversion = fx.to_base(columns["amount"], columns["currency"], columns["value_date"])
    payment = Payment(**columns, customer=customer, matched_by=matched_by, import_id=import_id,
                      created_by=created_by, base_amount=conversion.amount, fx_rate=conversion.rate,
                      fx_rate_date=conversion.rate_date, fx_source=conversion.source)
    db.session.add(payment)
    db.session.flush()
    if customer is not None:
        _post(payment, created_by)
    return payment


def _payer(values: PaymentInput, columns: dict) -> tuple[Customer | None, str]:
    if values.customer_code:
        return customer_by_code(values.customer_code), "manual"
    found = matching.match_payer(columns["payer_iban"], columns["text"], columns["payer_name"])
    return found.customer, found.matched_by


def customer_by_code(code: str) -> Customer:
    customer = db.session.scalar(select(Customer).where(Customer.code == (code or "").strip()))
    if customer is None:
        raise ValidationError("customer", f"no customer with the code “{code}”")
    return customer


def _post(payment: Payment, posted_by: str) -> None:
    conversion = fx.Conversion(payment.base_amount, payment.fx_rate, payment.fx_rate_date, payment.fx_source)
    posting.post(posting.Posting(
        customer_id=payment.customer_id, currency=payment.currency, entry_date=payment.value_date, kind="payment",
        amount=payment.amount, side="credit", conversion=conversion, reference=f"PAY-{payment.id}",
        narration=" ".join(filter(None, (payment.payer_name, payment.bank_reference, payment.text)))[:2000],
        posted_by=posted_by, payment_id=payment.id))


def assign(payment: Payment, customer: Customer, assigned_by: str) -> Payment:
    """Give an unidentified payment its customer; it posts to that customer's ledger now."""
    if payment.customer_id is not None:
        raise Conflict(f"payment {payment.id} already belongs to {payment.customer.name}")
    payment.customer, payment.customer_id, payment.matched_by = customer, customer.id, "manual"
    db.session.flush()
    _post(payment, assigned_by)
    return payment


def refund(amount, refunded_by: str, *, payment: Payment | None = None, credit_note=None, reason: str = "",
           on: date | None = None) -> Refund:
    """Pay money back out of a payment's unapplied part or a credit note's unapplied credit (a ledger debit)."""
    source = payment if payment is not None else credit_note
    if (payment is None) == (credit_note is None):
        raise ValidationError("source", "refund either a payment or a credit note")
    if source.customer_id is None:
        raise Conflict(f"payment {payment.id} has no customer yet; assign it first")
    value = parse(amount, "amount", source.currency, positive=True)
    room = payment.unapplied if payment is not None else credit_note.unapplied_credit
    if value > room:
        raise ValidationError("amount", f"at most {room} {source.currency} is unapplied and can be refunded")
    refund_date = on or invoicing.today()
    conversion = fx.to_base(value, source.currency, refund_date)
    row = Refund(customer_id=source.customer_id, payment=payment, credit_note=credit_note, amount=value,
                 currency=source.currency, refund_date=refund_date, reason=(reason or "").strip(),
                 created_by=refunded_by, base_amount=conversion.amount, fx_rate=conversion.rate,
                 fx_rate_date=conversion.rate_date, fx_source=conversion.source)
    source.refunded_total = source.refunded_total + value
    db.session.add(row)
    db.session.flush()
    posting.post(posting.Posting(
        customer_id=source.customer_id, currency=source.currency, entry_date=refund_date, kind="refund",
        amount=value, side="debit", conversion=conversion, reference=f"REF-{row.id}",
        narration=row.reason or f"Refund of {'payment ' + str(payment.id) if payment else credit_note.number}",
        posted_by=refunded_by, refund_id=row.id))
    return row


def get(payment_id) -> Payment:
    payment = db.session.get(Payment, payment_id) if str(payment_id).isdigit() else None
    if payment is None:
        raise NotFound(f"no payment {payment_id}")
    return payment
