"""The Document of a proforma field by field, and the exact outcomes of rendering it; found by the mutation run
(docs/testing.md, "Mutation run"): every field taken from the contract, the seller and the buyer, the source
and unit of every kind of line, the tax category of each rule and rate, the newest uploaded template, and the
field and message of a UBL invoice that breaks EN 16931."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.errors import ValidationError
from portal.exports.document import Party, TaxBreakdown
from portal.exports.ubl import render_ubl
from portal.exports.ubl_validate import validate_ubl
from portal.extensions import db
from portal.models import Proforma, ProformaLine
from portal.services.billing import documents, drafting, files
from portal.services.workflow import definitions
from tests.support import factories
from tests.support.paths import PROFORMA_PROCESS

SELLER = Party(name="Ledgerflow Demo Services GmbH", vat_id="DE999999999", street="Musterstraße 1", city="Berlin",
               postcode="10115", country="DE", email="billing@ledgerflow.example")


@pytest.fixture
def draft(app):
    """draft(contract) -> the contract's proforma for 2026-11."""
    definitions.deploy(PROFORMA_PROCESS.read_text(), "test")

    def drafted(contract) -> Proforma:
        drafting.draft_period("2026-11", contract.number)
        return db.session.scalar(select(Proforma).where(Proforma.contract_id == contract.id))

    return drafted


def add_line(proforma, kind, *, tax_rate="19", source_ref="", priority=None, closed_at=None, description=None):
    proforma.lines.append(ProformaLine(
        position=len(proforma.lines) + 1, kind=kind, description=description or f"{kind} line",
        quantity=Decimal(1), unit_price=Decimal("100.00"), tax_rate=Decimal(tax_rate), source_ref=source_ref,
        priority=priority, closed_at=closed_at))
    drafting.recalculate(proforma)


def test_the_document_takes_every_field_from_the_contract_the_seller_and_the_buyer(draft):
    customer = factories.CustomerFactory(name="Hafen Logistik AG", vat_id="DE811907980", billing_street="Kai 3",
                                         billing_city="Hamburg", billing_postcode="20457", billing_country="DE")
    factories.ContactFactory(customer=customer, kind="technical", email="tech@hafen.example")
    factories.ContactFactory(customer=customer, email="rechnung@hafen.example")
    contract = factories.ContractFactory(customer=customer, number="K-7001", sap_partner_code="0000100001",
                                         sap_company_code="1000", payment_terms_days=14)
    factories.FixedLineFactory(contract=contract, unit_price=Decimal("900.00"))
    proforma = draft(contract)
    document = documents.document_for(proforma)
    assert document.seller == SELLER
    assert document.buyer == Party(name="Hafen Logistik AG", vat_id="DE811907980", street="Kai 3", city="Hamburg",
                                   postcode="20457", country="DE", email="rechnung@hafen.example",
                                   sap_partner_code="0000100001")
    assert (document.contract_number, document.sap_company_code, document.payment_terms_days, document.tax_rule,
            document.idempotency_key) == ("K-7001", "1000", 14, "standard", f"ledgerflow-proforma-{proforma.id}")
    # no order number or buyer reference on the contract: both are empty, not invented
    assert (document.purchase_order_number, document.buyer_reference) == ("", "")


def test_a_buyer_without_a_billing_contact_has_no_e_mail(draft):
    customer = factories.CustomerFactory()
    factories.ContactFactory(customer=customer, kind="technical", email="tech@customer.example")
    contract = factories.ContractFactory(customer=customer)
    factories.FixedLineFactory(contract=contract)
    assert documents.document_for(draft(contract)).buyer.email == ""


def test_a_reverse_charge_contract_puts_its_rule_on_the_document_and_category_ae_on_the_tax(draft):
    contract = factories.ContractFactory(tax_rule="reverse_charge")
    factories.FixedLineFactory(contract=contract, unit_price=Decimal("900.00"))
    document = documents.document_for(draft(contract))
    assert document.tax_rule == "reverse_charge"
    assert document.taxes == (TaxBreakdown(Decimal("0"), Decimal("900.00"), Decimal("0.00"), "AE"),)


