"""The customer ledger (statement of account) as CSV, streamed XLSX and PDF, from plain values only."""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import BinaryIO, TextIO

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import ImmutableSandboxedEnvironment
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from portal.exports.cells import neutralise_formula
from portal.money import display, minor_units

# Seed 004's dataset columns, in order; a row is any sequence whose first eight items are these.
COLUMNS = ("sl_num", "date", "particulars", "narration", "products", "debit", "credit", "balance")
HEADINGS = ("Sl. no.", "Date", "Particulars", "Narration", "Products", "Debit", "Credit", "Balance")
TEXT_COLUMNS = (2, 3, 4)  # particulars, narration, products: free text, neutralised against formulas
COLUMN_WIDTHS = (8, 12, 30, 44, 36, 16, 16, 16)
PDF_WIDTHS = (5, 9, 17, 25, 17, 9, 9, 9)  # percent of the landscape page
OPENING, TOTAL, CLOSING = "Opening balance", "Total", "Closing balance"


@dataclass(frozen=True)
class LedgerHeader:
    """Who, when and in what the statement is: printed above the entries."""

    customer_code: str
    customer_name: str
    currency: str  # the currency of every figure
    start: date
    end: date
    opening_debit: Decimal
    opening_credit: Decimal
    note: str = ""  # e.g. "USD at each entry's historical rate, from EUR"

    @property
    def opening_balance(self) -> Decimal:
        """Positive when the customer owed at the start."""
        return self.opening_debit - self.opening_credit


@dataclass(frozen=True)
class LedgerTotals:
    """Below the entries: opening + the range's debits and credits, and the closing on its side (seed 004)."""

    total_debit: Decimal
    total_credit: Decimal
    closing_debit: Decimal
    closing_credit: Decimal

    @property
    def closing_balance(self) -> Decimal:
        """Positive when the customer owes at the end."""
        return self.closing_debit - self.closing_credit


def _opening_row(header: LedgerHeader) -> tuple:
    return ("", header.start, OPENING, "", "", header.opening_debit, header.opening_credit, header.opening_balance)


def _closing_rows(header: LedgerHeader, totals: LedgerTotals) -> tuple[tuple, tuple]:
    return (("", None, TOTAL, "", "", totals.total_debit, totals.total_credit, None),
            ("", header.end, CLOSING, "", "", totals.closing_debit, totals.closing_credit, totals.closing_balance))


def write_csv(out: TextIO, header: LedgerHeader, rows: Iterable[Sequence], totals: LedgerTotals) -> None:
    """The columns of seed 004, then the opening, the entries, the total and the closing, as plain text."""
    places = minor_units(header.currency)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerow(_csv_row(_opening_row(header), places))
    for row in rows:
        writer.writerow(_csv_row(row, places))
    writer.writerows(_csv_row(row, places) for row in _closing_rows(header, totals))


def _csv_row(row: Sequence, places: int) -> list:
    return [_csv_value(value, places) for value in row[:len(COLUMNS)]]


def _csv_value(value, places: int):
    """Amounts in plain notation at the currency's decimals, dates ISO, text made safe for spreadsheets."""
    if isinstance(value, Decimal):
        return f"{value:.{places}f}"
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else neutralise_formula(value)


