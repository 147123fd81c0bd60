from datetime import date
from decimal import Decimal

from portal.services.receivables import allocations, corrections, posting, statement
from portal.services.receivables.invoicing import LineInput
from tests.support import factories
from tests.support.receivables import BY, invoice, pay, rate


def test_flow(app):
    customer = factories.CustomerFactory()
    rate("EUR", date(2026, 1, 1), "1.10")
    rate("EUR", date(2026, 1, 15), "1.20")
    inv = invoice(customer, "1000.00", "EUR")
    assert inv.number.startswith("INV-2026-")
    assert inv.base_amount == Decimal("1100.00")
    p = pay(customer, "600.00", "EUR")
    a = allocations.allocate(p, inv, "600.00", BY)
    assert a.realized_fx == Decimal("60.00")
    assert inv.state in ("partially_paid", "overdue")
    cn = corrections.credit_note(inv, [LineInput("Discount", "1", "100.00")], "goodwill", BY, on=date(2026, 1, 25))
    assert cn.number.startswith("CN-2026-") and inv.open_amount == Decimal("300.00")
    r = allocations.unallocate(a, BY)
    assert r.realized_fx == Decimal("-60.00")
    s = statement.customer_ledger(customer, "EUR", date(2026, 1, 1), date(2026, 12, 31))
    assert [row.particulars.split()[0] for row in s.rows] == ["Invoice", "Payment", "Credit"]
    assert s.closing_debit == Decimal("300.00")
    assert posting.verify_chain(customer.id, "EUR").intact
    b = statement.customer_ledger(customer, None, date(2026, 1, 1), date(2026, 12, 31), in_base=True)
    assert b.closing_debit == Decimal("1100.00") - Decimal("720.00") - Decimal("120.00")
