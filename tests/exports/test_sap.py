"""SAP outputs: IDoc INVOIC02 XML (against the project's XSD) and the semicolon upload CSV."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from lxml import etree

from portal.exports.document import Document, Line, Party, TaxBreakdown
from portal.exports.sap_csv import COLUMNS, render_sap_csv
from portal.exports.sap_idoc import PROFORMA_TEXT, IdocError, render_idoc, validate_idoc

pytestmark = pytest.mark.no_db

CREATED = datetime(2026, 12, 1, 8, 30, 5)
SELLER = Party("Ledgerflow GmbH", "DE123456789", "Hauptstraße 1", "Berlin", "10115", "DE")
BUYER = Party("Müller & Söhne Bäckerei GmbH", "DE987654321", "Königsallee 2", "Düsseldorf", "40212", "DE",
              sap_partner_code="0000100042")
BUYER_RU = Party("ООО «Ромашка» Торговая Компания Северо-Западного Региона", "RU7707083893",
                 "ул. Льва Толстого, 16", "Москва", "119021", "RU", sap_partner_code="0000200077")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def line(number: int, quantity: str, price: str, rate: str, *, places: int = 2, **extra) -> Line:
    """A line with net and tax computed in Decimal and quantized like the proforma builder does."""
    exponent = Decimal(1).scaleb(-places)
    net = (Decimal(quantity) * Decimal(price)).quantize(exponent, ROUND_HALF_UP)
    tax = (net * Decimal(rate) / 100).quantize(exponent, ROUND_HALF_UP)
    extra.setdefault("description", f"Service {number}")
    extra.setdefault("source", f"INC00{number:05d} (P2, closed 2026-11-03)")
    return Line(number, extra.pop("description"), Decimal(quantity), Decimal(price), net, Decimal(rate), tax,
                **extra)


def document(lines: tuple[Line, ...], *, category: str = "S", **overrides) -> Document:
    """A consistent Document: one TaxBreakdown per rate, totals summed from the lines."""
    taxes = tuple(
        TaxBreakdown(rate, sum((x.net_amount for x in lines if x.tax_rate == rate), Decimal(0)),
                     sum((x.tax_amount for x in lines if x.tax_rate == rate), Decimal(0)), category)
        for rate in sorted({x.tax_rate for x in lines}, reverse=True)
    )
    net = sum((x.net_amount for x in lines), Decimal(0))
    tax = sum((x.tax_amount for x in lines), Decimal(0))
    base = Document(
        number="PF-2026-11-0001", issue_date=date(2026, 12, 1), due_date=date(2026, 12, 31), currency="EUR",
        period_start=date(2026, 11, 1), period_end=date(2026, 11, 30), seller=SELLER, buyer=BUYER,
        lines=lines, taxes=taxes, net_total=net, tax_total=tax, gross_total=net + tax,
        contract_number="C-2026-7", sap_company_code="1000", notes=("Proforma, not a tax invoice",),
        idempotency_key="proforma:42:v1",
    )
    return dataclasses.replace(base, **overrides)


def german() -> Document:
    """Three lines at 19 % and 7 %, umlauts, a long description and one that looks like a formula."""
    return document((
        line(1, "2.5", "80.00", "19", unit="HUR", description="Störungsbehebung Größe XL " * 4),
        line(2, "1", "1200.00", "19", unit="MON", source="fixed", description="Monatspauschale Überwachung"),
        line(3, "3", "12.34", "7", description="=HYPERLINK(\"http://evil\")"),
    ))


def parse(xml: bytes) -> etree._Element:
    """The IDOC element of rendered XML."""
    return etree.fromstring(xml).find("IDOC")


def fields(segment: etree._Element) -> dict[str, str]:
    """A segment's fields (leaf children) as a dict."""
    return {child.tag: child.text for child in segment if len(child) == 0}