def write_xlsx(out: BinaryIO, header: LedgerHeader, rows: Iterable[Sequence], totals: LedgerTotals) -> int:
    """A streamed workbook (openpyxl write-only) into `out`: header block, entries, totals; returns the entries.

    Entries are written as plain values, without a style per cell: a number format on every amount cell costs
    about 40 % more time than the whole bare write (measured), so only the header and total rows carry one.
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Ledger")
    block = _xlsx_header(sheet, header)
    # A write-only sheet writes its view and columns with the first row: set them before appending.
    for index, width in enumerate(COLUMN_WIDTHS):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    sheet.freeze_panes = f"A{len(block) + 1}"  # the headings stay in view
    for line in block:
        sheet.append(line)
    sheet.append(_emphasised(sheet, _opening_row(header), header.currency))
    count = 0
    for row in rows:
        sheet.append(_xlsx_row(row))
        count += 1
    for row in _closing_rows(header, totals):
        sheet.append(_emphasised(sheet, row, header.currency))
    workbook.save(out)
    return count


def _xlsx_header(sheet, header: LedgerHeader) -> list[list]:
    """The rows above the entries: title, customer, period, currency, a gap, the column headings."""
    title = WriteOnlyCell(sheet, value="Statement of account")
    title.font = Font(bold=True, size=14)
    headings = []
    for text in HEADINGS:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = Font(bold=True)
        headings.append(cell)
    return [[title], ["Customer", neutralise_formula(f"{header.customer_code} — {header.customer_name}")],
            ["Period", f"{header.start.isoformat()} to {header.end.isoformat()}"],
            ["Currency", neutralise_formula(header.note or header.currency)], [], headings]


def _xlsx_row(row: Sequence) -> tuple:
    """An entry as plain cell values: only the free-text columns need neutralising."""
    sl_num, day, particulars, narration, products, debit, credit, balance = row[:8]
    return (sl_num, day, neutralise_formula(particulars), neutralise_formula(narration),
            neutralise_formula(products), debit, credit, balance)


def _emphasised(sheet, row: Sequence, currency: str) -> list:
    """An opening, total or closing row: bold label, amounts with thousands separators and the currency's
    decimals."""
    places = minor_units(currency)
    number_format = "#,##0" + ("." + "0" * places if places else "")
    cells = []
    for index, value in enumerate(row[:8]):
        cell = WriteOnlyCell(sheet, value=None if value == "" else value)
        if isinstance(value, Decimal):
            cell.number_format = number_format
        if index == 2:
            cell.font = Font(bold=True)
        cells.append(cell)
    return cells


PDF_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Statement of account {{ h.customer_code }}</title>
<style>
  @page { size: a4 landscape; margin: 14mm 12mm 16mm 12mm; }
  body { font-size: 8pt; color: #1f2933; }
  h1 { font-size: 14pt; color: #12355b; margin: 0 0 4pt 0; }
  table.entries { width: 100%; }
  table.entries th { text-align: left; border-bottom: 1pt solid #12355b; padding: 2pt; }
  table.entries td { vertical-align: top; padding: 2pt; border-bottom: 0.25pt solid #d5dbe1; }
  .num { text-align: right; }
  .strong { font-weight: bold; }
  .meta td { padding: 1pt 6pt 1pt 0; }
</style></head><body>
<h1>Statement of account</h1>
<table class="meta">
  <tr><td>Customer</td><td class="strong">{{ h.customer_code }} — {{ h.customer_name }}</td></tr>
  <tr><td>Period</td><td>{{ h.start.isoformat() }} to {{ h.end.isoformat() }}</td></tr>
  <tr><td>Currency</td><td>{{ h.note or h.currency }}</td></tr>
</table>
<table class="entries" repeat="1">
  <tr>{% for heading in headings %}<th width="{{ widths[loop.index0] }}%"{% if loop.index > 5 %} class="num"{% endif %}>
    {{- heading }}</th>{% endfor %}</tr>
  {% for row in rows %}
  <tr class="{{ row.css }}"><td>{{ row.cells[0] }}</td><td>{{ row.cells[1] }}</td><td>{{ row.cells[2] }}</td>
    <td>{{ row.cells[3] }}</td><td>{{ row.cells[4] }}</td><td class="num">{{ row.cells[5] }}</td>
    <td class="num">{{ row.cells[6] }}</td><td class="num">{{ row.cells[7] }}</td></tr>
  {% endfor %}
</table>
</body></html>
"""


@dataclass(frozen=True)
class _PdfRow:
    cells: tuple[str, ...]
    css: str = ""


def render_html(header: LedgerHeader, rows: Iterable[Sequence], totals: LedgerTotals) -> str:
    """The statement as HTML for xhtml2pdf: amounts grouped with thousands separators (portal.money.display)."""
    currency = header.currency
    printed = [_PdfRow(_pdf_cells(_opening_row(header), currency), "strong")]
    printed += [_PdfRow(_pdf_cells(row, currency)) for row in rows]
    printed += [_PdfRow(_pdf_cells(row, currency), "strong") for row in _closing_rows(header, totals)]
    return _template().render(h=header, headings=HEADINGS, widths=PDF_WIDTHS, rows=printed)


def _pdf_cells(row: Sequence, currency: str) -> tuple[str, ...]:
    return tuple(_pdf_text(value, currency) for value in row[:len(COLUMNS)])


def _pdf_text(value, currency: str) -> str:
    if isinstance(value, Decimal):
        return display(value, currency, code=False)
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def write_pdf(header: LedgerHeader, rows: Iterable[Sequence], totals: LedgerTotals) -> bytes:
    """The statement as a PDF (A4 landscape, the embedded DejaVu font of portal.exports.pdf)."""
    from portal.exports import pdf  # xhtml2pdf takes ~0.4 s to import: only the PDF path pays for it

    return pdf.html_to_pdf(render_html(header, rows, totals))


@functools.cache
def _template() -> Template:
    """Sandboxed and autoescaped: narrations and names are customer and payer text."""
    environment = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                                                lstrip_blocks=True)
    return environment.from_string(PDF_TEMPLATE)
