"""The ledger exports from plain values: CSV columns and rows, the streamed XLSX read back, the PDF's text."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from portal.exports.ledger import COLUMNS, LedgerHeader, LedgerTotals, render_html, write_csv, write_pdf, write_xlsx

pytestmark = pytest.mark.no_db

HEADER = LedgerHeader("ACME", "ООО «Ромашка» & Co", "EUR", date(2026, 1, 1), date(2026, 3, 31),
                      Decimal("1000.00"), Decimal("0"))
ROWS = [
    (1, date(2026, 1, 10), "Invoice INV-2026-000001", "Contract K-1", "Service desk", Decimal("1234567.89"),
     Decimal("0.00"), Decimal("1235567.89"), "EUR"),
    (2, date(2026, 2, 5), "Payment PAY-7", "=HYPERLINK(\"http://evil\")", "", Decimal("0.00"),
     Decimal("1236580.00"), Decimal("-1012.11"), "EUR"),
]
TOTALS = LedgerTotals(Decimal("1235567.89"), Decimal("1236580.00"), Decimal("0"), Decimal("1012.11"))


def as_decimal(value) -> Decimal:
    """openpyxl reads numbers back as int or float: through their text, never through float arithmetic."""
    return Decimal(str(value))


def test_csv_columns_opening_entries_totals_and_closing():
    out = io.StringIO()
    write_csv(out, HEADER, iter(ROWS), TOTALS)
    lines = list(csv.reader(io.StringIO(out.getvalue())))

    assert lines[0] == ["sl_num", "date", "particulars", "narration", "products", "debit", "credit", "balance"]
    assert tuple(lines[0]) == COLUMNS
    assert lines[1] == ["", "2026-01-01", "Opening balance", "", "", "1000.00", "0.00", "1000.00"]
    assert lines[2] == ["1", "2026-01-10", "Invoice INV-2026-000001", "Contract K-1", "Service desk", "1234567.89",
                        "0.00", "1235567.89"]
    assert lines[3][3] == "'=HYPERLINK(\"http://evil\")"  # text that a spreadsheet would run is neutralised
    assert lines[3][7] == "-1012.11"  # a negative amount is a number, not a formula
    assert lines[4] == ["", "", "Total", "", "", "1235567.89", "1236580.00", ""]
    assert lines[5] == ["", "2026-03-31", "Closing balance", "", "", "0.00", "1012.11", "-1012.11"]
    assert len(lines) == 6 and all(len(line) == 8 for line in lines)


def test_csv_amounts_follow_the_currencys_decimals():
    header = LedgerHeader("JP", "Tokyo KK", "JPY", date(2026, 1, 1), date(2026, 1, 31), Decimal("0"), Decimal("0"))
    out = io.StringIO()
    write_csv(out, header, [(1, date(2026, 1, 5), "Invoice", "", "", Decimal("15000.00"), Decimal("0.00"),
                             Decimal("15000.00"))], LedgerTotals(Decimal("15000"), Decimal("0"), Decimal("15000"),
                                                                 Decimal("0")))
    assert out.getvalue().splitlines()[2] == "1,2026-01-05,Invoice,,,15000,0,15000"


def test_xlsx_reads_back_with_the_header_block_entries_and_totals():
    out = io.BytesIO()
    written = write_xlsx(out, HEADER, (row for row in ROWS), TOTALS)  # a generator: streamed, read once
    assert written == 2
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    values = [list(row) for row in sheet.iter_rows(values_only=True)]

    assert sheet.title == "Ledger" and sheet.freeze_panes == "A7"
    assert values[0][0] == "Statement of account"
    assert values[1][:2] == ["Customer", "ACME — ООО «Ромашка» & Co"]
    assert values[2][:2] == ["Period", "2026-01-01 to 2026-03-31"]
    assert values[3][:2] == ["Currency", "EUR"]
    assert values[5] == ["Sl. no.", "Date", "Particulars", "Narration", "Products", "Debit", "Credit", "Balance"]
    assert values[6][2] == "Opening balance" and [as_decimal(v) for v in values[6][5:]] == \
        [Decimal("1000.00"), Decimal("0"), Decimal("1000.00")]
    entry = values[7]
    assert entry[:5] == [1, entry[1], "Invoice INV-2026-000001", "Contract K-1", "Service desk"]
    assert entry[1].date() == date(2026, 1, 10)
    assert [as_decimal(v) for v in entry[5:]] == [Decimal("1234567.89"), Decimal("0"), Decimal("1235567.89")]
    assert values[8][3] == "'=HYPERLINK(\"http://evil\")"
    assert sheet.cell(row=9, column=4).data_type == "s"  # stored as text, not as a formula
    assert [values[9][2], *map(as_decimal, values[9][5:7])] == ["Total", Decimal("1235567.89"),
                                                                Decimal("1236580.00")]
    assert values[10][2] == "Closing balance" and values[10][1].date() == date(2026, 3, 31)
    assert [as_decimal(v) for v in values[10][5:]] == [Decimal("0"), Decimal("1012.11"), Decimal("-1012.11")]
    assert sheet.cell(row=11, column=8).number_format == "#,##0.00"
    assert len(values) == 11


def test_xlsx_of_an_empty_period_still_has_opening_and_closing():
    out = io.BytesIO()
    assert write_xlsx(out, HEADER, [], LedgerTotals(Decimal("1000.00"), Decimal("0"), Decimal("1000.00"),
                                                    Decimal("0"))) == 0
    values = list(load_workbook(io.BytesIO(out.getvalue())).active.iter_rows(values_only=True))
    assert [row[2] for row in values[6:]] == ["Opening balance", "Total", "Closing balance"]


def test_html_escapes_text_and_groups_amounts():
    html = render_html(HEADER, [(3, date(2026, 3, 1), "Payment", "<script>alert(1)</script>", "", Decimal("0.00"),
                                 Decimal("5.00"), Decimal("995.00"))], TOTALS)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "ООО «Ромашка» &amp; Co" in html
    assert "1,235,567.89" in html and "1,012.11" in html


def test_pdf_text_holds_the_closing_figures_and_the_cyrillic_name():
    pdf = write_pdf(HEADER, ROWS, TOTALS)
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert pdf.startswith(b"%PDF")
    assert "Closing balance" in text and "1,012.11" in text and "-1,012.11" in text
    assert "1,236,580.00" in text and "1,235,567.89" in text
    assert "Ромашка" in text and "Opening balance" in text
