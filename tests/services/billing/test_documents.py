"""A drafted proforma becomes valid documents: UBL 2.1 (XSD + EN 16931), SAP IDoc (own XSD) and SAP CSV."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.exports.sap_csv import render_sap_csv
from portal.exports.sap_idoc import render_idoc, validate_idoc
from portal.exports.ubl import render_ubl
from portal.exports.ubl_validate import validate_ubl
from portal.extensions import db
from portal.models import Proforma, ProformaLine
from portal.services.billing import documents, drafting
from portal.services.workflow import definitions
from tests.support import factories
from tests.support.paths import PROFORMA_PROCESS


@pytest.fixture
def proforma(app):
    path = PROFORMA_PROCESS
    definitions.deploy(path.read_text(), "test")
    customer = factories.CustomerFactory(name="ООО Ромашка", vat_id="DE811907980", billing_street="Hafenstraße 12",
                                         billing_city="Hamburg", billing_postcode="20457", billing_country="DE")
    factories.ContactFactory(customer=customer, email="billing@romashka.example")
    contract = factories.ContractFactory(customer=customer, sap_partner_code="0000100001", sap_company_code="1000")
    factories.FixedLineFactory(contract=contract, description="Service desk flat fee", unit_price=Decimal("4500.00"))
    factories.FixedLineFactory(contract=contract, description="Licences", quantity=Decimal("25"),
                               unit_price=Decimal("12.50"), tax_rate=Decimal("19"))
    drafting.draft_period("2026-11", contract.number)
    found = db.session.scalar(select(Proforma).where(Proforma.contract_id == contract.id))
    found.lines.append(ProformaLine(position=3, kind="incident", description="Incident INC0012345 (P2) — printer",
                                    quantity=Decimal(1), unit_price=Decimal("220.00"), tax_rate=Decimal("19"),
                                    source_ref="INC0012345", priority="P2", closed_at=date(2026, 11, 3)))
    drafting.recalculate(found)
    return found


def test_the_document_carries_the_proforma(proforma):
    document = documents.document_for(proforma)
    assert document.number == proforma.number and document.gross_total == proforma.gross_total
    assert document.buyer.name == "ООО Ромашка" and document.buyer.sap_partner_code == "0000100001"
    assert document.period_start == date(2026, 11, 1) and document.period_end == date(2026, 11, 30)
    assert document.lines[2].source == "INC0012345 (P2, closed 2026-11-03)"
    assert sum(t.tax_amount for t in document.taxes) == document.tax_total


def test_ubl_of_a_proforma_passes_the_xsd_and_en16931(proforma):
    assert validate_ubl(render_ubl(documents.document_for(proforma))) == []


def test_idoc_and_csv_of_a_proforma(proforma):
    document = documents.document_for(proforma)
    assert validate_idoc(render_idoc(document)) == []
    assert proforma.number.encode() in render_sap_csv(document)


def test_an_uploaded_template_overrides_the_built_in_layout(proforma):
    from portal.services.billing import files

    proforma.contract.document_formats = "html"
    files.upload_template("Our proforma", "proforma_html", "proforma.html",
                          b"<html><body><h1>Custom {{ document.number }}</h1></body></html>", "admin")
    rendered = {d.format: d for d in documents.render_all(proforma)}
    assert rendered["html"].content == f"<html><body><h1>Custom {proforma.number}</h1></body></html>".encode()