def by_qualifier(idoc: etree._Element, name: str, qualifier: str) -> dict[str, dict[str, str]]:
    """Segments of one name keyed by their qualifier field."""
    return {seg.findtext(qualifier): fields(seg) for seg in idoc.findall(name)}


def csv_rows(data: bytes, delimiter: str = ";") -> list[dict[str, str]]:
    """Parse the SAP CSV back with the csv module."""
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=delimiter))


# ----- IDoc: structure and values -----------------------------------------------------------------


def test_idoc_validates_against_the_project_xsd():
    for doc in (german(), document((line(1, "1", "10.00", "20"),), buyer=BUYER_RU)):
        xml = render_idoc(doc, created_at=CREATED)
        assert validate_idoc(xml) == []
        assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")


def test_control_record():
    control = fields(parse(render_idoc(german(), created_at=CREATED)).find("EDI_DC40"))
    assert control == {
        "TABNAM": "EDI_DC40", "MANDT": "000", "DOCNUM": control["DOCNUM"], "DIRECT": "2", "IDOCTYP": "INVOIC02",
        "MESTYP": "INVOIC", "SNDPOR": "LEDGERFLOW", "SNDPRT": "LS", "SNDPRN": "LEDGERFLOW", "RCVPOR": "SAP",
        "RCVPRT": "KU", "RCVPRN": "0000100042", "CREDAT": "20261201", "CRETIM": "083005",
    }
    assert len(control["DOCNUM"]) == 16 and control["DOCNUM"].isdigit()


def test_control_number_is_stable_and_can_be_given():
    first = parse(render_idoc(german(), created_at=CREATED)).findtext("EDI_DC40/DOCNUM")
    again = parse(render_idoc(german(), created_at=datetime(2027, 1, 1))).findtext("EDI_DC40/DOCNUM")
    other = parse(render_idoc(dataclasses.replace(german(), idempotency_key="proforma:43:v1"))).findtext(
        "EDI_DC40/DOCNUM")
    assert first == again != other
    given = render_idoc(german(), control_number="4711", receiver_partner="LOGSYS01", sender="LF")
    control = fields(parse(given).find("EDI_DC40"))
    assert (control["DOCNUM"], control["RCVPRN"], control["SNDPRN"], control["SNDPOR"]) == (
        "0000000000004711", "LOGSYS01", "LF", "LF")


def test_header_segments():
    doc = german()
    idoc = parse(render_idoc(doc, created_at=CREATED))
    assert fields(idoc.find("E1EDK01")) == {
        "CURCY": "EUR", "ZTERM": "NT30", "KUNDEUINR": "DE987654321", "EIGENUINR": "DE123456789",
        "BSART": "INVO", "BELNR": "PF-2026-11-0001",
    }
    partners = by_qualifier(idoc, "E1EDKA1", "PARVW")
    assert partners["RS"] == {"PARVW": "RS", "NAME1": "Ledgerflow GmbH", "STRAS": "Hauptstraße 1",
                              "ORT01": "Berlin", "PSTLZ": "10115", "LAND1": "DE"}
    assert partners["RE"] == {"PARVW": "RE", "PARTN": "0000100042", "NAME1": "Müller & Söhne Bäckerei GmbH",
                              "STRAS": "Königsallee 2", "ORT01": "Düsseldorf", "PSTLZ": "40212", "LAND1": "DE"}
    assert [fields(seg) for seg in idoc.findall("E1EDK02")] == [
        {"QUALF": "009", "BELNR": "PF-2026-11-0001", "DATUM": "20261201"}]  # no purchase order: no 001
    dates = {qualifier: seg["DATUM"] for qualifier, seg in by_qualifier(idoc, "E1EDK03", "IDDAT").items()}
    assert dates == {"012": "20261201", "026": "20261201", "027": "20261130", "028": "20261231"}
    texts = [seg.findtext("TDLINE") for seg in idoc.iterfind("E1EDKT1/E1EDKT2")]
    assert texts == [PROFORMA_TEXT, "Service period 2026-11-01 - 2026-11-30", "Contract C-2026-7",
                     "Proforma, not a tax invoice"]


