"""Property tests of the receivables ledger (issue 11, acceptance 4): random sequences of issue, pay, allocate,
unallocate, credit, due note, adjust and refund across currencies and dates keep every invariant."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal.errors import ValidationError
from portal.extensions import db
from portal.models import Allocation, CustomerBalance, LedgerEntry, ReceivableDocument
from portal.money import minor_units, quantize
from portal.services.receivables import allocations, corrections, invoicing, payments, posting, statement
from portal.services.receivables.invoicing import LineInput
from portal.services.receivables.payments import PaymentInput
from tests.support import factories
from tests.support.receivables import BY, rate

pytestmark = pytest.mark.usefixtures("without_files")

CURRENCIES = ("USD", "EUR", "JPY")
START = date(2026, 1, 1)
EXAMPLES = {"sqlite": 500, "postgresql": 100}

days = st.integers(min_value=0, max_value=120)
amounts = st.integers(min_value=1, max_value=500_000)  # minor units
fractions = st.sampled_from((Decimal("1"), Decimal("0.5"), Decimal("0.3333"), Decimal("0.01")))
picks = st.integers(min_value=0, max_value=1_000)

operations = st.one_of(
    st.tuples(st.just("issue"), st.sampled_from(("invoice", "due_note")), st.integers(0, 1),
              st.sampled_from(CURRENCIES), amounts, days, st.integers(5, 400), st.sampled_from(("0", "19", "7.5"))),
    st.tuples(st.just("pay"), st.integers(-1, 1), st.sampled_from(CURRENCIES), amounts, days),
    st.tuples(st.just("allocate"), picks, picks, fractions, days),
    st.tuples(st.just("unallocate"), picks, days),
    st.tuples(st.just("credit"), picks, fractions, days, st.booleans()),
    st.tuples(st.just("cancel"), picks, days),
    st.tuples(st.just("adjust"), st.integers(0, 1), st.sampled_from(CURRENCIES), st.sampled_from(("debit", "credit")),
              amounts, days),
    st.tuples(st.just("refund"), picks, fractions, days),
    st.tuples(st.just("assign"), picks, st.integers(0, 1)),
)


def _amount(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-minor_units(currency))


def _part(value: Decimal, fraction: Decimal, currency: str) -> Decimal:
    step = Decimal(1).scaleb(-minor_units(currency))
    return max(step, (value * fraction).quantize(step)) if value > 0 else Decimal(0)


class World:
    """The objects a sequence has made, so later operations can pick among them."""

    def __init__(self, customers):
        self.customers = customers
        self.documents, self.payments, self.allocations, self.notes = [], [], [], []

    def run(self, operation) -> None:
        getattr(self, operation[0])(*operation[1:])

    def issue(self, kind, who, currency, minor, day, due_days, tax):
        customer, on = self.customers[who], START + timedelta(days=day)
        lines = [LineInput("Service", "1", _amount(minor, currency), tax)]
        if kind == "invoice":
            draft = invoicing.create_draft(kind, customer, currency, lines, issue_date=on, created_by=BY,
                                           due_date=on + timedelta(days=due_days))
            self.documents.append(invoicing.issue(draft, BY))
        else:
            self.documents.append(corrections.due_note(customer, currency, lines, "Late fee", BY, on=on))

    def pay(self, who, currency, minor, day):
        code = self.customers[who].code if who >= 0 else ""
        self.payments.append(payments.record(PaymentInput(
            amount=_amount(minor, currency), currency=currency, value_date=START + timedelta(days=day),
            customer_code=code, text=f"payment {len(self.payments)}"), BY, allow_duplicate=True))

    def allocate(self, p, d, fraction, day):
        if not self.payments or not self.documents:
            return
        payment, document = self.payments[p % len(self.payments)], self.documents[d % len(self.documents)]
        if (payment.customer_id != document.customer_id or payment.currency != document.currency
                or document.state == "cancelled"):
            return
        amount = _part(min(document.open_amount, payment.unapplied), fraction, document.currency)
        if amount > 0:
            self.allocations.append(allocations.allocate(payment, document, amount, BY,
                                                         on=START + timedelta(days=day)))

    def unallocate(self, a, day):
        live = [row for row in self.allocations if row.reverses_id is None and not row.reversal]
        if live:
            allocations.unallocate(live[a % len(live)], BY, on=START + timedelta(days=day))

    def credit(self, d, fraction, day, tax_first=True):
        if not self.documents:
            return
        document = self.documents[d % len(self.documents)]
        left = document.gross_total - sum((n.gross_total for n in document.corrections), Decimal(0))
        if document.state == "cancelled" or left <= 0:
            return
        rate = document.lines[0].tax_rate if tax_first else Decimal(0)  # mostly the document's rate
        net = _part(left * fraction / (1 + rate / 100), Decimal(1), document.currency)
        gross = net + quantize(net * rate / 100, document.currency)
        line = LineInput("Correction", "1", net, rate)
        on = document.issue_date + timedelta(days=day)
        if gross > left:  # a cent of rounding over what is left: refused, and nothing is written
            savepoint = db.session.begin_nested()
            with pytest.raises(ValidationError, match="left to credit"):
                corrections.credit_note(document, [line], "Correction", BY, on=on)
            savepoint.rollback()
            return
        self.notes.append(corrections.credit_note(document, [line], "Correction", BY, on=on))

    def cancel(self, d, day):
        if not self.documents:
            return
        document = self.documents[d % len(self.documents)]
        if document.state != "cancelled" and document.allocated_total == 0 and document.open_amount > 0:
            self.notes.append(corrections.cancel(document, "Cancelled", BY,
                                                 on=document.issue_date + timedelta(days=day)))

    def adjust(self, who, currency, side, minor, day):
        corrections.adjust(self.customers[who], currency, side, _amount(minor, currency), "Write-off", BY,
                           on=START + timedelta(days=day))

    def refund(self, p, fraction, day):
        sources = [s for s in self.payments if s.customer_id is not None and s.unapplied > 0]
        sources += [n for n in self.notes if n.unapplied_credit > 0]
        if not sources:
            return
        source = sources[p % len(sources)]
        room = source.unapplied if hasattr(source, "unapplied") else source.unapplied_credit
        kind = {"payment": source} if hasattr(source, "unapplied") else {"credit_note": source}
        payments.refund(_part(room, fraction, source.currency), BY, on=START + timedelta(days=day), **kind)

    def assign(self, p, who):
        waiting = [s for s in self.payments if s.customer_id is None]
        if waiting:
            payments.assign(waiting[p % len(waiting)], self.customers[who], BY)


def check_invariants(world: World) -> None:
    """Every property acceptance 4 names, for each customer and currency the sequence posted to."""
    by_id = {customer.id: customer for customer in world.customers}
    for stored in db.session.scalars(select(CustomerBalance)):
        _balance_is_the_sum_of_the_entries(stored)
        assert posting.verify_chain(stored.customer_id, stored.currency).intact
        _closing_balance_is_the_balance_at_the_end(by_id[stored.customer_id], stored)
    for document in world.documents:
        _open_amount_follows(document)
    for row in world.allocations:
        if row.reversal:
            assert row.realized_fx + row.reversal.realized_fx == 0


def _balance_is_the_sum_of_the_entries(stored: CustomerBalance) -> None:
    debit, credit, base_debit, base_credit = db.session.execute(
        select(func.sum(LedgerEntry.debit), func.sum(LedgerEntry.credit), func.sum(LedgerEntry.base_debit),
               func.sum(LedgerEntry.base_credit))
        .where(LedgerEntry.customer_id == stored.customer_id, LedgerEntry.currency == stored.currency)).one()
    assert stored.balance == debit - credit
    assert stored.base_balance == base_debit - base_credit


def _closing_balance_is_the_balance_at_the_end(customer, stored: CustomerBalance) -> None:
    end = START + timedelta(days=60)
    ledger = statement.customer_ledger(customer, stored.currency, START + timedelta(days=20), end)
    assert ledger.closing_balance == statement.balance_on(customer, stored.currency, end)
    if ledger.rows:
        assert ledger.rows[-1].balance == ledger.closing_balance
    everything = statement.customer_ledger(customer, stored.currency, START, START + timedelta(days=600))
    assert everything.closing_balance == stored.balance


def _open_amount_follows(document: ReceivableDocument) -> None:
    allocated = db.session.scalar(select(func.coalesce(func.sum(Allocation.amount), 0))
                                  .where(Allocation.document_id == document.id))
    allocated = Allocation.__table__.c.amount.type.process_result_value(allocated, db.engine.dialect) \
        if not isinstance(allocated, Decimal) else allocated
    credited = sum((n.applied_total for n in document.corrections), Decimal(0))
    assert document.allocated_total == (allocated or 0)
    assert document.open_amount == document.gross_total - document.allocated_total - credited
    assert document.open_amount >= 0
    assert document.state == invoicing.derived_state(document)


@pytest.fixture
def customers(database):
    for day, eur, jpy in ((0, "1.08123456", "0.00691234"), (31, "1.10987654", "0.00701111"),
                          (59, "1.07", "0.0068"), (90, "1.123456789", "0.00712345")):
        rate("EUR", START + timedelta(days=day), eur)
        rate("JPY", START + timedelta(days=day), jpy)
    return [factories.CustomerFactory(), factories.CustomerFactory()]


def test_random_sequences_keep_the_ledger_consistent(customers, database):
    @settings(max_examples=EXAMPLES[database], deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(st.lists(operations, min_size=1, max_size=14))
    def sequence(steps):
        runs.append(len(steps))
        savepoint = db.session.begin_nested()
        try:
            world = World(customers)
            for step in steps:
                world.run(step)
            check_invariants(world)
        finally:
            savepoint.rollback()
            db.session.expire_all()

    runs: list[int] = []
    sequence()
    assert len(runs) >= EXAMPLES[database]  # acceptance 4: at least 500 random sequences (on SQLite)
