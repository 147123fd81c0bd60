"""Scenarios from Odoo's and ERPNext's bug reports (issue 11, acceptance 5), and the rules around them."""

from datetime import date
from decimal import Decimal

import pytest

from portal.errors import Conflict, ValidationError
from portal.services.receivables import allocations, corrections, invoicing, payments
from portal.services.receivables.invoicing import LineInput
from tests.support import factories
from tests.support.receivables import BY, invoice, pay, rate

JAN, FEB = date(2026, 1, 10), date(2026, 2, 10)


pytestmark = pytest.mark.usefixtures("without_files")

@pytest.fixture
def customer(database):
    rate("EUR", date(2026, 1, 1), "1.10")
    rate("EUR", date(2026, 2, 1), "1.20")
    return factories.CustomerFactory()


def test_a_partial_payment_at_another_rate_does_not_close_the_invoice(customer):
    document = invoice(customer, "1000.00", "EUR", on=JAN, due_days=365)
    payment = pay(customer, "400.00", "EUR", on=FEB)
    allocation = allocations.allocate(payment, document, "400.00", BY)
    assert document.state == "partially_paid"
    assert document.open_amount == Decimal("600.00")
    assert allocation.realized_fx == Decimal("40.00")  # 400 × (1.20 − 1.10): only the allocated part


def test_outstanding_in_the_document_currency_ignores_fx(customer):
    document = invoice(customer, "1000.00", "EUR", on=JAN, due_days=365)
    allocations.allocate(pay(customer, "1000.00", "EUR", on=FEB), document, "1000.00", BY)
    assert document.open_amount == Decimal("0.00")
    assert document.state == "paid"  # not left open by the 100.00 USD the rate moved


def test_a_rate_with_six_and_more_decimals_converts_exactly(database):
    customer = factories.CustomerFactory()
    rate("JPY", date(2026, 1, 1), "0.00654321")
    rate("RUB", date(2026, 1, 1), "0.01234567")
    yen = invoice(customer, "1234567", "JPY", on=JAN)
    rouble = invoice(customer, "98765.43", "RUB", on=JAN)
    assert yen.base_amount == Decimal("8078.03")  # 1,234,567 × 0.00654321 = 8,078.0311… (at 0.006543: 8,077.77)
    assert rouble.base_amount == Decimal("1219.33")  # 98,765.43 × 0.01234567 = 1,219.3254…
    assert yen.fx_rate == Decimal("0.00654321")


def test_unreconcile_reverses_the_fx(customer):
    document = invoice(customer, "1000.00", "EUR", on=JAN, due_days=365)
    payment = pay(customer, "1000.00", "EUR", on=FEB)
    allocation = allocations.allocate(payment, document, "250.00", BY)
    reversal = allocations.unallocate(allocation, BY)
    assert reversal.realized_fx == -allocation.realized_fx == Decimal("-25.00")
    assert reversal.reverses is allocation and reversal.amount == Decimal("-250.00")
    assert document.open_amount == Decimal("1000.00") and document.state == "issued"
    assert payment.unapplied == Decimal("1000.00")
    assert allocations.live(document) == []
    with pytest.raises(Conflict):
        allocations.unallocate(allocation, BY)


def test_an_overpayment_leaves_unapplied_credit_until_refunded(customer):
    document = invoice(customer, "1000.00", "EUR", on=JAN, due_days=365)
    payment = pay(customer, "1200.00", "EUR", on=FEB)
    allocations.allocate(payment, document, "1000.00", BY)
    assert payment.unapplied == Decimal("200.00")
    with pytest.raises(ValidationError) as error:
        allocations.allocate(payment, invoice(customer, "50.00", "USD", on=FEB), "50.00", BY)
    assert error.value.field == "document"  # other currency
    refund = payments.refund("200.00", BY, payment=payment, reason="Overpaid", on=FEB)
    assert payment.unapplied == 0 and refund.base_amount == Decimal("240.00")
    with pytest.raises(ValidationError):
        payments.refund("0.01", BY, payment=payment, on=FEB)


def test_a_credit_note_has_its_own_sequence_and_links_to_its_invoice(customer):
    first = invoice(customer, "100.00", "EUR", on=JAN)
    second = invoice(customer, "100.00", "EUR", on=JAN)
    note = corrections.credit_note(first, [LineInput("Wrong hours", "1", "30.00")], "Hours corrected", BY, on=FEB)
    assert note.number == "CN-2026-000001"
    assert (first.number, second.number) == ("INV-2026-000001", "INV-2026-000002")
    assert note.corrects is first and first.corrections == [note]
    assert first.open_amount == Decimal("70.00")


def test_an_allocation_cannot_exceed_the_open_amount_or_the_unapplied_amount(customer):
    document = invoice(customer, "100.00", "EUR", on=JAN)
    payment = pay(customer, "300.00", "EUR", on=FEB)
    with pytest.raises(ValidationError, match=r"100\.00 EUR open"):
        allocations.allocate(payment, document, "100.01", BY)
    big = invoice(customer, "500.00", "EUR", on=JAN)
    with pytest.raises(ValidationError, match=r"300\.00 EUR unapplied"):
        allocations.allocate(payment, big, "300.01", BY)


def test_an_allocation_never_pairs_different_customers(customer):
    other = factories.CustomerFactory()
    with pytest.raises(ValidationError, match="another customer"):
        allocations.allocate(pay(other, "10.00", "EUR", on=FEB), invoice(customer, "10.00", "EUR", on=JAN), "10", BY)