def test_partners_sold_to_bill_to_payer_seller_ship_to_default_to_the_buyer():
    idoc = parse(render_idoc(german(), created_at=CREATED))
    assert [seg.findtext("PARVW") for seg in idoc.findall("E1EDKA1")] == ["AG", "RE", "RG", "RS", "WE"]
    partners = by_qualifier(idoc, "E1EDKA1", "PARVW")
    for function in ("AG", "RG", "WE"):  # the customer holds one address: sold-to, payer and ship-to are bill-to
        assert partners[function] == {**partners["RE"], "PARVW": function}
    assert partners["RE"]["PARTN"] == "0000100042" and "PARTN" not in partners["RS"]


def test_partners_given_apart_from_the_buyer_are_sent_as_given():
    plant = Party("Müller Werk Nord", street="Industriestraße 9", city="Bremen", postcode="28195", country="DE",
                  sap_partner_code="0000100043")
    head_office = dataclasses.replace(BUYER, name="Müller Holding AG", sap_partner_code="0000100040")
    doc = dataclasses.replace(german(), sold_to=head_office, payer=head_office, ship_to=plant)
    xml = render_idoc(doc, created_at=CREATED)
    assert validate_idoc(xml) == []
    partners = by_qualifier(parse(xml), "E1EDKA1", "PARVW")
    assert (partners["AG"]["PARTN"], partners["RG"]["PARTN"], partners["WE"]["PARTN"], partners["RE"]["PARTN"]) == (
        "0000100040", "0000100040", "0000100043", "0000100042")
    assert (partners["WE"]["NAME1"], partners["WE"]["ORT01"]) == ("Müller Werk Nord", "Bremen")


def test_purchase_order_number_is_e1edk02_qualifier_001():
    xml = render_idoc(dataclasses.replace(german(), purchase_order_number="4500012345"), created_at=CREATED)
    assert validate_idoc(xml) == []
    assert [fields(seg) for seg in parse(xml).findall("E1EDK02")] == [
        {"QUALF": "001", "BELNR": "4500012345"},
        {"QUALF": "009", "BELNR": "PF-2026-11-0001", "DATUM": "20261201"}]


def test_a_purchase_order_number_longer_than_belnr_is_refused_not_cut():
    with pytest.raises(IdocError) as caught:
        render_idoc(dataclasses.replace(german(), purchase_order_number="P" * 36), created_at=CREATED)
    assert any("/E1EDK02[1]/BELNR" in error for error in caught.value.errors), caught.value.errors


def test_one_item_per_line_with_values():
    doc = german()
    items = parse(render_idoc(doc, created_at=CREATED)).findall("E1EDP01")
    assert len(items) == len(doc.lines) == 3
    first = items[0]
    assert fields(first) == {"POSEX": "000001", "MENGE": "2.5", "MENEE": "HUR", "VPREI": "80.00", "PEINH": "1",
                             "NETWR": "200.00"}
    assert fields(first.find("E1EDP19")) == {"QUALF": "002", "IDTNR": "INC0000001",
                                             "KTEXT": doc.lines[0].description.strip()[:70]}
    assert fields(first.find("E1EDP26")) == {"QUALF": "003", "BETRG": "200.00"}
    assert fields(first.find("E1EDP04")) == {"MWSKZ": "S", "MSATZ": "19.00", "MWSBT": "38.00"}
    chunks = [(seg.findtext("TDLINE"), seg.findtext("TDFORMAT")) for seg in first.iterfind("E1EDPT1/E1EDPT2")]
    full = "".join(text for text, _ in chunks[:-1])
    assert full == " ".join(doc.lines[0].description.split())  # KTEXT is cut, the item text is whole
    assert [fmt for _, fmt in chunks] == ["*", "=", "*"]
    assert chunks[-1][0] == "Source: INC0000001 (P2, closed 2026-11-03)"
    third = items[2]
    assert third.findtext("E1EDP19/KTEXT") == '=HYPERLINK("http://evil")'  # XML is not a spreadsheet
    assert fields(third.find("E1EDP04")) == {"MWSKZ": "S", "MSATZ": "7.00", "MWSBT": "2.59"}


