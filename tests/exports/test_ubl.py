"""UBL 2.1 export: render_ubl output passes the UBL XSD and the EN 16931 rules (saxonche in a child process)."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from lxml import etree

from portal.exports import ubl_validate
from portal.exports.document import BankAccount, Document, Line, Party, TaxBreakdown
from portal.exports.ubl import NS_CAC, NS_CBC, PROFORMA_NOTE, render_ubl
from portal.exports.ubl_validate import UblValidationError, validate_many, validate_ubl

pytestmark = pytest.mark.no_db

NS = {"cac": NS_CAC, "cbc": NS_CBC}
CENT = Decimal("0.01")
SELLER = Party("Ledgerflow GmbH", "DE123456789", "Hauptstraße 1", "Berlin", "10115", "DE", "billing@ledgerflow.example")
BUYER = Party("Kunde AG", "DE987654321", "Königsallee 2", "Düsseldorf", "40212", "DE", "ap@kunde.example")
BUYER_AT = Party("Alpen Handel GmbH", "ATU12345678", "Ringstraße 5", "Wien", "1010", "AT")
ACCOUNT = BankAccount("DE89370400440532013000", "COBADEFFXXX", "Demo Bank")


def line(number: int, quantity: str, price: str, rate: str, unit: str = "HUR", text: str = "") -> Line:
    """A line with net and tax computed and quantized like the proforma builder does."""
    net = (Decimal(quantity) * Decimal(price)).quantize(CENT, ROUND_HALF_UP)
    tax = (net * Decimal(rate) / 100).quantize(CENT, ROUND_HALF_UP)
    return Line(number, text or f"Service {number}", Decimal(quantity), Decimal(price), net, Decimal(rate), tax,
                source=f"INC00{number:05d}", unit=unit)


def document(lines: tuple[Line, ...], category: str = "S", **overrides) -> Document:
    """A consistent Document: one tax breakdown per rate, totals summed from the lines."""
    taxes = []
    for rate in sorted({item.tax_rate for item in lines}, reverse=True):
        taxable = sum((item.net_amount for item in lines if item.tax_rate == rate), Decimal("0.00"))
        tax = (taxable * rate / 100).quantize(CENT, ROUND_HALF_UP)
        taxes.append(TaxBreakdown(rate, taxable, tax, category if rate == 0 else "S"))
    net = sum((tax.taxable_amount for tax in taxes), Decimal("0.00"))
    tax_total = sum((tax.tax_amount for tax in taxes), Decimal("0.00"))
    fields = {
        "number": "PF-2026-11-0001", "issue_date": date(2026, 11, 30), "due_date": date(2026, 12, 30),
        "currency": "EUR", "period_start": date(2026, 11, 1), "period_end": date(2026, 11, 30),
        "seller": SELLER, "buyer": BUYER, "lines": lines, "taxes": tuple(taxes),
        "net_total": net, "tax_total": tax_total, "gross_total": net + tax_total,
        "contract_number": "C-2026-007", "notes": ("Period November 2026",),
    }
    fields.update(overrides)
    return Document(**fields)


STANDARD = document((line(1, "3", "100.00", "19"), line(2, "1", "250.00", "19", "MON")))
MIXED = document((line(1, "2.5", "80.00", "19"), line(2, "4", "12.35", "7", "EA"), line(3, "1", "99.99", "19")))
REVERSE = document((line(1, "10", "95.00", "0"),), "AE", buyer=BUYER_AT, tax_rule="reverse_charge")
EXEMPT = document((line(1, "1", "1200.00", "0", "MON"),), "E", tax_rule="exempt")
CYRILLIC = document(
    (line(1, "1", "500.00", "19", "MON", "Поддержка серверов — Übergröße"), line(2, "7", "3.33", "7", "EA")),
    seller=dataclasses.replace(SELLER, name="Müller & Söhne GmbH", street="Straße des 17. Juni 1"),
    buyer=Party("ООО «Ромашка»", "RU7701234567", "ул. Тверская, д. 7", "Москва", "125009", "RU", "buh@romashka.ru"),
)
# Numeric(18, 2) amounts: 16 integer digits. The EN 16931 XSLT computes its ±1 tolerances in xs:double,
# exact only up to 2**53 (~9.0e15): larger amounts render exactly but trip BR-S-08 false positives.
HUGE = document((line(1, "1", "1234567890123456.78", "19"), line(2, "3", "2222222222222222.22", "7")))
# Half cents, rounded half-up like portal.money.quantize: 13.50 at 19 % is 2.565 -> 2.57 (half-even and float
# round() give 2.56); 0.5 x 2.25 is 1.125 -> 1.13. EN 16931 (BR-CO-17) recomputes the tax the same way.
HALF_CENTS = document((line(1, "1", "13.50", "19"), line(2, "0.5", "2.25", "19")))
# What a drafted proforma carries: the seller's account, the payment reference, the customer's references,
# and units per line kind (E48 a ticket as one service unit, C62 a fixed line's units).
PAYABLE = document((line(1, "1", "220.00", "19", "E48"), line(2, "25", "12.50", "19", "C62")),
                   payee_account=ACCOUNT, payment_reference="RF28PFK0001202611",
                   purchase_order_number="PO-4711", buyer_reference="04011000-12345-34")
PAYABLE_USD = dataclasses.replace(PAYABLE, currency="USD")
# A discount line carries a negative unit price; the file shows a negative quantity at the positive price (BR-27).
DISCOUNTED = document((line(1, "1", "900.00", "19", "C62"), line(2, "2", "-45.50", "19", "C62", "Loyalty discount")))
VALID = {"standard": STANDARD, "half_cents": HALF_CENTS, "mixed": MIXED, "reverse_charge": REVERSE, "exempt": EXEMPT,
         "cyrillic_german": CYRILLIC, "eighteen_digits": HUGE, "payable_sepa": PAYABLE, "payable_usd": PAYABLE_USD,
         "commercial_380": STANDARD, "discounted": DISCOUNTED}
BROKEN_TOTALS = dataclasses.replace(STANDARD, net_total=Decimal("600.00"), gross_total=Decimal("704.50"))
BROKEN_TAX = dataclasses.replace(
    STANDARD, taxes=(TaxBreakdown(Decimal("19"), Decimal("550.00"), Decimal("100.00")),),
    tax_total=Decimal("100.00"), gross_total=Decimal("650.00"))
BROKEN_LINES = dataclasses.replace(  # line 3 claims 7 % while the breakdowns count it under 19 %
    MIXED, lines=(*MIXED.lines[:2], dataclasses.replace(MIXED.lines[2], tax_rate=Decimal(7))))
NO_BUYER_VAT = dataclasses.replace(REVERSE, buyer=dataclasses.replace(BUYER_AT, vat_id=""))
BROKEN = {"totals": BROKEN_TOTALS, "tax": BROKEN_TAX, "lines": BROKEN_LINES, "no_buyer_vat": NO_BUYER_VAT}


def rendered(name: str) -> bytes:
    """Render a named valid or broken document (commercial_380 overrides the proforma type code)."""
    if name == "commercial_380":
        return render_ubl(STANDARD, type_code="380")
    return render_ubl({**VALID, **BROKEN}[name])


@pytest.fixture(scope="module")
def results() -> dict[str, list[str]]:
    """Validate every named document with one EN 16931 subprocess."""
    names = [*VALID, *BROKEN]
    return dict(zip(names, validate_many([rendered(name) for name in names]), strict=True))


def rule_ids(errors: list[str]) -> set[str]:
    """The rule ids ('BR-CO-10') of 'RULE: message (location)' strings."""
    return {error.split(":", 1)[0] for error in errors}


@pytest.mark.parametrize("name", list(VALID))
def test_rendered_documents_pass_xsd_and_en16931(results, name):
    assert results[name] == []


@pytest.mark.parametrize(("name", "expected"), [
    ("totals", {"BR-CO-10"}),
    ("tax", {"BR-CO-17", "BR-S-09"}),
    ("lines", {"BR-S-08"}),
    ("no_buyer_vat", {"BR-AE-02"}),
])
def test_broken_documents_name_the_failed_rules(results, name, expected):
    assert rule_ids(results[name]) == expected, results[name]
    assert all(error.startswith("BR-") and "(/Invoice" in error for error in results[name]), results[name]


def test_validation_runs_saxon_in_a_separate_process():
    assert validate_ubl(render_ubl(MIXED)) == []
    assert "saxonche" not in sys.modules


def test_header_parties_and_amounts():
    root = etree.fromstring(render_ubl(CYRILLIC))
    assert root.findtext("cbc:InvoiceTypeCode", namespaces=NS) == "325"  # UNTDID 1001 proforma invoice
    assert PROFORMA_NOTE in [note.text for note in root.findall("cbc:Note", NS)]
    buyer = root.find("cac:AccountingCustomerParty/cac:Party", NS)
    assert buyer.findtext("cac:PartyLegalEntity/cbc:RegistrationName", namespaces=NS) == "ООО «Ромашка»"
    assert buyer.findtext("cac:PartyTaxScheme/cbc:CompanyID", namespaces=NS) == "RU7701234567"
    payable = root.find("cac:LegalMonetaryTotal/cbc:PayableAmount", NS)
    assert (payable.text, payable.get("currencyID")) == (str(CYRILLIC.gross_total), "EUR")
    quantity = root.find("cac:InvoiceLine[2]/cbc:InvoicedQuantity", NS)
    assert (quantity.text, quantity.get("unitCode")) == ("7.00", "EA")


def test_payment_means_name_the_sellers_account_and_the_payment_reference():
    means = etree.fromstring(render_ubl(PAYABLE)).find("cac:PaymentMeans", NS)
    assert means.findtext("cbc:PaymentMeansCode", namespaces=NS) == "58"  # SEPA credit transfer: euro
    assert means.findtext("cbc:PaymentID", namespaces=NS) == "RF28PFK0001202611"
    account = means.find("cac:PayeeFinancialAccount", NS)
    assert account.findtext("cbc:ID", namespaces=NS) == "DE89370400440532013000"
    assert account.findtext("cac:FinancialInstitutionBranch/cbc:ID", namespaces=NS) == "COBADEFFXXX"
    usd = etree.fromstring(render_ubl(PAYABLE_USD)).find("cac:PaymentMeans", NS)
    assert usd.findtext("cbc:PaymentMeansCode", namespaces=NS) == "30"  # a transfer, but not in euro: not SEPA
    assert usd.findtext("cac:PayeeFinancialAccount/cbc:ID", namespaces=NS) == "DE89370400440532013000"


def test_without_an_account_no_instrument_is_named_and_the_number_is_the_reference():
    means = etree.fromstring(render_ubl(STANDARD)).find("cac:PaymentMeans", NS)
    assert means.findtext("cbc:PaymentMeansCode", namespaces=NS) == "1"
    assert means.findtext("cbc:PaymentID", namespaces=NS) == STANDARD.number
    assert means.find("cac:PayeeFinancialAccount", NS) is None


def test_buyer_reference_and_purchase_order_are_bt10_and_bt13():
    root = etree.fromstring(render_ubl(PAYABLE))
    assert root.findtext("cbc:BuyerReference", namespaces=NS) == "04011000-12345-34"
    assert root.findtext("cac:OrderReference/cbc:ID", namespaces=NS) == "PO-4711"
    plain = etree.fromstring(render_ubl(STANDARD))
    assert plain.find("cbc:BuyerReference", NS) is None and plain.find("cac:OrderReference", NS) is None


def test_line_units_are_un_ece_codes():
    quantities = etree.fromstring(render_ubl(PAYABLE)).findall("cac:InvoiceLine/cbc:InvoicedQuantity", NS)
    assert [(q.text, q.get("unitCode")) for q in quantities] == [("1.00", "E48"), ("25.00", "C62")]


def test_a_payable_proforma_draws_no_en16931_warning_either():
    assert validate_ubl(render_ubl(PAYABLE), warnings=True) == []


def test_half_cents_round_up_and_render_as_computed():
    assert [(line.net_amount, line.tax_amount) for line in HALF_CENTS.lines] == [
        (Decimal("13.50"), Decimal("2.57")), (Decimal("1.13"), Decimal("0.21"))]
    assert (HALF_CENTS.net_total, HALF_CENTS.tax_total) == (Decimal("14.63"), Decimal("2.78"))  # 2.7797 -> 2.78
    root = etree.fromstring(render_ubl(HALF_CENTS))
    assert root.findtext("cac:TaxTotal/cbc:TaxAmount", namespaces=NS) == "2.78"
    assert root.findtext("cac:LegalMonetaryTotal/cbc:PayableAmount", namespaces=NS) == "17.41"


def test_eighteen_digit_amounts_are_exact():
    root = etree.fromstring(render_ubl(HUGE))
    amounts = [node.text for node in root.iterfind(".//cbc:LineExtensionAmount", NS)]
    assert amounts == ["7901234556790123.44", "1234567890123456.78", "6666666666666666.66"]
    assert root.findtext("cac:LegalMonetaryTotal/cbc:PayableAmount", namespaces=NS) == "8602469122580246.90"


def test_reverse_charge_and_exempt_carry_an_exemption_reason():
    for doc, code in ((REVERSE, "AE"), (EXEMPT, "E")):
        category = etree.fromstring(render_ubl(doc)).find(".//cac:TaxSubtotal/cac:TaxCategory", NS)
        assert (category.findtext("cbc:ID", namespaces=NS), category.findtext("cbc:Percent", namespaces=NS)) == (
            code, "0.00")
        assert category.findtext("cbc:TaxExemptionReason", namespaces=NS)


def test_xsd_errors_are_readable_and_malformed_xml_is_reported():
    xml = render_ubl(STANDARD).replace(b"<cbc:DueDate>", b"<cbc:Bogus>x</cbc:Bogus><cbc:DueDate>")
    errors = validate_ubl(xml)
    assert any(error.startswith("XSD: Element 'cbc:Bogus'") for error in errors), errors
    assert validate_ubl(b"<Invoice") == [
        "XML: Couldn't find end of Start Tag Invoice line 1, line 1, column 9 (<string>, line 1)"]
    assert validate_ubl(b"") == ["XML: Document is empty, line 1, column 1 (<string>, line 1)"]


def test_missing_saxonche_and_timeout_raise_clear_errors(monkeypatch):
    with pytest.raises(UblValidationError, match="timed out"):
        validate_ubl(render_ubl(STANDARD), timeout=0.01)
    real = importlib.util.find_spec
    monkeypatch.setattr(ubl_validate.importlib.util, "find_spec",
                        lambda name: None if name == "saxonche" else real(name))
    with pytest.raises(UblValidationError, match="saxonche is not installed"):
        validate_ubl(render_ubl(STANDARD))


def test_a_discount_line_is_a_negative_quantity_at_a_positive_price():
    root = etree.fromstring(render_ubl(DISCOUNTED))
    discount = root.findall("cac:InvoiceLine", NS)[1]
    assert discount.findtext("cbc:InvoicedQuantity", namespaces=NS) == "-2.00"
    assert discount.findtext("cac:Price/cbc:PriceAmount", namespaces=NS) == "45.50"
    assert discount.findtext("cbc:LineExtensionAmount", namespaces=NS) == "-91.00"
    assert root.findtext("cac:LegalMonetaryTotal/cbc:LineExtensionAmount", namespaces=NS) == "809.00"
    charge = root.findall("cac:InvoiceLine", NS)[0]
    assert charge.findtext("cbc:InvoicedQuantity", namespaces=NS) == "1.00"
    assert charge.findtext("cac:Price/cbc:PriceAmount", namespaces=NS) == "900.00"
