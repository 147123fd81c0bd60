"""The customer ledger of seed 004: its nine unit cases, the closing balance, base-currency statements."""

from datetime import date
from decimal import Decimal

import pytest

from portal.errors import ValidationError
from portal.services.receivables import allocations, corrections, statement
from portal.services.receivables.invoicing import LineInput
from tests.support import factories
from tests.support.receivables import BY, invoice, pay, rate

pytestmark = pytest.mark.usefixtures("without_files")

YEAR = (date(2026, 1, 1), date(2026, 12, 31))


@pytest.fixture
def customer(database):
    return factories.CustomerFactory(currency="USD")


@pytest.fixture
def history(customer):
    """Invoices of 1,000 (Jan), 500 (Mar) and a due note of 25 (Mar); payments of 700 (Feb) and 300 (Apr)."""
    invoice(customer, "1000.00", on=date(2026, 1, 10), description="Service desk January")
    pay(customer, "700.00", on=date(2026, 2, 5), text="Part payment")
    invoice(customer, "500.00", on=date(2026, 3, 2), description="Service desk February")
    corrections.due_note(customer, "USD", [LineInput("Late fee", "1", "25.00")], "Late payment fee", BY,
                         on=date(2026, 3, 3))
    pay(customer, "300.00", on=date(2026, 4, 1))
    return customer


def test_entries_for_a_valid_range_and_customer(history):
    ledger = statement.customer_ledger(history, "USD", date(2026, 2, 1), date(2026, 3, 31))
    assert [row.particulars.split(" ")[0] for row in ledger.rows] == ["Payment", "Invoice", "Due"]
    assert [row.debit for row in ledger.rows] == [Decimal("0.00"), Decimal("500.00"), Decimal("25.00")]
    assert [row.credit for row in ledger.rows] == [Decimal("700.00"), Decimal("0.00"), Decimal("0.00")]


def test_no_entries_for_a_range_without_any(history):
    ledger = statement.customer_ledger(history, "USD", date(2026, 6, 1), date(2026, 6, 30))
    assert ledger.rows == []
    assert (ledger.opening_debit, ledger.opening_credit) == (Decimal("525.00"), Decimal("0"))
    assert (ledger.closing_debit, ledger.closing_credit) == (Decimal("525.00"), Decimal("0"))


def test_a_range_that_ends_before_it_starts_is_refused(history):
    with pytest.raises(ValidationError) as error:
        statement.customer_ledger(history, "USD", date(2026, 6, 30), date(2026, 6, 1))
    assert error.value.field == "from"


def test_no_entries_for_a_customer_without_transactions(history):
    other = factories.CustomerFactory()
    ledger = statement.customer_ledger(other, "USD", *YEAR)
    assert ledger.rows == [] and ledger.opening_debit == ledger.opening_credit == 0
    assert ledger.closing_debit == ledger.closing_credit == 0


def test_total_debit_is_the_sum_of_the_invoices(history):
    ledger = statement.customer_ledger(history, "USD", *YEAR)
    invoices = [row.debit for row in ledger.rows if row.particulars.startswith("Invoice")]
    assert sum(invoices) == Decimal("1500.00")
    assert ledger.total_debit == Decimal("1525.00")  # with the due note, which the seed adds to the ledger


def test_total_credit_is_the_sum_of_the_payments(history):
    ledger = statement.customer_ledger(history, "USD", *YEAR)
    assert ledger.total_credit == Decimal("1000.00")
    assert sum(row.credit for row in ledger.rows if row.particulars.startswith("Payment")) == Decimal("1000.00")


def test_opening_is_debit_when_debits_exceed_credits(history):
    ledger = statement.customer_ledger(history, "USD", date(2026, 2, 1), date(2026, 12, 31))
    assert (ledger.opening_debit, ledger.opening_credit) == (Decimal("1000.00"), Decimal("0"))