def test_totals_equal_the_document():
    doc = german()
    idoc = parse(render_idoc(doc, created_at=CREATED))
    totals = by_qualifier(idoc, "E1EDS01", "SUMID")
    assert totals["001"] == {"SUMID": "001", "SUMME": "3"}
    assert {q: Decimal(totals[q]["SUMME"]) for q in ("010", "005", "011")} == {
        "010": doc.net_total, "005": doc.tax_total, "011": doc.gross_total}
    assert {totals[q]["WAERQ"] for q in ("010", "005", "011")} == {"EUR"}
    assert sum(Decimal(n.text) for n in idoc.iterfind("E1EDP01/NETWR")) == doc.net_total
    header_taxes = [fields(seg) for seg in idoc.findall("E1EDK04")]
    assert header_taxes == [{"MWSKZ": "S", "MSATZ": "19.00", "MWSBT": "266.00"},
                            {"MWSKZ": "S", "MSATZ": "7.00", "MWSBT": "2.59"}]
    assert sum(Decimal(tax["MWSBT"]) for tax in header_taxes) == doc.tax_total


def test_cyrillic_names_survive_and_long_names_continue_in_name2():
    doc = document((line(1, "1", "10.00", "20"),), buyer=BUYER_RU, currency="RUB")
    xml = render_idoc(doc, created_at=CREATED)
    assert validate_idoc(xml) == []
    buyer = by_qualifier(parse(xml), "E1EDKA1", "PARVW")["RE"]
    assert buyer["NAME1"] == "ООО «Ромашка» Торговая Компания"
    assert buyer["NAME2"] == "Северо-Западного Региона"
    assert (buyer["STRAS"], buyer["ORT01"], buyer["LAND1"]) == ("ул. Льва Толстого, 16", "Москва", "RU")


def test_reverse_charge_document_with_zero_tax():
    lines = (line(1, "10", "95.00", "0"), line(2, "1", "500.00", "0"))
    doc = document(lines, category="AE", tax_rule="reverse_charge", buyer=dataclasses.replace(BUYER, country="AT"))
    idoc = parse(render_idoc(doc, created_at=CREATED))
    assert [fields(seg) for seg in idoc.findall("E1EDK04")] == [{"MWSKZ": "AE", "MSATZ": "0.00", "MWSBT": "0.00"}]
    assert {fields(seg)["MWSKZ"] for seg in idoc.iterfind("E1EDP01/E1EDP04")} == {"AE"}
    totals = by_qualifier(idoc, "E1EDS01", "SUMID")
    assert (totals["010"]["SUMME"], totals["005"]["SUMME"], totals["011"]["SUMME"]) == ("1450.00", "0.00", "1450.00")


def test_big_amounts_stay_exact():
    lines = (line(1, "1000", "999999999999.99", "0"), line(2, "1", "9.99", "0"))
    doc = document(lines, category="AE", tax_rule="reverse_charge")
    assert doc.gross_total == Decimal("999999999999999.99")  # 17 digits, SAP's full CHAR 18
    assert float(doc.gross_total) != doc.gross_total  # a float on the way would show
    idoc = parse(render_idoc(doc, created_at=CREATED))
    assert by_qualifier(idoc, "E1EDS01", "SUMID")["011"]["SUMME"] == "999999999999999.99"
    assert [n.text for n in idoc.iterfind("E1EDP01/NETWR")] == ["999999999999990.00", "9.99"]
    assert idoc.findtext("E1EDP01/VPREI") == "999999999999.99"
    assert [row["NetAmount"] for row in csv_rows(render_sap_csv(doc))] == ["999999999999990.00", "9.99"]