def test_an_unidentified_payment_posts_nothing_until_assigned(customer):
    payment = pay(None, "10.00", "EUR", on=FEB, payer_name="Somebody Unknown")
    assert payment.customer is None and payment.matched_by == ""
    with pytest.raises(ValidationError, match="no customer"):
        allocations.allocate(payment, invoice(customer, "10.00", "EUR", on=JAN), "10", BY)
    payments.assign(payment, customer, BY)
    from portal.services.receivables import statement
    ledger = statement.customer_ledger(customer, "EUR", JAN, FEB)
    assert [row.credit for row in ledger.rows if row.credit] == [Decimal("10.00")]


def test_cancelling_keeps_the_number_and_reverses_it_with_a_credit_note(customer):
    document = invoice(customer, "119.00", "EUR", on=JAN)
    note = corrections.cancel(document, "Issued twice", BY, on=FEB)
    assert document.state == "cancelled" and document.number == "INV-2026-000001"
    assert note.gross_total == Decimal("119.00") and [line.description for line in note.lines] == ["Service desk"]
    with pytest.raises(Conflict):
        corrections.cancel(document, "again", BY)


def test_a_paid_invoice_cannot_be_cancelled_before_unreconciling(customer):
    document = invoice(customer, "100.00", "EUR", on=JAN)
    allocations.allocate(pay(customer, "100.00", "EUR", on=FEB), document, "100.00", BY)
    with pytest.raises(Conflict, match="unreconcile"):
        corrections.cancel(document, "wrong", BY)


def test_credit_beyond_the_invoice_is_refused_and_beyond_the_open_amount_stays_credit(customer):
    document = invoice(customer, "100.00", "EUR", on=JAN)
    allocations.allocate(pay(customer, "80.00", "EUR", on=FEB), document, "80.00", BY)
    with pytest.raises(ValidationError, match=r"100\.00 EUR left to credit"):
        corrections.credit_note(document, [LineInput("Too much", "1", "100.01")], "x", BY, on=FEB)
    note = corrections.credit_note(document, [LineInput("Goodwill", "1", "50.00")], "Goodwill", BY, on=FEB)
    assert note.applied_total == Decimal("20.00") and note.unapplied_credit == Decimal("30.00")
    assert document.open_amount == 0 and document.state == "paid"
    payments.refund("30.00", BY, credit_note=note, on=FEB)
    assert note.unapplied_credit == 0


def test_an_issued_document_is_not_issued_again(customer):
    document = invoice(customer, "10.00", "EUR", on=JAN)
    with pytest.raises(Conflict):
        invoicing.issue(document, BY)


def test_issuing_without_a_rate_names_the_currency_and_takes_no_number(database):
    customer = factories.CustomerFactory()
    draft = invoicing.create_draft("invoice", customer, "CHF", [LineInput("Work", "1", "10")], issue_date=JAN,
                                   created_by=BY)
    with pytest.raises(ValidationError) as error:
        invoicing.issue(draft, BY)
    assert error.value.field == "currency" and "CHF" in error.value.message
    assert draft.number is None


@pytest.mark.parametrize(("line", "field"), [
    (LineInput("", "1", "10"), "line 1: description"),
    (LineInput("Work", "0", "10"), "line 1: quantity"),
    (LineInput("Work", "1", "10.001"), "line 1: unit price"),
    (LineInput("Work", "1", "abc"), "line 1: unit price"),
    (LineInput("Work", "1", "10", "-5"), "line 1: tax rate"),
    (LineInput("Work", "1", "10", unit="XYZ"), "line 1: unit"),
    (LineInput("Work", "1", "-10"), "lines"),
])
def test_bad_lines_name_their_field(database, line, field):
    customer = factories.CustomerFactory()
    with pytest.raises(ValidationError) as error:
        invoicing.create_draft("invoice", customer, "EUR", [line], issue_date=JAN, created_by=BY)
    assert error.value.field == field


def test_the_due_date_follows_the_contracts_payment_terms(customer):
    contract = factories.ContractFactory(customer=customer, payment_terms_days=45)
    document = invoice(customer, "10.00", "EUR", on=JAN, contract=contract)
    assert document.due_date == date(2026, 2, 24)


def test_a_due_note_is_payable_like_an_invoice(customer):
    note = corrections.due_note(customer, "EUR", [LineInput("Late fee", "1", "15.00")], "Late fee", BY, on=FEB)
    assert note.number == "DN-2026-000001"
    allocations.allocate(pay(customer, "15.00", "EUR", on=FEB), note, "15", BY)
    assert note.state == "paid"


def test_an_adjustment_needs_a_reason_and_posts_either_side(customer):
    with pytest.raises(ValidationError) as error:
        corrections.adjust(customer, "EUR", "debit", "5", " ", BY, on=FEB)
    assert error.value.field == "reason"
    corrections.adjust(customer, "EUR", "credit", "5.00", "Rounding write-off", BY, on=FEB)
    from portal.services.receivables import statement
    assert statement.balance_on(customer, "EUR", FEB) == Decimal("-5.00")


def test_the_daily_sweep_marks_open_documents_past_due_as_overdue(customer):
    late = invoice(customer, "10.00", "EUR", on=JAN, due_days=10)
    paid = invoice(customer, "10.00", "EUR", on=JAN, due_days=10)
    allocations.allocate(pay(customer, "10.00", "EUR", on=JAN), paid, "10", BY)
    late.state = "issued"  # as stored before its due date passed
    assert invoicing.mark_overdue(on=date(2026, 1, 21)) == 1
    assert (late.state, paid.state) == ("overdue", "paid")


def test_the_creditor_reference_printed_on_invoices_names_the_invoice():
    from portal.services.receivables.matching import numbers_in
    assert numbers_in("RF67INV2026000002, also inv/2026/000003") == ["INV-2026-000002", "INV-2026-000003"]
    assert numbers_in("XINV2026000004 INV-2026-0000051") == []