def test_a_standard_contract_taxes_a_zero_rate_as_z_and_the_others_as_s(draft):
    contract = factories.ContractFactory()
    factories.FixedLineFactory(contract=contract, unit_price=Decimal("900.00"))
    proforma = draft(contract)
    add_line(proforma, "manual", tax_rate="0")
    document = documents.document_for(proforma)
    assert [(tax.rate, tax.taxable_amount, tax.tax_amount, tax.category) for tax in document.taxes] == [
        (Decimal("0"), Decimal("100.00"), Decimal("0.00"), "Z"),
        (Decimal("19"), Decimal("900.00"), Decimal("171.00"), "S"),
    ]


def test_each_kind_of_line_names_its_source_and_unit(draft):
    contract = factories.ContractFactory()
    factories.FixedLineFactory(contract=contract)
    proforma = draft(contract)
    add_line(proforma, "incident", source_ref="INC0000001", priority="P1", closed_at=datetime(2026, 11, 3, 9, 30))
    add_line(proforma, "request", source_ref="RITM000002", priority="P3")  # still open: no closing date
    add_line(proforma, "incident", source_ref="INC0000003")  # neither priority nor closing date
    add_line(proforma, "request", source_ref="RITM000004", closed_at=datetime(2026, 11, 30, 23, 59))
    add_line(proforma, "travel")  # a kind without a unit of its own is counted in units
    document = documents.document_for(proforma)
    assert [(line.source, line.unit) for line in document.lines] == [
        ("fixed", "C62"), ("INC0000001 (P1, closed 2026-11-03)", "E48"), ("RITM000002 (P3)", "E48"),
        ("INC0000003", "E48"), ("RITM000004 (closed 2026-11-30)", "E48"), ("travel", "C62")]


def test_the_newest_upload_of_a_template_kind_is_used_by_time_then_by_id(draft):
    contract = factories.ContractFactory(document_formats="html")
    factories.FixedLineFactory(contract=contract)
    proforma = draft(contract)

    def upload(text: str, at: datetime):
        template = files.upload_template(text, "proforma_html", "proforma.html",
                                         f"<html><body>{text}</body></html>".encode(), "admin")
        template.uploaded_at = at
        db.session.flush()

    def rendered_html() -> bytes:
        (stored,) = documents.render_all(proforma)
        return stored.content

    upload("later", datetime(2026, 12, 2, 10, 0))
    upload("earlier, but uploaded second", datetime(2026, 12, 1, 10, 0))
    assert rendered_html() == b"<html><body>later</body></html>"
    upload("same time as later, uploaded third", datetime(2026, 12, 2, 10, 0))
    assert rendered_html() == b"<html><body>same time as later, uploaded third</body></html>"


def test_a_ubl_invoice_that_breaks_en16931_is_refused_with_its_first_three_problems(draft):
    customer = factories.CustomerFactory(vat_id=None, billing_country="")
    contract = factories.ContractFactory(customer=customer, tax_rule="reverse_charge", document_formats="ubl")
    factories.FixedLineFactory(contract=contract, description="")
    proforma = draft(contract)
    problems = validate_ubl(render_ubl(documents.document_for(proforma)))
    assert [problem.split(":")[0] for problem in problems] == ["BR-AE-02", "BR-11", "BR-25", "BR-CL-14"]
    with pytest.raises(ValidationError) as raised:
        documents.render_all(proforma)
    assert raised.value.field == "ubl"
    assert raised.value.message == (
        f"the UBL invoice breaks EN 16931: {problems[0]}; {problems[1]}; {problems[2]}")
    assert raised.value.errors == {"ubl": raised.value.message}
    assert proforma.documents == []  # nothing is stored

