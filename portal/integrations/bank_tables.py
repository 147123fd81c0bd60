"""CSV and XLSX bank statements read through a column mapping (remembered per account by the import service) into
the transactions camt.053 and MT940 give; a row that cannot be read becomes a RowError naming its line and column,
a file that cannot be read at all a BankFileError. Plain data in and out: no database."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime
from decimal import Decimal

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from portal.errors import ValidationError
from portal.integrations import untrusted
from portal.integrations.bank_transactions import CREDIT, DEBIT, BankFileError, Transaction
from portal.money import parse

Column = str | int  # a header's title, or the column's number counted from 1
DELIMITERS = (";", ",", "\t", "|")
ENCODINGS = ("", "utf-8", "windows-1252")  # "": UTF-8 (with or without a BOM) if it is, else Windows-1252
SEPARATORS = {"decimal": (".", ","), "thousands": ("", ".", ",", " ", "'")}
# A workbook unpacks to several times its size; past this it is a ZIP bomb, not a bank's export.
MAX_UNPACKED_BYTES = 4 * untrusted.MAX_FILE_BYTES
_CURRENCY_SIGNS = re.compile(r"[€£$]")


class MappingError(ValueError):
    """A mapping that cannot read any file; `field` names the setting."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass(frozen=True)
class RowError:
    """A row that cannot become a transaction: where it is, which column, what is wrong."""

    where: str  # "line 7" (CSV) or "row 7" (XLSX)
    column: str  # "Betrag", or "column 5" when the file has no titles
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.column}: {self.message}"


