"""The receivables demo: issued invoices in three currencies, paid in full, partly and not at all (one overdue), a
credit note, a due note, an unidentified payment, seeded once; and demo/bank-statement-camt053.xml, which pays the
newest invoices of the demo by number and by a known IBAN."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from devtools import demo, demo_receivables
from devtools.demo_receivables import ACTOR, BANK_FILE, BANK_FILE_DAY
from portal.extensions import db
from portal.integrations import camt053
from portal.models import (
    Allocation,
    AuditEvent,
    CreditNote,
    CustomerBankAccount,
    DueNote,
    ExchangeRate,
    Invoice,
    LedgerEntry,
    Payment,
    ReceivableDocument,
    ReceivableFile,
    User,
)
from portal.money import quantize
from portal.security import can
from portal.services.receivables import payment_import, posting, reconciliation, rendering, scope

RECEIVABLE_TABLES = (ReceivableDocument, ReceivableFile, Payment, Allocation, LedgerEntry, ExchangeRate,
                     CustomerBankAccount, AuditEvent)


def seed(app) -> list[str]:
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def counts() -> dict[str, int]:
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model)) for model in RECEIVABLE_TABLES}


def demo_invoices() -> list[Invoice]:
    return list(db.session.scalars(select(Invoice).where(Invoice.created_by == ACTOR).order_by(Invoice.id)))


def test_the_demo_issues_paid_partly_paid_overdue_and_open_invoices_once(app):
    output = seed(app)
    invoices = demo_invoices()
    assert [(i.customer.code, i.currency, i.state) for i in invoices] == [
        ("ACME", "EUR", "paid"), ("INITECH", "GBP", "paid"), ("ACME", "EUR", "overdue"),
        ("GLOBEX", "USD", "partially_paid"), ("ACME", "EUR", "issued"), ("INITECH", "GBP", "issued")]
    _, initech_paid, overdue, part_paid, *_ = invoices
    assert overdue.due_date < date.today() and overdue.allocated_total == Decimal("0.00")
    assert (part_paid.allocated_total, part_paid.open_amount) == (Decimal("5000.00"), Decimal("3200.00"))
    assert [i.issue_date for i in invoices] == sorted(i.issue_date for i in invoices)
    assert date.today() - timedelta(days=100) <= invoices[0].issue_date  # the last three months
    # The credit note takes one of the two extra days off INITECH's invoice; the rest was paid in pounds, at a later
    # rate than the invoice's, so the allocation realizes FX in dollars.
    note = db.session.scalar(select(CreditNote).where(CreditNote.created_by == ACTOR))
    assert (note.corrects, note.gross_total, initech_paid.credited_total) == (
        initech_paid, Decimal("780.00"), Decimal("780.00"))
    allocation = db.session.scalar(select(Allocation).where(Allocation.document_id == initech_paid.id))
    assert allocation.amount == Decimal("4500.00") and allocation.payment.fx_rate != initech_paid.fx_rate
    assert allocation.realized_fx == quantize(allocation.amount * (allocation.payment.fx_rate - initech_paid.fx_rate),
                                              "USD") != Decimal("0.00")
    fee = db.session.scalar(select(DueNote).where(DueNote.created_by == ACTOR))
    assert (fee.corrects, fee.gross_total, fee.state) == (overdue, Decimal("40.00"), "issued")
    # Payers matched as a bank file's are: by the accounts ACME and INITECH are known to pay from, by a number.
    paid = db.session.scalars(select(Payment).where(Payment.created_by == ACTOR).order_by(Payment.id)).all()
    assert [(p.payer_name, p.matched_by, p.customer.code if p.customer else None, p.unapplied) for p in paid] == [
        ("Acme Logistics GmbH", "iban", "ACME", Decimal("0.00")),
        ("Initech Services Ltd", "iban", "INITECH", Decimal("0.00")),
        ("Globex Corporation", "invoice_number", "GLOBEX", Decimal("0.00")),
        ("J. Kowalski Consulting", "", None, Decimal("1250.00"))]
    # Every document was issued as any other: its PDF and UBL stored, its ledger entry chained.
    documents = db.session.scalars(select(ReceivableDocument).where(ReceivableDocument.created_by == ACTOR)).all()
    assert len(documents) == 8
    for document in documents:
        assert sorted(row.format for row in document.files) == ["pdf", "ubl"]
    for customer in {d.customer for d in documents}:
        for currency in {d.currency for d in documents if d.customer == customer}:
            assert posting.verify_chain(customer.id, currency).intact
    # What it says comes before the logins, which stay last.
    said = next(n for n, line in enumerate(output) if line.startswith("Receivables: 7 invoices in EUR, GBP, USD"))
    assert said < output.index(next(line for line in output if line.startswith("Demo logins")))
    assert output[-1].split() == ["customer", "portal@initech.ledgerflow.example", "demo-customer-pass"]

    before = counts()
    seed(app)
    assert counts() == before  # seeded once: nothing doubles, nothing is audited again


def test_the_demo_logins_that_see_the_receivables(app, monkeypatch):
    monkeypatch.setattr(demo_receivables, "seed", lambda: False)  # the logins alone: the receivables are above
    seed(app)
    by_role = {role: db.session.scalar(select(User).where(User.email == demo.demo_email(role)))
               for role in ("finance_manager", "accountant", "account_manager", "approver")}
    assert [(role, can(user, "receivables.read"), can(user, "receivables.record"), can(user, "receivables.correct"))
            for role, user in by_role.items()] == [
        ("finance_manager", True, True, True), ("accountant", True, True, False),
        ("account_manager", True, False, False), ("approver", False, False, False)]
    assert scope.customer_ids(by_role["accountant"]) is None  # every customer
    assert len(scope.customer_ids(by_role["account_manager"])) == 3  # the demo projects' customers


def test_the_bank_file_pays_the_newest_invoices_of_a_demo_seeded_on_its_day(app, monkeypatch):
    monkeypatch.setattr(demo_receivables, "today", lambda: BANK_FILE_DAY)
    # The files are the first test's: this one is about amounts and matches (issuing renders for about two seconds).
    monkeypatch.setattr(rendering, "render_files", lambda document: [])
    seed(app)
    content = BANK_FILE.read_bytes()
    assert demo_receivables.bank_statement(BANK_FILE_DAY) == content, (
        "the demo changed: write demo/bank-statement-camt053.xml again from a fresh database seeded in 2026, with "
        "python -m devtools.demo_receivables --day 2026-12-04 --output demo/bank-statement-camt053.xml")
    assert demo_receivables.bank_file_fits()
    rows = camt053.read(content, BANK_FILE.name)
    assert [(r.direction, r.amount, r.currency, r.value_date, r.counterparty_name) for r in rows] == [
        ("credit", Decimal("6155.28"), "EUR", date(2026, 12, 2), "Acme Logistics GmbH"),
        ("credit", Decimal("1785.00"), "EUR", date(2026, 12, 2), "Nordlicht Medien KG"),
        ("debit", Decimal("3200.00"), "EUR", date(2026, 12, 3), "Hausverwaltung Spree GmbH"),
        ("credit", Decimal("3720.00"), "GBP", date(2026, 12, 3), "Initech Services Ltd")]

    preview = payment_import.preview(content, BANK_FILE.name)
    assert preview.account_iban == "DE89370400440532013000"  # the account the invoices ask to be paid into
    assert [(row.status, row.customer, row.matched_by) for row in preview.rows] == [
        ("payment", "ACME — Acme Logistics GmbH", "invoice_number"), ("payment", "", ""),
        ("skipped", "", ""), ("payment", "INITECH — Initech Services Ltd", "iban")]
    payment_import.confirm(content, BANK_FILE.name, "test")
    done = reconciliation.auto_reconcile("test")
    acme_newest, initech_newest = demo_invoices()[-2:]
    assert [(a.document.number, a.amount) for a in done] == [
        ("INV-2026-000005", Decimal("6155.28")), ("INV-2026-000006", Decimal("3720.00"))]
    assert (acme_newest.number, acme_newest.state, initech_newest.number, initech_newest.state) == (
        "INV-2026-000005", "paid", "INV-2026-000006", "paid")
    assert demo_invoices()[2].state == "overdue"  # not in the file: still overdue
    assert db.session.scalar(select(func.count()).select_from(Payment).where(Payment.customer_id.is_(None))) == 2
    # On its day the rates are known to the cent: the pound payment gains, the euro one loses, in dollars.
    realized = db.session.execute(select(ReceivableDocument.number, Allocation.realized_fx)
                                  .join(ReceivableDocument, ReceivableDocument.id == Allocation.document_id)
                                  .where(Allocation.created_by == ACTOR).order_by(Allocation.id)).all()
    assert realized == [("INV-2026-000001", Decimal("-5.15")), ("INV-2026-000002", Decimal("52.20")),
                        ("INV-2026-000004", Decimal("0.00"))]
