"""`flask reconcile suggest PAYMENT_ID [--json]` and `flask reconcile auto [--json]`."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Allocation
from portal.services.receivables import rendering
from tests.support import factories
from tests.support.receivables import invoice, pay


@pytest.fixture(autouse=True)
def without_files(monkeypatch):
    """Issue without rendering the PDF and UBL files (seconds each); these tests are about matching."""
    monkeypatch.setattr(rendering, "render_files", lambda document: [])


def run(app, *args):
    result = app.test_cli_runner().invoke(args=["reconcile", *[str(a) for a in args]])
    db.session.expire_all()  # the command used the session and committed (to the test's savepoint)
    return result


@pytest.fixture
def world(database):
    """Two open invoices of one customer (1,000 due first, 2,500) and a payment of 1,000 naming neither."""
    customer = factories.CustomerFactory(currency="USD")
    first = invoice(customer, "1000.00", on=date(2026, 1, 10), due_days=20)
    second = invoice(customer, "2500.00", on=date(2026, 1, 10), due_days=40)
    payment = pay(customer, "1000.00", reference="BANK-1")
    return customer, first, second, payment


def test_suggest_json(app, world):
    customer, first, second, payment = world
    result = run(app, "suggest", payment.id, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {k: v for k, v in report.items() if k != "suggestions"} == {
        "payment_id": payment.id, "customer_code": customer.code, "currency": "USD", "amount": "1000.00",
        "unapplied": "1000.00"}
    top, other = report["suggestions"]
    assert top == {
        "rank": 1, "document_id": first.id, "number": first.number, "kind": "invoice", "customer_code": customer.code,
        "currency": "USD", "issue_date": "2026-01-10", "due_date": "2026-01-30", "open_amount": "1000.00",
        "proposed_amount": "1000.00", "score": 50, "number_named": False, "amount_match": "equal",
        "reasons": ["the payment's unapplied 1,000.00 USD equals the open amount", top["reasons"][1]]}
    assert top["reasons"][1].startswith("due 2026-01-30")
    assert (other["number"], other["amount_match"], other["proposed_amount"]) == (second.number, "partial", "1000.00")


def test_suggest_text(app, world):
    _customer, first, _second, payment = world
    result = run(app, "suggest", payment.id, "--limit", "1")
    assert result.exit_code == 0, result.output
    assert f"Payment {payment.id}: 1,000.00 USD unapplied." in result.output
    assert f"  1. {first.number}" in result.output and "score 50" in result.output
    assert "- the payment's unapplied 1,000.00 USD equals the open amount" in result.output
    assert "2." not in result.output


def test_suggest_unknown_payment_and_bad_limit(app, world):
    result = run(app, "suggest", "999999")
    assert result.exit_code != 0 and "no payment 999999" in result.output
    assert run(app, "suggest", world[3].id, "--limit", "0").exit_code != 0


def test_auto_json_lists_what_it_allocated(app, world):
    customer, _first, second, payment = world
    named = pay(customer, "2500.00", reference="BANK-2", text=f"Invoice {second.number}")

    result = run(app, "auto", "--json", "--by", "ops@example.test")

    assert result.exit_code == 0, result.output
    allocation = db.session.scalars(select(Allocation)).one()
    assert json.loads(result.stdout) == {"allocated": [{
        "payment_id": named.id, "document_id": second.id, "number": second.number, "customer_code": customer.code,
        "amount": "2500.00", "currency": "USD", "allocation_id": allocation.id}]}
    assert allocation.reason == "auto: number and amount match" and allocation.created_by == "ops@example.test"
    assert db.session.get(type(payment), payment.id).allocated_total == 0  # it named no number


def test_auto_text_and_nothing_to_do(app, world):
    customer, first, _second, _payment = world
    pay(customer, "1000.00", reference="BANK-3", text=first.number)
    result = run(app, "auto")
    assert result.exit_code == 0, result.output
    assert f"-> {first.number} ({customer.code}): 1,000.00 USD" in result.output
    assert result.output.strip().endswith("1 allocated.")
    again = run(app, "auto")
    assert again.output.strip() == "0 allocated."
    assert db.session.get(type(first), first.id).allocated_total == Decimal("1000.00")


def test_auto_only_the_payments_given(app, world):
    customer, first, second, _payment = world
    pay(customer, "1000.00", reference="BANK-4", text=first.number)
    chosen = pay(customer, "2500.00", reference="BANK-5", text=second.number)
    result = run(app, "auto", "--payment", chosen.id, "--json")
    assert [row["number"] for row in json.loads(result.stdout)["allocated"]] == [second.number]
