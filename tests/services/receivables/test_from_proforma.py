"""An approved proforma becomes its invoice once: lines with units by kind, the contract's terms, references and tax
rule, converted at the rate of its date; the shipped diagram's "Issue invoice" task does it after approval."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import func, select

from portal.errors import Conflict, ValidationError
from portal.extensions import db
from portal.models import Invoice, LedgerEntry, ProcessInstance, Proforma, ProformaLine, ReceivableFile, ServiceJob
from portal.services.billing.drafting import price_lines
from portal.services.receivables import from_proforma
from portal.services.workflow import service_jobs, steps, timers
from portal.services.workflow.operations import OperationContext
from tests.support import factories
from tests.support.proforma import complete_steps, deploy_approval_process, draft_for
from tests.support.receivables import BY, rate

ON = date(2026, 12, 1)
KINDS = (("incident", "Incident INC0012345 (P2)", "1", "220.00", "INC0012345"),
         ("request", "Request RITM0001: New laptop setup", "1", "120.00", "RITM0001"),
         ("fixed", "Service desk flat fee", "1", "4500.00", "fixed"),
         ("manual", "Workshop", "2.5", "800.00", "manual"),
         ("discount", "Loyalty discount", "1", "-250.00", "fixed"))


def proforma(contract, state: str = "approved") -> Proforma:
    """A November proforma of the contract with a line of every kind, priced like drafting does."""
    row = Proforma(number=f"PF-{contract.number}-2026-11", contract=contract, period="2026-11", state=state,
                   currency=contract.currency, issue_date=date(2026, 11, 30), due_date=date(2026, 12, 30))
    for position, (kind, text, quantity, price, ref) in enumerate(KINDS, start=1):
        row.lines.append(ProformaLine(position=position, kind=kind, description=text, quantity=Decimal(quantity),
                                      unit_price=Decimal(price), tax_rate=contract.tax_rate, source_ref=ref))
    price_lines(row)
    db.session.add(row)
    db.session.flush()
    return row


@pytest.fixture
def contract():
    customer = factories.CustomerFactory(billing_city="Berlin", billing_postcode="10117")
    return factories.ContractFactory(customer=customer, payment_terms_days=14, buyer_reference="04011000-12345-34",
                                     purchase_order_number="PO-4711", tax_rate=Decimal("19"))


def entries(invoice) -> int:
    return db.session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.document_id == invoice.id))


def test_the_invoice_copies_the_lines_terms_references_and_tax_rule(app, contract):
    rate("EUR", date(2026, 11, 30), "1.05000000")
    source = proforma(contract)
    invoice = from_proforma.invoice_from_proforma(source, BY, on=ON)
    assert invoice.number.startswith("INV-2026-") and invoice.proforma is source and invoice.contract is contract
    assert [(line.description, line.quantity, line.unit_price, line.tax_rate, line.unit, line.source_ref)
            for line in invoice.lines] == [
        (line.description, line.quantity, line.unit_price, line.tax_rate, unit, line.source_ref)
        for line, unit in zip(source.lines, ("E48", "E48", "C62", "C62", "C62"), strict=True)]
    assert (invoice.net_total, invoice.tax_total, invoice.gross_total) == (
        source.net_total, source.tax_total, source.gross_total)
    assert (invoice.issue_date, invoice.due_date) == (ON, ON + timedelta(days=14))
    assert (invoice.buyer_reference, invoice.purchase_order_number, invoice.tax_rule) == (
        "04011000-12345-34", "PO-4711", "standard")
    assert (invoice.currency, invoice.fx_rate, invoice.base_amount) == (
        "EUR", Decimal("1.05000000"), (source.gross_total * Decimal("1.05")).quantize(Decimal("0.01"), ROUND_HALF_UP))
    assert entries(invoice) == 1 and invoice.state == "issued"


def test_a_reverse_charge_contract_gives_a_reverse_charge_invoice(app):
    rate("EUR", date(2026, 11, 30), "1.05000000")
    reverse = factories.ContractFactory(customer=factories.CustomerFactory(vat_id="ATU13585627",
                                                                           billing_country="AT"),
                                        tax_rule="reverse_charge", tax_rate=Decimal("0"))
    invoice = from_proforma.invoice_from_proforma(proforma(reverse), BY, on=ON)
    assert invoice.tax_rule == "reverse_charge" and invoice.tax_total == 0
    ubl = db.session.scalar(select(ReceivableFile.content).where(ReceivableFile.document_id == invoice.id,
                                                                 ReceivableFile.format == "ubl"))
    assert b"<cbc:ID>AE</cbc:ID>" in ubl and b'schemeID="9914">ATU13585627<' in ubl


def test_running_it_twice_returns_the_same_invoice(app, contract):
    rate("EUR", date(2026, 11, 30), "1.05000000")
    source = proforma(contract)
    first = from_proforma.invoice_from_proforma(source, BY, on=ON)
    db.session.commit()
    again = from_proforma.invoice_from_proforma(source, "someone-else", on=ON + timedelta(days=3))
    assert again.id == first.id and again.number == first.number and again.issued_by == BY
    assert db.session.scalar(select(func.count()).select_from(Invoice).where(Invoice.proforma_id == source.id)) == 1
    assert entries(first) == 1


@pytest.mark.parametrize("state", ["draft", "in_review", "rejected", "cancelled"])
def test_only_an_approved_proforma_is_invoiced(app, contract, state):
    source = proforma(contract, state)
    with pytest.raises(Conflict, match="only an approved proforma becomes an invoice"):
        from_proforma.invoice_from_proforma(source, BY, on=ON)
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == 0


def test_without_a_rate_the_invoice_is_refused_and_nothing_is_issued(app, contract):
    source = proforma(contract)
    with pytest.raises(ValidationError) as refused:
        from_proforma.invoice_from_proforma(source, BY, on=ON)
    assert refused.value.errors == {"currency": "no EUR exchange rate on or before 2026-12-01"}


def test_the_operation_answers_the_invoice_number_on_every_run(app, contract):
    rate("EUR", date(2026, 11, 30), "1.05000000")
    source = proforma(contract)
    context = OperationContext(instance_id=1, business_key=source.number, element_id="issue_invoice",
                               idempotency_key="k", attempt=1)
    first = from_proforma.issue_invoice_operation({"proforma_id": source.id}, context)
    second = from_proforma.issue_invoice_operation({"proforma_id": str(source.id)}, context)
    invoice = db.session.scalar(select(Invoice).where(Invoice.proforma_id == source.id))
    assert first == second == {"invoice_number": invoice.number}
    assert invoice.issued_by == from_proforma.WORKFLOW_ACTOR


# ---- the shipped diagram ---------------------------------------------------------------------------------------

def approved_through_the_diagram(make_user) -> Proforma:
    deploy_approval_process()
    contract = factories.ContractFactory(customer=factories.CustomerFactory(), document_formats="pdf")
    factories.FixedLineFactory(contract=contract, unit_price=Decimal("900.00"))
    steps_taken = ((make_user("reviewer"), "submitted"), (make_user("approver"), "approved"))
    return complete_steps(draft_for(contract), steps_taken)


def test_the_shipped_flow_issues_the_invoice_after_approval_and_goes_on(app, make_user):
    factories.ExchangeRateFactory()  # EUR, before today
    source = approved_through_the_diagram(make_user)
    invoice = db.session.scalar(select(Invoice).where(Invoice.proforma_id == source.id))
    assert invoice is not None and invoice.number.startswith("INV-") and invoice.issued_by == "workflow"
    assert sorted(row.format for row in invoice.files) == ["pdf", "ubl"]
    described = steps.describe(db.session.get(ProcessInstance, source.process_instance_id))
    assert described["variables"]["invoice_number"] == invoice.number
    ran = [event["element"] for event in described["history"] if event["kind"] == "service_task_run"]
    assert ran.index("issue_invoice") == ran.index("mark_approved") + 1
    assert ran.index("render_documents") > ran.index("issue_invoice")
    assert sorted(d.format for d in source.documents) == ["pdf"]  # the proforma's own files follow as before


def test_without_a_rate_the_task_becomes_an_incident_and_retry_issues_the_invoice_once(app, make_user):
    source = approved_through_the_diagram(make_user)
    job = db.session.scalar(select(ServiceJob).where(ServiceJob.instance_id == source.process_instance_id,
                                                     ServiceJob.topic == "invoice.issue"))
    while job.state == "queued":  # the sweep's retries, each once its backoff has passed
        timers.sweep(job.next_attempt_at + timedelta(seconds=1))
        db.session.commit()
        db.session.refresh(job)
    assert job.state == "incident" and "no EUR exchange rate" in job.last_error
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == 0
    factories.ExchangeRateFactory()
    service_jobs.retry_incident(source.process_instance_id, "ops")
    db.session.commit()
    service_jobs.run(job.id)  # a second run of the same job does nothing
    db.session.commit()
    invoices = db.session.scalars(select(Invoice).where(Invoice.proforma_id == source.id)).all()
    assert len(invoices) == 1 and entries(invoices[0]) == 1
    assert db.session.get(ProcessInstance, source.process_instance_id).status != "incident"
