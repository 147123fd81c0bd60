"""Reconciliation (issue 11): ranked suggestions with reasons, the named-number rule, auto-reconcile, overpayments."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.errors import ValidationError
from portal.extensions import db
from portal.models import Allocation, CustomerBalance
from portal.services.receivables import allocations, corrections, invoicing, payments, reconciliation
from portal.services.receivables.invoicing import LineInput
from portal.services.receivables.reconciliation import AUTO_REASON, suggest
from tests.support import factories
from tests.support.receivables import BY, invoice, pay, rate

ISSUED = date(2026, 1, 10)
REFERENCES = itertools.count(1)


@pytest.fixture
def customer(database, without_files):
    return factories.CustomerFactory(currency="USD")


def due_in(customer, amount: str, days: int, currency: str = "USD"):
    """An invoice issued on 10 January, due `days` later."""
    return invoice(customer, amount, currency, on=ISSUED, due_days=days)


def receive(customer, amount: str, currency: str = "USD", **more):
    """A payment with a reference and value date of its own, so two alike are not taken for duplicates."""
    n = next(REFERENCES) % 300
    return pay(customer, amount, currency, on=date.fromordinal(ISSUED.toordinal() + n), reference=f"BANK-{n}",
               **more)


def numbers(suggestions) -> list[str]:
    return [s.document.number for s in suggestions]


def test_ranking_equal_then_less_then_the_rest_each_oldest_due_first(customer):
    later_equal = due_in(customer, "1000.00", 50)
    beyond_late = due_in(customer, "500.00", 30)
    equal = due_in(customer, "1000.00", 40)
    bigger = due_in(customer, "2000.00", 45)
    beyond_early = due_in(customer, "300.00", 20)
    payment = receive(customer, "1000.00")

    found = suggest(payment)

    assert numbers(found) == [equal.number, later_equal.number, bigger.number, beyond_early.number,
                              beyond_late.number]
    assert [s.rank for s in found] == [1, 2, 3, 4, 5]
    assert [s.score for s in found] == [50, 50, 20, 0, 0]
    assert [s.amount_match for s in found] == ["equal", "equal", "partial", "beyond", "beyond"]
    assert [s.proposed_amount for s in found] == [Decimal("1000.00")] * 3 + [Decimal("300.00"), Decimal("500.00")]
    assert [s.open_amount for s in found] == [Decimal(v) for v in ("1000.00", "1000.00", "2000.00", "300.00",
                                                                    "500.00")]
    assert not any(s.number_named for s in found)


def test_reasons_are_in_words(customer):
    equal = due_in(customer, "1000.00", 40)
    bigger = due_in(customer, "2500.00", 45)
    smaller = due_in(customer, "300.00", 20)
    found = {s.document.number: s.reasons for s in suggest(receive(customer, "1000.00"))}

    assert found[equal.number][0] == "the payment's unapplied 1,000.00 USD equals the open amount"
    assert found[bigger.number][0] == ("the payment's unapplied 1,000.00 USD is less than the open 2,500.00 USD "
                                       "(a partial payment)")
    assert found[smaller.number][0] == ("the open 300.00 USD is less than the payment's unapplied 1,000.00 USD; "
                                        "the rest stays as unapplied credit")
    assert found[equal.number][1].startswith(f"due {equal.due_date.isoformat()}")
    assert "oldest due date ranks first" in found[equal.number][1]
    assert len(found[equal.number]) == 2  # no customer reason: the payment has its customer


def test_a_named_number_is_the_only_proposal_and_ranks_strongest(customer):
    equal_but_not_named = due_in(customer, "1000.00", 20)
    named = due_in(customer, "700.00", 40)
    payment = receive(customer, "1000.00", text=f"Payment for {named.number.lower().replace('-', '/')}, thanks")

    found = suggest(payment)

    assert numbers(found) == [named.number]
    assert equal_but_not_named.number not in numbers(found)
    top = found[0]
    assert top.number_named and top.score == 100 and top.proposed_amount == Decimal("700.00")
    assert top.reasons[0] == f"{named.number} is named in the payment text"


def test_several_named_numbers_rank_by_amount_then_due_date(customer):
    first = due_in(customer, "400.00", 20)
    second = due_in(customer, "600.00", 40)
    payment = receive(customer, "600.00", text=f"{first.number} {second.number}")
    found = suggest(payment)
    assert numbers(found) == [second.number, first.number]
    assert [s.score for s in found] == [150, 100]
    assert found[0].auto_applicable and not found[1].auto_applicable


def test_a_named_number_that_is_not_open_proposes_nothing(customer):
    paid = due_in(customer, "500.00", 30)
    allocations.allocate(receive(customer, "500.00"), paid, "500.00", BY)
    due_in(customer, "500.00", 40)  # open, same amount, but not the one the payer names
    assert suggest(receive(customer, "500.00", text=f"Re {paid.number}")) == []
    assert suggest(receive(customer, "500.00", text="INV-2026-999999")) == []


def test_another_customers_named_invoice_is_not_proposed(customer):
    theirs = due_in(factories.CustomerFactory(currency="USD"), "800.00", 30)
    due_in(customer, "800.00", 30)
    assert suggest(receive(customer, "800.00", text=f"invoice {theirs.number}")) == []


def test_only_open_payable_documents_of_the_customer_are_proposed(customer):
    open_invoice = due_in(customer, "100.00", 30)
    note = corrections.due_note(customer, "USD", [LineInput("Late fee", "1", "25.00")], "Late payment fee", BY,
                                on=date(2026, 2, 1))
    cancelled = due_in(customer, "100.00", 30)
    corrections.cancel(cancelled, "Wrong customer", BY)
    paid = due_in(customer, "100.00", 30)
    allocations.allocate(receive(customer, "100.00"), paid, "100.00", BY)
    invoicing.create_draft("invoice", customer, "USD", [LineInput("Draft", "1", "100.00")], issue_date=ISSUED,
                           created_by=BY)
    due_in(factories.CustomerFactory(currency="USD"), "100.00", 30)

    found = suggest(receive(customer, "100.00"))

    assert numbers(found) == [open_invoice.number, note.number]  # the due note is payable too; no credit note
    assert found[1].document.kind == "due_note"


def test_a_different_currency_is_never_proposed(customer):
    rate("EUR", date(2026, 1, 1), "1.10")
    euro = due_in(customer, "1000.00", 30, currency="EUR")
    assert suggest(receive(customer, "1000.00", "USD", text=f"Paying {euro.number}")) == []
    assert suggest(receive(customer, "1000.00", "USD")) == []
    assert numbers(suggest(receive(customer, "1000.00", "EUR"))) == [euro.number]


def test_the_open_amount_counts_payments_and_credits_already_applied(customer):
    target = due_in(customer, "1000.00", 30)
    other = due_in(customer, "600.00", 40)
    allocations.allocate(receive(customer, "250.00"), target, "250.00", BY)
    corrections.credit_note(target, [LineInput("Discount", "1", "150.00")], "goodwill", BY, on=date(2026, 1, 25))
    payment = receive(customer, "1000.00")
    allocations.allocate(payment, target, "400.00", BY)  # many-to-many: part of this one, the rest elsewhere

    found = suggest(payment)

    assert payment.unapplied == Decimal("600.00") and target.open_amount == Decimal("200.00")
    assert [(s.document, s.amount_match, s.proposed_amount) for s in found] == \
        [(other, "equal", Decimal("600.00")), (target, "beyond", Decimal("200.00"))]


def test_unidentified_payments_rank_every_customers_open_invoices(customer):
    other = factories.CustomerFactory(currency="USD")
    ours = due_in(customer, "900.00", 40)
    theirs = due_in(other, "900.00", 20)
    bigger = due_in(other, "5000.00", 10)
    payment = receive(None, "900.00", payer_name="Nobody Known")
    assert payment.customer_id is None

    found = suggest(payment)

    assert numbers(found) == [theirs.number, ours.number, bigger.number]
    assert found[0].reasons[-1] == f"customer {other.code} ({other.name}); the payment has none yet"
    assert found[1].reasons[-1].startswith(f"customer {customer.code} ")


def test_an_unidentified_payment_naming_a_number_gets_only_that_document(customer):
    named = due_in(factories.CustomerFactory(currency="USD"), "300.00", 40)
    due_in(customer, "900.00", 20)
    payment = receive(None, "900.00")
    payment.text = f"ref {named.number}"  # read after recording, e.g. corrected from the bank's advice
    db.session.flush()
    assert numbers(suggest(payment)) == [named.number]


def test_limit_and_a_fully_applied_payment(customer):
    for days in range(25):
        due_in(customer, "10.00", 20 + days)
    payment = receive(customer, "10.00")
    assert len(suggest(payment)) == 20
    assert [s.rank for s in suggest(payment, limit=3)] == [1, 2, 3]
    with pytest.raises(ValidationError) as error:
        suggest(payment, limit=0)
    assert error.value.errors == {"limit": "must be a whole number of at least 1"}
    allocations.allocate(payment, suggest(payment)[0].document, "10.00", BY)
    assert suggest(payment) == []


def test_an_overpayment_leaves_unapplied_credit(customer):
    target = due_in(customer, "1000.00", 30)
    payment = receive(customer, "1500.00")
    top = suggest(payment)[0]
    assert top.document == target and top.proposed_amount == Decimal("1000.00")
    assert "the rest stays as unapplied credit" in top.reasons[0]

    allocations.allocate(payment, top.document, top.proposed_amount, BY)

    assert target.state == "paid" and payment.unapplied == Decimal("500.00")
    balance = db.session.get(CustomerBalance, (customer.id, "USD"))
    assert balance.balance == Decimal("-500.00")  # the customer's credit, until allocated or refunded
    later = due_in(customer, "800.00", 60)
    assert [(s.document, s.proposed_amount, s.amount_match) for s in suggest(payment)] == \
        [(later, Decimal("500.00"), "partial")]


def test_unapplied_credit_can_be_refunded_instead(customer):
    allocations.allocate(payment := receive(customer, "1500.00"), due_in(customer, "1000.00", 30), "1000.00", BY)
    payments.refund("500.00", BY, payment=payment, reason="overpaid")
    assert payment.unapplied == Decimal("0.00") and suggest(payment) == []
    assert db.session.get(CustomerBalance, (customer.id, "USD")).balance == Decimal("0.00")


def test_auto_reconcile_applies_number_and_amount_matches(customer):
    target = due_in(customer, "1200.00", 30)
    due_in(customer, "1200.00", 20)
    payment = receive(customer, "1200.00", text=f"Invoice {target.number}")

    done = reconciliation.auto_reconcile(BY)

    assert [(d.payment, d.document, d.amount) for d in done] == [(payment, target, Decimal("1200.00"))]
    assert done[0].allocation.reason == AUTO_REASON and done[0].allocation.created_by == BY
    assert target.state == "paid" and payment.unapplied == Decimal("0.00")
    assert reconciliation.auto_reconcile(BY) == []  # nothing left to do


def test_auto_reconcile_never_pairs_a_payment_whose_text_names_another_invoice_number(customer):
    amount_matches = due_in(customer, "450.00", 30)
    named = due_in(customer, "999.00", 30)
    payment = receive(customer, "450.00", text=f"Settles {named.number}")

    assert reconciliation.auto_reconcile(BY) == []

    assert payment.unapplied == Decimal("450.00")
    assert amount_matches.allocated_total == 0 and named.allocated_total == 0
    assert db.session.scalars(select(Allocation)).all() == []


def test_auto_reconcile_skips_partial_amounts_ambiguity_and_unidentified_payments(customer):
    partial = due_in(customer, "800.00", 30)
    receive(customer, "500.00", text=partial.number)
    twin_a, twin_b = due_in(customer, "50.00", 30), due_in(customer, "50.00", 40)
    receive(customer, "50.00", text=f"{twin_a.number} or {twin_b.number}")
    stranger = due_in(factories.CustomerFactory(currency="USD"), "75.00", 30)
    unidentified = receive(None, "75.00")
    unidentified.text = stranger.number
    db.session.flush()

    assert reconciliation.auto_reconcile(BY) == []
    assert reconciliation.auto_reconcile(BY, [unidentified]) == []
    assert stranger.allocated_total == 0 and partial.allocated_total == 0


def test_auto_reconcile_only_touches_the_payments_given(customer):
    first, second = due_in(customer, "10.00", 30), due_in(customer, "20.00", 30)
    receive(customer, "10.00", text=first.number)
    chosen = receive(customer, "20.00", text=second.number)
    done = reconciliation.auto_reconcile(BY, [chosen])
    assert [d.document for d in done] == [second]
    assert first.allocated_total == 0


def test_unreconciling_an_auto_allocation_reopens_it_for_suggestions(customer):
    target = due_in(customer, "300.00", 30)
    payment = receive(customer, "300.00", text=target.number)
    done = reconciliation.auto_reconcile(BY)
    allocations.unallocate(done[0].allocation, BY)
    assert [s.auto_applicable for s in suggest(payment)] == [True]
    assert len(db.session.scalars(select(Allocation)).all()) == 2  # the original stays, with its reversal
