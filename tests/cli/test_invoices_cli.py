"""`flask invoices issue PROFORMA` (the approved proforma's invoice, once) and `flask invoices create` (a standalone
invoice with lines, drafted or issued at once); errors name the field."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Invoice, Proforma, ProformaLine, ReceivableFile
from portal.services.billing.drafting import price_lines
from tests.support import factories
from tests.support.receivables import rate


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def approved(contract, state: str = "approved") -> Proforma:
    row = Proforma(number=f"PF-{contract.number}-2026-11", contract=contract, period="2026-11", state=state,
                   currency=contract.currency, issue_date=date(2026, 11, 30), due_date=date(2026, 12, 30))
    row.lines.append(ProformaLine(position=1, kind="fixed", description="Service desk flat fee",
                                  quantity=Decimal("1"), unit_price=Decimal("900.00"), tax_rate=Decimal("19"),
                                  source_ref="fixed"))
    price_lines(row)
    db.session.add(row)
    db.session.flush()
    return row


def invoice_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Invoice))


def test_issue_invoices_an_approved_proforma_once(app):
    rate("EUR", date(2026, 11, 2), "1.08450000")
    proforma = approved(factories.ContractFactory(payment_terms_days=21))
    first = run(app, "invoices", "issue", proforma.number, "--json")
    assert first.exit_code == 0, first.output
    shown = json.loads(first.output)
    assert shown["number"].startswith("INV-") and shown["proforma"] == proforma.number
    assert (shown["state"], shown["gross_total"], shown["currency"]) == ("issued", "1071.00", "EUR")
    assert date.fromisoformat(shown["due_date"]) - date.fromisoformat(shown["issue_date"]) == timedelta(days=21)
    assert [name.split(" ")[0] for name in shown["files"]] == [f"{shown['number']}.pdf", f"{shown['number']}.ubl.xml"]
    again = run(app, "invoices", "issue", proforma.number)
    assert again.exit_code == 0 and again.output.startswith(f"{shown['number']}: ")
    assert invoice_count() == 1


def test_issue_refuses_an_unknown_or_unapproved_proforma(app):
    assert "no proforma numbered PF-NOPE" in run(app, "invoices", "issue", "PF-NOPE").output
    in_review = approved(factories.ContractFactory(), state="in_review")
    refused = run(app, "invoices", "issue", in_review.number)
    assert refused.exit_code != 0 and "only an approved proforma becomes an invoice" in refused.output
    assert invoice_count() == 0


def test_issue_without_a_rate_says_which_rate_is_missing(app):
    proforma = approved(factories.ContractFactory())
    refused = run(app, "invoices", "issue", proforma.number)
    assert refused.exit_code != 0 and "currency: no EUR exchange rate on or before" in refused.output
    assert invoice_count() == 0


def test_create_issues_a_standalone_invoice_with_the_contracts_terms(app):
    rate("EUR", date(2026, 11, 2), "1.08450000")
    customer = factories.CustomerFactory(code="ACME", currency="USD")
    factories.ContractFactory(customer=customer, number="K-ACME", currency="EUR", payment_terms_days=10,
                              tax_rate=Decimal("19"), buyer_reference="LEITWEG-1")
    result = run(app, "invoices", "create", "--customer", "ACME", "--contract", "K-ACME", "--date", "2026-11-30",
                 "--line", "Support hours;10;95.00;7", "--line", "Travel;1;120.00", "--issue", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert (shown["currency"], shown["contract"], shown["issue_date"], shown["due_date"]) == (
        "EUR", "K-ACME", "2026-11-30", "2026-12-10")
    assert (shown["net_total"], shown["tax_total"], shown["gross_total"]) == ("1070.00", "89.30", "1159.30")
    invoice = db.session.scalar(select(Invoice).where(Invoice.number == shown["number"]))
    assert [(line.description, line.tax_rate) for line in invoice.lines] == [
        ("Support hours", Decimal("7")), ("Travel", Decimal("19"))]  # no rate given: the contract's
    assert invoice.buyer_reference == "LEITWEG-1" and invoice.proforma is None
    stored = db.session.scalars(select(ReceivableFile.sha256).where(ReceivableFile.document_id == invoice.id)).all()
    assert sorted(f"sha256:{sha}" for sha in stored) == sorted(name.split(" ")[1] for name in shown["files"])


def test_create_without_issue_leaves_a_draft_in_the_customers_currency(app):
    factories.CustomerFactory(code="SOLO", currency="USD")
    result = run(app, "invoices", "create", "--customer", "SOLO", "--line", "Consulting;2;150")
    assert result.exit_code == 0, result.output
    draft = db.session.scalar(select(Invoice))
    assert result.output.startswith(f"draft invoice {draft.id}: SOLO, 300.00 USD gross (draft)")
    assert (draft.number, draft.currency, draft.tax_total) == (None, "USD", Decimal("0"))
    assert db.session.scalar(select(func.count()).select_from(ReceivableFile)) == 0


def test_create_names_what_is_wrong(app):
    factories.CustomerFactory(code="ACME")
    other = factories.ContractFactory(number="K-OTHER")
    db.session.commit()  # a refused command rolls back its unit of work; these rows stay for the next one
    cases = {
        ("--customer", "GHOST", "--line", "x;1;1"): "no customer with code GHOST",
        ("--customer", "ACME", "--line", "Support;1"): "line 1: write description;quantity;unit price[;tax rate]",
        ("--customer", "ACME", "--line", "a;1;1", "--line", "Support;ten;95"):
            "line 2: quantity: “ten” is not a number",
        ("--customer", "ACME", "--line", "Support;1;95", "--contract", other.number):
            "contract: K-OTHER is a contract of another customer",
        ("--customer", "ACME", "--line", "Support;1;95", "--currency", "EURO"): "currency: “EURO” is not an ISO 4217",
    }
    for args, message in cases.items():
        refused = run(app, "invoices", "create", *args)
        assert refused.exit_code != 0 and message in refused.output, (args, refused.output)
    assert invoice_count() == 0