def test_eighteen_digit_yen_amount_fits_exactly():
    doc = document((line(1, "999", "123456789012345", "0", places=0),), currency="JPY", category="Z")
    assert doc.net_total == 123333332223332655 and float(doc.net_total) != doc.net_total
    idoc = parse(render_idoc(doc, created_at=CREATED))
    assert idoc.findtext("E1EDP01/NETWR") == "123333332223332655"
    assert by_qualifier(idoc, "E1EDS01", "SUMID")["011"]["SUMME"] == "123333332223332655"


def test_point_one_plus_point_two_is_exact():
    doc = document((line(1, "1", "0.10", "19"), line(2, "1", "0.20", "19")))
    idoc = parse(render_idoc(doc, created_at=CREATED))
    totals = by_qualifier(idoc, "E1EDS01", "SUMID")
    assert (totals["010"]["SUMME"], totals["005"]["SUMME"], totals["011"]["SUMME"]) == ("0.30", "0.06", "0.36")
    rows = csv_rows(render_sap_csv(doc))
    assert sum(Decimal(row["NetAmount"]) for row in rows) == Decimal("0.30")
    assert [row["GrossAmount"] for row in rows] == ["0.12", "0.24"]


def test_half_cents_round_up_and_are_carried_as_computed():
    """13.50 at 19 % is 2.565: 2.57 half-up (portal.money.quantize), where half-even and float round() give 2.56."""
    doc = document((line(1, "1", "13.50", "19"), line(2, "0.5", "2.25", "19")))
    assert [(item.net_amount, item.tax_amount) for item in doc.lines] == [
        (Decimal("13.50"), Decimal("2.57")), (Decimal("1.13"), Decimal("0.21"))]
    idoc = parse(render_idoc(doc, created_at=CREATED))
    totals = by_qualifier(idoc, "E1EDS01", "SUMID")
    assert (totals["010"]["SUMME"], totals["005"]["SUMME"], totals["011"]["SUMME"]) == ("14.63", "2.78", "17.41")
    rows = csv_rows(render_sap_csv(doc))
    assert [(row["NetAmount"], row["TaxAmount"], row["GrossAmount"]) for row in rows] == [
        ("13.50", "2.57", "16.07"), ("1.13", "0.21", "1.34")]


# ----- IDoc: errors -------------------------------------------------------------------------------


def test_amount_longer_than_sap_field_is_refused():
    doc = document((line(1, "1000", "1234567890123.45", "0"),), category="AE", tax_rule="reverse_charge")
    assert len(str(doc.net_total)) == 19  # Numeric(18, 2) allows it, SAP's CHAR 18 does not
    with pytest.raises(IdocError) as caught:
        render_idoc(doc, created_at=CREATED)
    assert any("NETWR" in error and "18" in error for error in caught.value.errors)


def test_too_long_document_number_is_refused():
    with pytest.raises(IdocError) as caught:
        render_idoc(dataclasses.replace(german(), number="PF-" + "9" * 40), created_at=CREATED)
    assert any("/E1EDK01/BELNR" in error and "35" in error for error in caught.value.errors)


def test_missing_partner_code_is_refused():
    doc = dataclasses.replace(german(), buyer=dataclasses.replace(BUYER, sap_partner_code=""))
    with pytest.raises(IdocError, match="RCVPRN"):
        render_idoc(doc)


def test_validate_reports_a_too_long_belnr_with_its_line():
    root = etree.fromstring(render_idoc(german(), created_at=CREATED))
    root.find("IDOC/E1EDK02/BELNR").text = "X" * 36
    xml = etree.tostring(root)
    errors = validate_idoc(xml)
    expected_line = next(i for i, text in enumerate(xml.decode().splitlines(), 1) if "X" * 36 in text)
    assert len(errors) == 1
    assert errors[0].startswith(f"line {expected_line}, /INVOIC02/IDOC/E1EDK02/BELNR: ")
    assert "length of '36'" in errors[0] and "maximum length of '35'" in errors[0]