def test_opening_is_credit_when_credits_exceed_debits(history):
    pay(history, "900.00", on=date(2026, 4, 20), text="Advance")
    ledger = statement.customer_ledger(history, "USD", date(2026, 5, 1), date(2026, 12, 31))
    assert (ledger.opening_debit, ledger.opening_credit) == (Decimal("0"), Decimal("375.00"))
    assert (ledger.closing_debit, ledger.closing_credit) == (Decimal("0"), Decimal("375.00"))


def test_opening_is_zero_on_both_sides_when_they_are_equal(history):
    pay(history, "525.00", on=date(2026, 4, 20))
    ledger = statement.customer_ledger(history, "USD", date(2026, 5, 1), date(2026, 12, 31))
    assert ledger.opening_debit == ledger.opening_credit == 0
    assert ledger.closing_debit == ledger.closing_credit == 0


def test_columns_and_date_order_then_id(history):
    # Posted out of date order: a payment dated before the invoices already on the ledger.
    pay(history, "50.00", on=date(2026, 1, 10), text="Same day as the first invoice")
    ledger = statement.customer_ledger(history, "USD", *YEAR)
    assert statement.COLUMNS == ("sl_num", "date", "particulars", "narration", "products", "debit", "credit",
                                 "balance")
    assert [row.sl_num for row in ledger.rows] == list(range(1, len(ledger.rows) + 1))
    dates = [row.date for row in ledger.rows]
    assert dates == sorted(dates)
    first_two = ledger.rows[:2]
    assert [r.particulars.split(" ")[0] for r in first_two] == ["Invoice", "Payment"]  # same date: by id
    assert ledger.rows[0].products == "Service desk January"
    assert ledger.rows[1].narration == "Same day as the first invoice"


def test_running_balance_and_closing_equal_the_balance_at_the_end_date(history):
    ledger = statement.customer_ledger(history, "USD", date(2026, 2, 1), date(2026, 3, 31))
    assert [row.balance for row in ledger.rows] == [Decimal("300.00"), Decimal("800.00"), Decimal("825.00")]
    assert ledger.closing_balance == statement.balance_on(history, "USD", date(2026, 3, 31)) == Decimal("825.00")
    assert (ledger.total_debit, ledger.total_credit) == (Decimal("1525.00"), Decimal("700.00"))


def test_a_statement_in_the_base_currency_uses_each_entrys_own_rate(customer):
    rate("EUR", date(2026, 1, 1), "1.10")
    rate("EUR", date(2026, 2, 1), "1.25")
    rate("GBP", date(2026, 1, 1), "1.30")
    invoice(customer, "1000.00", "EUR", on=date(2026, 1, 10))  # 1,100.00 USD
    eur_payment = pay(customer, "1000.00", "EUR", on=date(2026, 2, 3))  # 1,250.00 USD
    invoice(customer, "100.00", "GBP", on=date(2026, 2, 4))  # 130.00 USD
    rate("EUR", date(2026, 1, 5), "2.00")  # a rate arriving later changes nothing already posted
    ledger = statement.customer_ledger(customer, None, *YEAR, in_base=True)
    assert ledger.currency == "USD"
    assert [row.debit - row.credit for row in ledger.rows] == [Decimal("1100.00"), Decimal("-1250.00"),
                                                                 Decimal("130.00")]
    assert (ledger.closing_debit, ledger.closing_credit) == (Decimal("0"), Decimal("20.00"))
    eur_only = statement.customer_ledger(customer, "EUR", *YEAR, in_base=True)
    assert len(eur_only.rows) == 2 and eur_only.closing_credit == Decimal("150.00")
    assert eur_payment.base_amount == Decimal("1250.00")


def test_wallet_and_allocations_do_not_post(history):
    """Allocating a payment moves nothing on the ledger: the invoice and the payment are already on it."""
    before = statement.customer_ledger(history, "USD", *YEAR)
    documents = [r for r in before.rows if r.particulars.startswith("Invoice")]
    assert documents
    payment = pay(history, "10.00", on=date(2026, 5, 1))
    from portal.services.receivables.invoicing import by_number
    allocations.allocate(payment, by_number(documents[0].particulars.split(" ")[1]), "10.00", BY)
    after = statement.customer_ledger(history, "USD", *YEAR)
    assert len(after.rows) == len(before.rows) + 1
