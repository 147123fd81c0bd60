"""SAP upload CSV: one header row and one row per document line; UTF-8 with BOM, `;` and `.` unless chosen.

Columns (docs/sap_mapping.md has the full mapping):
  CompanyCode    Document.sap_company_code (BUKRS)
  Partner        buyer's SAP partner code (KUNNR)
  DocumentNumber Document.number
  DocumentDate   issue date, YYYYMMDD
  Currency       ISO 4217
  Line           line number
  Description    line description, on one line
  Quantity       decimal, as given
  Unit           UN/ECE rec. 20 code
  UnitPrice      decimal, at least the currency's minor units
  NetAmount      line net
  TaxCode        UNCL5305 tax category (S, AE, E, Z), the same code as IDoc MWSKZ
  TaxRate        percent, two decimals at least
  TaxAmount      line tax
  GrossAmount    NetAmount + TaxAmount (Decimal addition)
Numbers use the chosen decimal separator (a dot by default), no thousands separator, and never pass through
float. The delimiter and decimal separator are the contract's (Contract.csv_delimiter, csv_decimal_separator).
Text cells are neutralised against formula injection; number cells are not (a negative amount must stay a number).
"""

from __future__ import annotations

import csv
import functools
import io

from portal.exports.cells import neutralise_formula
from portal.exports.document import Document, Line
from portal.exports.sap_common import decimal_text, money_text, rate_text, sap_date, single_line, tax_category
from portal.money import minor_units

COLUMNS = (
    "CompanyCode", "Partner", "DocumentNumber", "DocumentDate", "Currency", "Line", "Description", "Quantity",
    "Unit", "UnitPrice", "NetAmount", "TaxCode", "TaxRate", "TaxAmount", "GrossAmount",
)
DELIMITERS = (";", ",", "\t", "|")  # a contract's choice (Contract.csv_delimiter); ";" unless it chooses
DECIMAL_SEPARATORS = (".", ",")


def render_sap_csv(document: Document, *, delimiter: str = ";", decimal_separator: str = ".") -> bytes:
    """Render the document's lines as the SAP upload CSV (bytes, UTF-8 with BOM, CRLF line ends)."""
    check_format(delimiter, decimal_separator)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(_row(document, line, decimal_separator) for line in document.lines)
    return buffer.getvalue().encode("utf-8-sig")


def check_format(delimiter: str, decimal_separator: str) -> None:
    """Raise ValueError unless the pair is one SAP can read back: known characters, and not the same one."""
    if delimiter not in DELIMITERS:
        raise ValueError(f"CSV delimiter must be one of {DELIMITERS}, not {delimiter!r}")
    if decimal_separator not in DECIMAL_SEPARATORS:
        raise ValueError(f"CSV decimal separator must be one of {DECIMAL_SEPARATORS}, not {decimal_separator!r}")
    if delimiter == decimal_separator:  # every amount would need quoting and a reader could split it
        raise ValueError(f"CSV delimiter and decimal separator must differ, both are {delimiter!r}")


def _text(value: str) -> str:
    """A text cell: one line, formula prefixes neutralised."""
    return neutralise_formula(single_line(value))


def _number(text: str, separator: str) -> str:
    """A number cell with the chosen decimal separator (the text has a dot and no thousands separator)."""
    return text.replace(".", separator)


def _row(document: Document, line: Line, separator: str) -> list[str]:
    """One CSV row for one line, in COLUMNS order."""
    currency = document.currency
    number = functools.partial(_number, separator=separator)
    return [
        _text(document.sap_company_code),
        _text(document.buyer.sap_partner_code),
        _text(document.number),
        sap_date(document.issue_date),
        _text(currency),
        str(line.number),
        _text(line.description),
        number(decimal_text(line.quantity)),
        _text(line.unit),
        number(decimal_text(line.unit_price, minor_units(currency))),
        number(money_text(line.net_amount, currency)),
        _text(tax_category(document, line.tax_rate)),
        number(rate_text(line.tax_rate)),
        number(money_text(line.tax_amount, currency)),
        number(money_text(line.net_amount + line.tax_amount, currency)),
    ]