@pytest.mark.parametrize(("path", "expected"), [
    ("IDOC/E1EDK01", "E1EDK01"),
    ("IDOC/E1EDS01[3]", "E1EDS01"),
    ("IDOC/EDI_DC40/RCVPRN", "RCVPRN"),
])
def test_validate_reports_a_missing_segment_or_field(path, expected):
    root = etree.fromstring(render_idoc(german(), created_at=CREATED))
    node = root.find(path)
    node.getparent().remove(node)
    errors = validate_idoc(etree.tostring(root))
    assert errors and errors[0].startswith("line ") and expected in " ".join(errors)


def test_validate_reports_duplicates_bad_values_and_garbage():
    root = etree.fromstring(render_idoc(german(), created_at=CREATED))
    root.find("IDOC/E1EDKA1/PARVW").text = "RE"  # AG becomes a second RE
    root.find("IDOC/E1EDK03/DATUM").text = "20261345"
    root.find("IDOC/E1EDP01/NETWR").text = "1.234,56"
    errors = " | ".join(validate_idoc(etree.tostring(root)))
    assert "onePartnerPerFunction" in errors
    assert "/E1EDK03[1]/DATUM" in errors and "20261345" in errors
    assert "/E1EDP01[1]/NETWR" in errors and "1.234,56" in errors
    assert validate_idoc(b"<INVOIC02><IDOC>")[0].startswith("line 1: not well-formed XML")


def test_float_and_unquantized_money_are_refused():
    bad = dataclasses.replace(german().lines[0], unit_price=80.0)
    with pytest.raises(TypeError, match="float"):
        render_idoc(dataclasses.replace(german(), lines=(bad,)))
    with pytest.raises(TypeError, match="float"):
        render_sap_csv(dataclasses.replace(german(), lines=(bad,)))
    unrounded = dataclasses.replace(german(), net_total=Decimal("10.005"))
    with pytest.raises(ValueError, match="more decimals"):
        render_idoc(unrounded)


# ----- CSV ----------------------------------------------------------------------------------------


def test_csv_parses_back_to_the_document():
    doc = german()
    data = render_sap_csv(doc)
    assert data.count(b"\r\n") == 1 + len(doc.lines)
    header = data.decode("utf-8-sig").split("\r\n", 1)[0]
    assert tuple(header.split(";")) == COLUMNS
    rows = csv_rows(data)
    assert len(rows) == len(doc.lines)
    assert rows[0] == {
        "CompanyCode": "1000", "Partner": "0000100042", "DocumentNumber": "PF-2026-11-0001",
        "DocumentDate": "20261201", "Currency": "EUR", "Line": "1",
        "Description": " ".join(doc.lines[0].description.split()), "Quantity": "2.5", "Unit": "HUR",
        "UnitPrice": "80.00", "NetAmount": "200.00", "TaxCode": "S", "TaxRate": "19.00", "TaxAmount": "38.00",
        "GrossAmount": "238.00",
    }
    assert rows[1]["Description"] == "Monatspauschale Überwachung"
    for row, item in zip(rows, doc.lines, strict=True):
        assert (Decimal(row["Quantity"]), Decimal(row["UnitPrice"]), Decimal(row["NetAmount"])) == (
            item.quantity, item.unit_price, item.net_amount)
        assert Decimal(row["GrossAmount"]) == item.net_amount + item.tax_amount
    assert sum(Decimal(row["NetAmount"]) for row in rows) == doc.net_total
    assert sum(Decimal(row["TaxAmount"]) for row in rows) == doc.tax_total


