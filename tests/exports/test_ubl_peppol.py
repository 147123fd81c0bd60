"""Issued documents as Peppol BIS Billing 3.0: invoices (380), due notes (383) and credit notes (381) pass the UBL 2.1
XSD, the EN 16931 rules and the official Peppol rules (saxonche in a child process) across countries and tax rules;
a party without a Peppol address keeps the document EN 16931 core."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from lxml import etree

from portal.exports.document import CREDIT_NOTE, DUE_NOTE, INVOICE, DocumentReference, Party
from portal.exports.ubl import (
    NS_CAC,
    NS_CBC,
    PEPPOL_CUSTOMIZATION_ID,
    PEPPOL_PROFILE_ID,
    Endpoint,
    is_peppol,
    peppol_endpoint,
    render_ubl,
)
from portal.exports.ubl_validate import NS_CREDIT_NOTE, validate_many
from tests.exports.test_ubl import ACCOUNT, document, line, rule_ids
from tests.support.paths import PEPPOL_RULES
from tests.support.servers import require_service

pytestmark = pytest.mark.no_db

NS = {"cac": NS_CAC, "cbc": NS_CBC}
SELLER = Party("Ledgerflow GmbH", "DE123456789", "Hauptstraße 1", "Berlin", "10115", "DE", "billing@ledgerflow.example",
               contact_name="Accounts receivable", phone="+49 30 1234567")
BUYERS = {
    "DE": Party("Kunde AG", "DE987654321", "Königsallee 2", "Düsseldorf", "40212", "DE", "ap@kunde.example"),
    "AT": Party("Alpen Handel GmbH", "ATU13585627", "Ringstraße 5", "Wien", "1010", "AT"),
    "BE": Party("Brabo NV", "BE 0123.456.749", "Meir 1", "Antwerpen", "2000", "BE", "ap@brabo.example"),
    "FR": Party("Société Lumière SA", "FR40303265045", "1 rue de Rivoli", "Paris", "75001", "FR"),
    "SE": Party("Nordvik AB", "SE556036079301", "Drottninggatan 3", "Stockholm", "11151", "SE"),
    "NO": Party("Fjord AS", "NO123456785MVA", "Karl Johans gate 9", "Oslo", "0154", "NO"),
    "DK": Party("Havn ApS", "DK13585628", "Strøget 4", "København", "1160", "DK"),
    "IT": Party("Milano Servizi Srl", "IT00743110157", "Via Roma 1", "Milano", "20121", "IT"),
}
REFERENCES = {"buyer_reference": "04011000-12345-34", "purchase_order_number": "PO-4711"}
INVOICED = DocumentReference("INV-2026-000041", date(2026, 11, 30))


def issued(kind: str, buyer: str = "DE", lines=None, category: str = "S", **overrides):
    """An issued document of `kind` from the German seller to the buyer of a country, payable to its account."""
    fields = {"number": {INVOICE: "INV-2026-000042", CREDIT_NOTE: "CN-2026-000007", DUE_NOTE: "DN-2026-000003"}[kind],
              "kind": kind, "seller": SELLER, "buyer": BUYERS[buyer], "notes": ("Thank you for your business.",),
              "payee_account": None if kind == CREDIT_NOTE else ACCOUNT, "payment_reference": "RF18INV2026000042",
              **REFERENCES}
    if kind != INVOICE:
        fields["billing_reference"] = INVOICED
    fields.update(overrides)
    return document(lines or (line(1, "3", "100.00", "19", "HUR"), line(2, "1", "250.00", "19", "MON")), category,
                    **fields)


DISCOUNTED = (line(1, "1", "900.00", "19", "C62"), line(2, "2", "-45.50", "19", "C62", "Loyalty discount"))
REVERSE = (line(1, "10", "95.00", "0", "E48"),)
DOCUMENTS = {
    "invoice_de_two_rates_discount": issued(INVOICE, lines=(*DISCOUNTED, line(3, "4", "12.35", "7", "DAY"))),
    "invoice_at_reverse_charge": issued(INVOICE, "AT", REVERSE, "AE", tax_rule="reverse_charge"),
    "invoice_be_no_buyer_reference": issued(INVOICE, "BE", DISCOUNTED, buyer_reference=""),
    "invoice_fr_exempt_no_references": issued(INVOICE, "FR", (line(1, "1", "1200.00", "0", "MON"),), "E",
                                              tax_rule="exempt", buyer_reference="", purchase_order_number=""),
    "invoice_se_reverse_charge": issued(INVOICE, "SE", REVERSE, "AE", tax_rule="reverse_charge"),
    "invoice_no_usd_zero_rated": issued(INVOICE, "NO", (line(1, "2", "310.00", "0", "C62"),), "Z", currency="USD"),
    "invoice_dk_no_period": issued(INVOICE, "DK", REVERSE, "AE", tax_rule="reverse_charge", period_known=False),
    "invoice_it_standard": issued(INVOICE, "IT"),
    "due_note_de": issued(DUE_NOTE, lines=(line(1, "1", "40.00", "19", "C62", "Late payment fee"),),
                          period_known=False),
    "credit_note_de_discount": issued(CREDIT_NOTE, lines=DISCOUNTED),
    "credit_note_at_reverse_charge": issued(CREDIT_NOTE, "AT", REVERSE, "AE", tax_rule="reverse_charge"),
}


@pytest.fixture(scope="module")
def peppol_results() -> dict[str, list[str]]:
    """Every document through the XSD, EN 16931 and Peppol BIS 3 in one child process."""
    require_service("the Peppol BIS 3 rules", PEPPOL_RULES.is_file(), f"{PEPPOL_RULES} is missing")
    names = list(DOCUMENTS)
    found = validate_many([render_ubl(DOCUMENTS[name]) for name in names], rules=[PEPPOL_RULES])
    return dict(zip(names, found, strict=True))


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_issued_documents_pass_xsd_en16931_and_peppol(peppol_results, name):
    assert is_peppol(DOCUMENTS[name])
    assert peppol_results[name] == []


def root_of(name: str) -> etree._Element:
    return etree.fromstring(render_ubl(DOCUMENTS[name]))


def test_an_invoice_is_a_peppol_380_with_one_note_and_scheme_endpoints():
    root = root_of("invoice_de_two_rates_discount")
    assert root.tag == "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice"
    assert root.findtext("cbc:CustomizationID", namespaces=NS) == PEPPOL_CUSTOMIZATION_ID
    assert root.findtext("cbc:ProfileID", namespaces=NS) == PEPPOL_PROFILE_ID
    assert root.findtext("cbc:InvoiceTypeCode", namespaces=NS) == "380"
    assert [note.text for note in root.findall("cbc:Note", NS)] == ["Thank you for your business."]
    endpoints = [(node.get("schemeID"), node.text) for node in root.iterfind(".//cac:Party/cbc:EndpointID", NS)]
    assert endpoints == [("9930", "DE123456789"), ("9930", "DE987654321")]
    contact = root.find("cac:AccountingSupplierParty/cac:Party/cac:Contact", NS)
    assert [child.text for child in contact] == ["Accounts receivable", "+49 30 1234567", "billing@ledgerflow.example"]
    assert root.findtext("cbc:BuyerReference", namespaces=NS) == "04011000-12345-34"


def test_several_notes_become_one():
    several = dataclasses.replace(DOCUMENTS["invoice_it_standard"], notes=("Period November", "", "Thank you"))
    notes = etree.fromstring(render_ubl(several)).findall("cbc:Note", NS)
    assert [note.text for note in notes] == ["Period November\nThank you"]


@pytest.mark.parametrize(("buyer", "expected"), [
    ("AT", Endpoint("9914", "ATU13585627")), ("BE", Endpoint("0208", "0123456749")),
    ("FR", Endpoint("9957", "FR40303265045")), ("SE", Endpoint("0007", "5560360793")),
    ("NO", Endpoint("0192", "123456785")), ("DK", Endpoint("0184", "13585628")),
    ("IT", Endpoint("0211", "IT00743110157")),
])
def test_the_endpoint_scheme_follows_the_vat_number(buyer, expected):
    assert peppol_endpoint(BUYERS[buyer]) == expected


def test_a_vat_number_without_prefix_takes_the_country_and_greece_writes_el():
    assert peppol_endpoint(Party("x", "123456789", country="DE")) == Endpoint("9930", "DE123456789")
    assert peppol_endpoint(Party("x", "EL094259216", country="GR")) == Endpoint("9933", "094259216")
    assert peppol_endpoint(Party("x", "RU7701234567", country="RU")) is None
    assert peppol_endpoint(Party("x", "", country="DE")) is None


def test_without_a_buyer_reference_the_order_number_or_the_document_number_routes_it():
    assert root_of("invoice_be_no_buyer_reference").findtext("cbc:BuyerReference", namespaces=NS) == "PO-4711"
    assert root_of("invoice_fr_exempt_no_references").findtext("cbc:BuyerReference", namespaces=NS) == \
        "INV-2026-000042"


def test_a_credit_note_is_a_381_credit_note_that_references_the_invoice():
    root = root_of("credit_note_de_discount")
    assert root.tag == f"{{{NS_CREDIT_NOTE}}}CreditNote"
    assert root.findtext("cbc:CreditNoteTypeCode", namespaces=NS) == "381"
    assert root.find("cbc:DueDate", NS) is None
    reference = root.find("cac:BillingReference/cac:InvoiceDocumentReference", NS)
    assert (reference.findtext("cbc:ID", namespaces=NS), reference.findtext("cbc:IssueDate", namespaces=NS)) == (
        "INV-2026-000041", "2026-11-30")
    quantities = [(q.text, q.get("unitCode")) for q in root.iterfind("cac:CreditNoteLine/cbc:CreditedQuantity", NS)]
    assert quantities == [("1.00", "C62"), ("-2.00", "C62")]  # the discount credited back: negative at a positive price
    assert root.find("cac:InvoiceLine", NS) is None
    assert root.findtext("cac:PaymentMeans/cbc:PaymentMeansCode", namespaces=NS) == "1"  # nothing asked to be paid


def test_a_due_note_is_a_383_debit_note_without_a_period():
    root = root_of("due_note_de")
    assert root.findtext("cbc:InvoiceTypeCode", namespaces=NS) == "383"
    assert root.find("cac:InvoicePeriod", NS) is None
    assert root.findtext("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", namespaces=NS) == \
        "INV-2026-000041"


def test_a_buyer_without_a_peppol_address_gets_an_en16931_core_invoice():
    russian = Party("ООО «Ромашка»", "RU7701234567", "ул. Тверская, д. 7", "Москва", "125009", "RU", "buh@romashka.ru")
    core = dataclasses.replace(DOCUMENTS["invoice_it_standard"], buyer=russian)
    assert not is_peppol(core)
    root = etree.fromstring(render_ubl(core))
    assert root.findtext("cbc:CustomizationID", namespaces=NS) == "urn:cen.eu:en16931:2017"
    assert root.find("cbc:ProfileID", NS) is None and root.findtext("cbc:InvoiceTypeCode", namespaces=NS) == "380"
    buyer_endpoint = root.find("cac:AccountingCustomerParty/cac:Party/cbc:EndpointID", NS)
    assert (buyer_endpoint.get("schemeID"), buyer_endpoint.text) == ("EM", "buh@romashka.ru")
    assert validate_many([render_ubl(core)]) == [[]]


def test_the_peppol_rules_catch_what_a_broken_peppol_invoice_lacks(peppol_results):
    """The rule set really runs on these files: a German invoice without the seller's telephone fails DE-R-006."""
    silent = dataclasses.replace(DOCUMENTS["invoice_de_two_rates_discount"],
                                 seller=dataclasses.replace(SELLER, phone=""))
    assert rule_ids(validate_many([render_ubl(silent)], rules=[PEPPOL_RULES])[0]) == {"DE-R-006"}
