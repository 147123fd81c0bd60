"""A drafted proforma becomes valid documents: UBL 2.1 (XSD + EN 16931), SAP IDoc (own XSD) and SAP CSV, the same
bytes whether rendered in the flow or again from the database."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from lxml import etree
from sqlalchemy import select
from stdnum import iso11649

from portal.exports.document import BankAccount
from portal.exports.payment import payment_reference
from portal.exports.sap_csv import render_sap_csv
from portal.exports.sap_idoc import render_idoc, validate_idoc
from portal.exports.ubl import NS_CAC, NS_CBC, render_ubl
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
    contract = factories.ContractFactory(customer=customer, sap_partner_code="0000100001", sap_company_code="1000",
                                         purchase_order_number="4500012345", buyer_reference="04011000-12345-34")
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
    assert (document.purchase_order_number, document.buyer_reference) == ("4500012345", "04011000-12345-34")
    assert not any("not a tax invoice" in note for note in document.notes)  # each format states it once itself


def test_the_document_names_the_sellers_account_and_the_payment_reference(proforma):
    document = documents.document_for(proforma)
    assert document.payee_account == BankAccount("DE89370400440532013000", "COBADEFFXXX", "Demo Bank")
    assert document.payment_reference.startswith("RF") and iso11649.is_valid(document.payment_reference)
    assert document.payment_reference == payment_reference(proforma.number)


def test_line_units_follow_the_line_kind(proforma):
    units = {line.description: line.unit for line in documents.document_for(proforma).lines}
    assert units == {"Service desk flat fee": "C62", "Licences": "C62", "Incident INC0012345 (P2) — printer": "E48"}


def test_the_document_is_at_the_columns_scale_in_the_flow_and_from_the_database(proforma):
    in_flow = documents.document_for(proforma)
    db.session.flush()
    db.session.expire_all()
    again = documents.document_for(db.session.get(Proforma, proforma.id))
    for document in (in_flow, again):  # Decimal("1") == Decimal("1.0000"): compare the digits, not the values
        assert [str(line.quantity) for line in document.lines] == ["1.0000", "25.0000", "1.0000"]
        assert (str(document.lines[0].tax_rate), str(document.lines[0].unit_price)) == ("19.0000", "4500.00")


def test_every_format_renders_the_same_bytes_in_the_flow_and_again_from_the_database(proforma):
    """The flow renders the proforma it just drafted (values as given); a re-render reads them back from the
    database at the column's scale (MENGE 1 against 1.0000 before the document was built at that scale)."""
    proforma.contract.document_formats = "html,idoc,sap_csv,ubl"
    in_flow = {d.format: d.content for d in documents.render_all(proforma)}
    db.session.flush()
    db.session.expire_all()
    again = {d.format: d.content for d in documents.render_all(db.session.get(Proforma, proforma.id))}
    assert sorted(again) == ["html", "idoc", "sap_csv", "ubl"]
    for fmt in again:
        assert again[fmt] == in_flow[fmt], fmt
    menge = etree.fromstring(again["idoc"]).findtext("IDOC/E1EDP01/MENGE")
    assert menge == "1.0000"


def test_the_csv_is_written_with_the_contracts_delimiter_and_decimal_separator(proforma):
    proforma.contract.document_formats = "sap_csv"
    proforma.contract.csv_delimiter, proforma.contract.csv_decimal_separator = "|", ","
    (stored,) = documents.render_all(proforma)
    rows = list(csv.DictReader(io.StringIO(stored.content.decode("utf-8-sig"), newline=""), delimiter="|"))
    assert [(row["Quantity"], row["UnitPrice"], row["TaxRate"], row["NetAmount"]) for row in rows][:2] == [
        ("1,0000", "4500,00", "19,00", "4500,00"), ("25,0000", "12,50", "19,00", "312,50")]


def test_the_idoc_carries_the_purchase_order_and_every_partner_from_the_billing_address(proforma):
    idoc = etree.fromstring(render_idoc(documents.document_for(proforma))).find("IDOC")
    references = {seg.findtext("QUALF"): seg.findtext("BELNR") for seg in idoc.findall("E1EDK02")}
    assert references == {"001": "4500012345", "009": proforma.number}
    partners = {seg.findtext("PARVW"): (seg.findtext("PARTN"), seg.findtext("NAME1"), seg.findtext("ORT01"))
                for seg in idoc.findall("E1EDKA1")}
    buyer = ("0000100001", "ООО Ромашка", "Hamburg")
    assert partners == {"AG": buyer, "RE": buyer, "RG": buyer, "WE": buyer,
                        "RS": (None, "Ledgerflow Demo Services GmbH", "Berlin")}


def test_ubl_of_a_proforma_passes_the_xsd_and_en16931(proforma):
    xml = render_ubl(documents.document_for(proforma))
    assert validate_ubl(xml) == []
    root = etree.fromstring(xml)
    ns = {"cac": NS_CAC, "cbc": NS_CBC}
    assert root.findtext("cbc:InvoiceTypeCode", namespaces=ns) == "325"
    assert root.findtext("cbc:BuyerReference", namespaces=ns) == "04011000-12345-34"
    assert root.findtext("cac:OrderReference/cbc:ID", namespaces=ns) == "4500012345"
    means = root.find("cac:PaymentMeans", ns)
    assert means.findtext("cbc:PaymentMeansCode", namespaces=ns) == "58"
    assert means.findtext("cbc:PaymentID", namespaces=ns) == payment_reference(proforma.number)
    assert means.findtext("cac:PayeeFinancialAccount/cbc:ID", namespaces=ns) == "DE89370400440532013000"
    assert means.findtext("cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID", namespaces=ns) == (
        "COBADEFFXXX")


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