def test_csv_cyrillic_and_reverse_charge():
    doc = document((line(1, "2", "45.50", "0", description="Поддержка «Ромашка»; ночь"),),
                   buyer=BUYER_RU, category="AE", tax_rule="reverse_charge")
    (row,) = csv_rows(render_sap_csv(doc))
    assert (row["Partner"], row["Description"]) == ("0000200077", "Поддержка «Ромашка»; ночь")
    assert (row["TaxCode"], row["TaxRate"], row["TaxAmount"], row["GrossAmount"]) == ("AE", "0.00", "0.00", "91.00")


def test_csv_is_byte_for_byte_what_the_mapping_describes():
    doc = document((line(1, "1.5", "80.00", "19", unit="HUR", description="Störung; Drucker"),))
    expected = ("\ufeffCompanyCode;Partner;DocumentNumber;DocumentDate;Currency;Line;Description;Quantity;Unit;"
                "UnitPrice;NetAmount;TaxCode;TaxRate;TaxAmount;GrossAmount\r\n"
                '1000;0000100042;PF-2026-11-0001;20261201;EUR;1;"Störung; Drucker";1.5;HUR;80.00;120.00;S;19.00;'
                "22.80;142.80\r\n")
    assert render_sap_csv(doc) == expected.encode("utf-8")


def test_rates_read_from_the_percent_column_have_two_decimals_in_csv_and_idoc():
    """The Percent column hands back 19.0000; the mapping says 19.00 (and 8.875 keeps its third decimal)."""
    lines = (line(1, "1", "100.00", "19.0000"), line(2, "1", "100.00", "8.8750"))
    doc = document(lines)
    assert [row["TaxRate"] for row in csv_rows(render_sap_csv(doc))] == ["19.00", "8.875"]
    idoc = parse(render_idoc(doc, created_at=CREATED))
    assert [seg.findtext("MSATZ") for seg in idoc.iterfind("E1EDP01/E1EDP04")] == ["19.00", "8.875"]
    assert [seg.findtext("MSATZ") for seg in idoc.findall("E1EDK04")] == ["19.00", "8.875"]


@pytest.mark.parametrize(("delimiter", "separator"), [(";", ","), ("\t", ","), ("|", "."), (",", ".")])
def test_csv_writes_the_contracts_delimiter_and_decimal_separator(delimiter, separator):
    doc = german()
    data = render_sap_csv(doc, delimiter=delimiter, decimal_separator=separator)
    header = data.decode("utf-8-sig").split("\r\n", 1)[0]
    assert tuple(header.split(delimiter)) == COLUMNS
    row = csv_rows(data, delimiter)[0]
    numbers = ("Quantity", "UnitPrice", "NetAmount", "TaxRate", "TaxAmount", "GrossAmount")
    assert [row[column] for column in numbers] == [
        text.replace(".", separator) for text in ("2.5", "80.00", "200.00", "19.00", "38.00", "238.00")]
    assert (row["DocumentDate"], row["Line"]) == ("20261201", "1")  # not numbers with decimals: untouched


@pytest.mark.parametrize(("delimiter", "separator", "message"), [
    (",", ",", "must differ"), (":", ".", "delimiter must be one of"), (";", "'", "decimal separator must be one of"),
])
def test_csv_refuses_a_format_sap_could_not_read_back(delimiter, separator, message):
    with pytest.raises(ValueError, match=message):
        render_sap_csv(german(), delimiter=delimiter, decimal_separator=separator)


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1"])
def test_csv_neutralises_formula_injection(text):
    doc = document((line(1, "1", "10.00", "19", description=text),), number="=cmd|' /C calc'!A0",
                   sap_company_code="@1000")
    (row,) = csv_rows(render_sap_csv(doc))
    for column in ("Description", "DocumentNumber", "CompanyCode"):
        assert not row[column].startswith(FORMULA_STARTS), (column, row[column])
    assert row["Description"].lstrip("'") == " ".join(text.split())
    assert row["DocumentNumber"] == "'=cmd|' /C calc'!A0"