@dataclass(frozen=True)
class TableMapping:
    """How one bank account's CSV or XLSX statements are laid out."""

    date_column: Column  # the booking date
    amount_column: Column | None = None  # one signed amount: below zero is money out
    debit_column: Column | None = None  # or two columns: money out (Soll, Paid out) and in (Haben, Paid in)
    credit_column: Column | None = None
    value_date_column: Column | None = None
    currency_column: Column | None = None
    currency: str = ""  # the currency of every row, when the file has no currency column
    payer_name_column: Column | None = None
    payer_iban_column: Column | None = None
    reference_column: Column | None = None
    text_columns: tuple[Column, ...] = ()  # joined with spaces into the remittance text
    date_formats: tuple[str, ...] = ("%d.%m.%Y",)  # strptime formats, tried in order
    decimal_separator: str = "."
    thousands_separator: str = ""
    delimiter: str = ""  # CSV; "": the most frequent of ; , tab | in the header line
    encoding: str = ""
    header_row: int = 1  # the line (CSV) or row (XLSX) of the column titles; 0: none, columns by number
    footer_rows: int = 0  # trailing rows that are no transactions (a closing balance)
    sheet: str = ""  # XLSX: the sheet's name; the first sheet if empty

    @classmethod
    def from_dict(cls, data: dict) -> TableMapping:
        """A mapping from its stored or typed form (JSON: lists for the tuples); MappingError names a bad setting."""
        if not isinstance(data, dict):
            raise MappingError("mapping", "must be a set of named settings")
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise MappingError(unknown[0].replace("_", " "), "is not a setting of a column mapping")
        values = {name: _column(value) if name.endswith("_column") else value for name, value in data.items()}
        for name in ("text_columns", "date_formats"):
            if name in values:
                raw = values[name]
                values[name] = (raw,) if isinstance(raw, (str, int)) else tuple(raw or ())
        values["text_columns"] = tuple(_column(value) for value in values.get("text_columns", ()))
        try:
            mapping = cls(**values)
        except TypeError:
            raise MappingError("date column", "is required") from None
        mapping.check()
        return mapping

    def as_dict(self) -> dict:
        """The mapping as JSON-ready settings, for BankImportMapping.settings."""
        values = asdict(self)
        values["text_columns"], values["date_formats"] = list(self.text_columns), list(self.date_formats)
        return values

    def check(self) -> None:
        """Raise MappingError naming the first setting that cannot work."""
        for name, message in self._problems():
            raise MappingError(name, message)

    def _problems(self) -> Iterator[tuple[str, str]]:
        yield from self._column_problems()
        if self.amount_column is None and (self.debit_column is None or self.credit_column is None):
            yield "amount column", "map one signed amount column, or both a debit and a credit column"
        if self.amount_column is not None and (self.debit_column is not None or self.credit_column is not None):
            yield "amount column", "map either one signed amount column or debit and credit columns, not both"
        if self.currency_column is None and not re.fullmatch(r"[A-Z]{3}", self.currency or ""):
            yield "currency", "give the three-letter currency of the file, or map a currency column"
        if not self.date_formats or not all(isinstance(f, str) and "%" in f for f in self.date_formats):
            yield "date formats", "give at least one date format, such as %d.%m.%Y"
        yield from self._format_problems()

    def _column_problems(self) -> Iterator[tuple[str, str]]:
        for name, column in self._columns():
            if isinstance(column, bool) or not isinstance(column, (str, int)) or column in ("", 0) or (
                    isinstance(column, int) and column < 0):
                yield name, "must be a column title or a column number from 1"
            elif self.header_row == 0 and not isinstance(column, int):
                yield name, "must be a column number: the file has no title row"

    def _format_problems(self) -> Iterator[tuple[str, str]]:
        if self.decimal_separator not in SEPARATORS["decimal"]:
            yield "decimal separator", "must be . or ,"
        if self.thousands_separator not in SEPARATORS["thousands"] or \
                self.thousands_separator == self.decimal_separator:
            yield "thousands separator", "must be none, . , a space or ' and differ from the decimal separator"
        if self.delimiter not in ("", *DELIMITERS):
            yield "delimiter", "must be ; , tab or |"
        if self.encoding not in ENCODINGS:
            yield "encoding", "must be utf-8 or windows-1252 (or left empty to be told by the file)"
        for name in ("header_row", "footer_rows"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
                yield name.replace("_", " "), "must be a whole number from 0 to 100"

    def _columns(self) -> Iterator[tuple[str, Column]]:
        for name in ("date_column", "amount_column", "debit_column", "credit_column", "value_date_column",
                     "currency_column", "payer_name_column", "payer_iban_column", "reference_column"):
            if getattr(self, name) is not None:
                yield name.replace("_", " "), getattr(self, name)
        for column in self.text_columns:
            yield "text columns", column


def _column(value):
    """A column as typed into a form: "5" is the fifth column (bank exports title no column with a bare number)."""
    return int(value) if isinstance(value, str) and value.strip().isdigit() else value


def read(content: bytes, mapping: TableMapping, name: str = "", *, account_iban: str = "",
         file_format: str = "csv") -> Iterator[Transaction | RowError]:
    """Each row of a CSV or XLSX statement as a Transaction or a RowError; BankFileError when nothing can be read."""
    label = name or "file"
    untrusted.check_size(len(content), label, BankFileError)
    mapping.check()
    rows = _xlsx_rows(content, mapping, label) if file_format == "xlsx" else _csv_rows(content, mapping, label)
    unit = "row" if file_format == "xlsx" else "line"
    return _transactions(_without_footer(rows, mapping.footer_rows), mapping, label, account_iban, unit)


# ---- CSV ------------------------------------------------------------------------------------------------------


def _csv_rows(content: bytes, mapping: TableMapping, label: str) -> Iterator[tuple[int, list]]:
    text = decoded(content, mapping.encoding, label)
    delimiter = mapping.delimiter or _delimiter(text, mapping.header_row)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    line = 1
    try:
        for cells in reader:
            yield line, cells
            line = reader.line_num + 1  # a quoted cell may span lines: the next row starts after this one
    except csv.Error as exc:
        raise BankFileError(f"{label}: line {line}: not readable as CSV ({exc})") from None


def decoded(content: bytes, encoding: str, label: str) -> str:
    """The text of a CSV file: UTF-8 (BOM or not), else Windows-1252; a NUL byte or an undefined byte is refused."""
    nul = content.find(b"\x00")
    if nul >= 0:
        raise BankFileError(f"{label}: line {_line_of(content, nul)}: a NUL byte: not a text file in UTF-8 or "
                            f"Windows-1252 (UTF-16, or not text at all?)")
    tried = ("utf-8-sig",) if encoding == "utf-8" else ("cp1252",) if encoding else ("utf-8-sig", "cp1252")
    for codec in tried:
        try:
            return content.decode(codec)
        except UnicodeDecodeError as exc:
            failure = exc
    said = "UTF-8" if encoding == "utf-8" else "Windows-1252" if encoding else "UTF-8 or Windows-1252"
    raise BankFileError(f"{label}: line {_line_of(content, failure.start)}: byte "
                        f"0x{content[failure.start]:02x} is not {said} text (check the mapping's encoding)")


def _line_of(content: bytes, offset: int) -> int:
    return content.count(b"\n", 0, offset) + 1


def _delimiter(text: str, header_row: int) -> str:
    """The delimiter most frequent in the title line (the first line when there are no titles)."""
    lines = text.splitlines()[max(header_row, 1) - 1: max(header_row, 1)]
    line = lines[0] if lines else ""
    counts = {mark: line.count(mark) for mark in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


# ---- XLSX -----------------------------------------------------------------------------------------------------


def _xlsx_rows(content: bytes, mapping: TableMapping, label: str) -> Iterator[tuple[int, tuple]]:
    _check_archive(content, label)
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises what zipfile, its XML parser and its own checks raise
        raise BankFileError(f"{label}: not a readable XLSX workbook ({type(exc).__name__})") from None
    try:
        sheet = _sheet(workbook, mapping.sheet, label)
        sheet.reset_dimensions()  # a wrong <dimension> in the file would cut rows off
        number = 0
        try:
            for number, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
                yield number, list(values)
        except Exception as exc:  # a sheet cut short or broken inside a sound ZIP archive
            raise BankFileError(f"{label}: sheet {sheet.title}: row {number + 1}: cannot be read "
                                f"({type(exc).__name__})") from None
    finally:
        workbook.close()


def _check_archive(content: bytes, label: str) -> None:
    """Refuse a ZIP bomb and any part declaring a DTD (entities) before openpyxl parses a byte of it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
        untrusted.check_size(sum(m.file_size for m in members), f"{label}: unpacked", BankFileError,
                             MAX_UNPACKED_BYTES)
        for member in members:
            if member.filename.endswith((".xml", ".rels")):
                with archive.open(member) as part:
                    if b"<!DOCTYPE" in part.read(4096).upper():
                        raise BankFileError(f"{label}: {member.filename}: declares a DTD (<!DOCTYPE>, entities), "
                                            f"which no spreadsheet program writes")
    except BankFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, RuntimeError, ValueError) as exc:
        raise BankFileError(f"{label}: not a readable XLSX workbook (the ZIP archive is broken or cut "
                            f"short: {exc})") from None


def _sheet(workbook, name: str, label: str):
    if not name:
        return workbook.worksheets[0]
    if name not in workbook.sheetnames:
        raise BankFileError(f"{label}: no sheet “{name}” (the workbook has {', '.join(workbook.sheetnames)})")
    return workbook[name]


# ---- rows into transactions ------------------------------------------------------------------------------------


def _without_footer(rows: Iterable[tuple[int, list]], count: int) -> Iterator[tuple[int, list]]:
    """The rows but the last `count` that are not blank (a closing balance), read as a stream."""
    held: deque = deque()
    for row in rows:
        if count and _blank(row[1]):
            continue
        held.append(row)
        if len(held) > count:
            yield held.popleft()


def _blank(cells: list) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def _transactions(rows: Iterator[tuple[int, list]], mapping: TableMapping, label: str, account_iban: str,
                  unit: str) -> Iterator[Transaction | RowError]:
    columns = None if mapping.header_row else _Columns.numbered(mapping, unit)
    for number, cells in rows:
        if columns is None:
            if number == mapping.header_row:
                columns = _Columns.titled(mapping, cells, f"{label}: {unit} {number}", unit)
            elif number > mapping.header_row:
                raise BankFileError(f"{label}: {unit} {mapping.header_row}: no title row there")
            continue
        if not _blank(cells):
            yield _Row(columns, cells, f"{unit} {number}").transaction(mapping, account_iban)
    if columns is None:
        raise BankFileError(f"{label}: {unit} {mapping.header_row}: no title row (the file ends before it)")


@dataclass(frozen=True)
class _Columns:
    """Where each mapped column is in a row (0-based) and how errors name it."""

    index: dict[Column, int]
    label: dict[Column, str]

    @classmethod
    def numbered(cls, mapping: TableMapping, unit: str) -> _Columns:
        refs = [column for _, column in mapping._columns()]
        letter = get_column_letter if unit == "row" else str
        return cls({c: c - 1 for c in refs}, {c: f"column {letter(c)}" for c in refs})

    @classmethod
    def titled(cls, mapping: TableMapping, header: list, where: str, unit: str) -> _Columns:
        titles = [_title(cell) for cell in header]
        index, label = {}, {}
        for _, column in mapping._columns():
            if isinstance(column, int):
                index[column] = column - 1
                label[column] = f"column {get_column_letter(column) if unit == 'row' else column}"
                continue
            if _title(column) not in titles:
                shown = ", ".join(f"“{' '.join(str(t).split())}”" for t in header if t)[:300] or "no titles"
                raise BankFileError(f"{where}: no column “{column}” in the title row (it has {shown}); "
                                    f"is this the file of another bank or format?")
            index[column], label[column] = titles.index(_title(column)), str(column)
        return cls(index, label)


def _title(value) -> str:
    return " ".join(str(value or "").replace("\ufeff", "").split()).casefold()


class _Row:
    """One row's cells read through the mapping; the first problem becomes a RowError."""

    def __init__(self, columns: _Columns, cells: list, where: str):
        self.columns, self.cells, self.where = columns, cells, where

    def transaction(self, mapping: TableMapping, account_iban: str) -> Transaction | RowError:
        try:
            return self._read(mapping, account_iban)
        except _Problem as problem:
            return RowError(self.where, problem.column, problem.message)

    def _read(self, mapping: TableMapping, account_iban: str) -> Transaction:
        currency = self._currency(mapping)
        signed = self._signed_amount(mapping, currency)
        booked = self._date(mapping.date_column, mapping.date_formats, required=True)
        valued = self._date(mapping.value_date_column, mapping.date_formats) if mapping.value_date_column else None
        text = " ".join(part for part in (self.text(c) for c in mapping.text_columns) if part)
        return Transaction(
            statement="", account_iban=account_iban, direction=CREDIT if signed > 0 else DEBIT, amount=abs(signed),
            currency=currency, booking_date=booked, value_date=valued or booked, status="BOOK",
            bank_reference=self.text(mapping.reference_column), end_to_end_id="",
            counterparty_name=self.text(mapping.payer_name_column),
            counterparty_iban=self.text(mapping.payer_iban_column).replace(" ", "").upper(), text=text,
            where=self.where)

    def cell(self, column: Column | None):
        if column is None:
            return None
        position = self.columns.index[column]
        if position >= len(self.cells):
            raise _Problem(self.columns.label[column], f"missing (the row has {len(self.cells)} cells)")
        return self.cells[position]

    def text(self, column: Column | None) -> str:
        value = self.cell(column)
        if value is None:
            return ""
        if isinstance(value, float):
            value = _float_text(value)
        return " ".join(str(value).split())

    def _currency(self, mapping: TableMapping) -> str:
        if mapping.currency_column is None:
            return mapping.currency
        code = self.text(mapping.currency_column).upper()
        if not re.fullmatch(r"[A-Z]{3}", code):
            raise _Problem(self.columns.label[mapping.currency_column], f"“{code}” is not a three-letter currency")
        return code

    def _signed_amount(self, mapping: TableMapping, currency: str) -> Decimal:
        if mapping.amount_column is not None:
            value = self._amount(mapping.amount_column, mapping, currency)
            if value is None or value == 0:
                raise _Problem(self.columns.label[mapping.amount_column], "no amount (empty or zero)")
            return value
        money_out = self._amount(mapping.debit_column, mapping, currency)
        money_in = self._amount(mapping.credit_column, mapping, currency)
        debit_label, credit_label = self.columns.label[mapping.debit_column], self.columns.label[mapping.credit_column]
        if money_out and money_in:
            raise _Problem(f"{debit_label}/{credit_label}", "both columns hold an amount")
        if not money_out and not money_in:
            raise _Problem(f"{debit_label}/{credit_label}", "neither column holds an amount")
        return abs(money_in) if money_in else -abs(money_out)

    def _amount(self, column: Column, mapping: TableMapping, currency: str) -> Decimal | None:
        value, label = self.cell(column), self.columns.label[column]
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, (bool, date, datetime)):
            raise _Problem(label, f"“{value}” is not an amount")
        if isinstance(value, (int, float)):  # a number cell of a workbook
            return self._parsed(_float_text(value) if isinstance(value, float) else str(value), label, currency)
        return self._parsed(_plain_number(value, mapping, label), label, currency)

    def _parsed(self, text: str, label: str, currency: str) -> Decimal:
        try:
            return parse(text, label, currency if re.fullmatch(r"[A-Z]{3}", currency) else None)
        except ValidationError as exc:
            raise _Problem(label, exc.message) from None

    def _date(self, column: Column, formats: tuple[str, ...], *, required: bool = False) -> date | None:
        value, label = self.cell(column), self.columns.label[column]
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        text = " ".join(str(value or "").split())
        if not text:
            if required:
                raise _Problem(label, "no date")
            return None
        for pattern in formats:
            try:
                return datetime.strptime(text, pattern).date()
            except ValueError:
                continue
        examples = " or ".join(date(2026, 12, 31).strftime(pattern) for pattern in formats)
        raise _Problem(label, f"“{text}” is not a date like {examples}")


class _Problem(Exception):
    def __init__(self, column: str, message: str):
        super().__init__(message)
        self.column, self.message = column, message


def _float_text(value: float) -> str:
    """A workbook's number as the decimal typed into it: Excel keeps 15 significant digits, so reading the float
    back at 15 digits gives exactly what the bank wrote (never the float's binary tail)."""
    return format(value, ".15g")


def _plain_number(raw: str, mapping: TableMapping, label: str) -> str:
    """The cell's amount in plain notation (-1234.50) after the mapping's separators, or a _Problem.

    The thousands separator must group by three ("1.071,00"), so "12.5" under German separators is an error
    rather than 125; a sign may trail ("89,90-") as some German banks write it; currency signs are dropped.
    """
    text = _CURRENCY_SIGNS.sub("", raw).strip()
    text = re.sub(r"[\s\u00a0\u202f]+", " " if mapping.thousands_separator == " " else "", text)
    if text.startswith("="):
        raise _Problem(label, f"“{raw.strip()[:40]}” is a formula, not an amount")
    sign = ""
    if text and text[0] in "+-":
        sign, text = text[0], text[1:]
    elif text.endswith("-"):
        sign, text = "-", text[:-1]
    thousands = re.escape(mapping.thousands_separator) if mapping.thousands_separator else None
    whole = rf"(?:\d{{1,3}}(?:{thousands}\d{{3}})+|\d+)" if thousands else r"\d+"
    if not re.fullmatch(rf"{whole}(?:{re.escape(mapping.decimal_separator)}\d+)?", text, re.ASCII):
        example = f"1{mapping.thousands_separator}234{mapping.decimal_separator}50"
        raise _Problem(label, f"“{raw.strip()[:40]}” is not an amount like {example}")
    if mapping.thousands_separator:
        text = text.replace(mapping.thousands_separator, "")
    return sign + text.replace(mapping.decimal_separator, ".")
