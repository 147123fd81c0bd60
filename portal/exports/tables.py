"""Lists as CSV (streamed, a chunk per row) and XLSX (write-only), with formula-safe text: the proforma list's and
the payments' exports write through these."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from portal.exports.cells import neutralise_formula


def csv_chunks(rows: Iterable[tuple]) -> Iterator[str]:
    """The rows (the header first) as CSV text, one chunk per row, so a response or a file can stream them."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_text_cell(value) for value in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _text_cell(value):
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return neutralise_formula(value)


def xlsx_bytes(rows: Iterable[tuple], title: str) -> bytes:
    """The rows as an XLSX workbook with one sheet `title`: the header bold and frozen, amounts as numbers with
    thousands separators (and the decimals a rate has), dates as dates."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    sheet.freeze_panes = "A2"
    rows = iter(rows)
    header = [WriteOnlyCell(sheet, value=heading) for heading in next(rows)]
    for cell in header:
        cell.font = Font(bold=True)
    sheet.append(header)
    for row in rows:
        sheet.append([_sheet_cell(sheet, value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _sheet_cell(sheet, value):
    if isinstance(value, Decimal):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "#,##0.00######" if value.as_tuple().exponent < -2 else "#,##0.00"
        return cell
    if isinstance(value, datetime):  # the sheet has no time zones: keep a UTC moment as text
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    return neutralise_formula(value)
