"""SAP upload CSV: one header row and one row per document line; semicolons, UTF-8 with BOM.

Columns (docs/sap_mapping.md has the full mapping):
  CompanyCode    Document.sap_company_code (BUKRS)
  Partner        buyer's SAP partner code (KUNNR)
  DocumentNumber Document.number
  DocumentDate   issue date, YYYYMMDD
  Currency       ISO 4217
  Line           line number
  Description    line description, on one line
  Quantity       dot decimal
  Unit           UN/ECE rec. 20 code
  UnitPrice      dot decimal, at least the currency's minor units
  NetAmount      line net
  TaxCode        UNCL5305 tax category (S, AE, E, Z), the same code as IDoc MWSKZ
  TaxRate        percent, two decimals at least
  TaxAmount      line tax
  GrossAmount    NetAmount + TaxAmount (Decimal addition)
Numbers use a dot, no thousands separator, and never pass through float. Text cells are neutralised
against formula injection; number cells are not (a negative amount must stay a number).
"""

from __future__ import annotations

import csv
import io

from portal.exports.cells import neutralise_formula
from portal.exports.document import Document, Line
from portal.exports.sap_common import decimal_text, money_text, rate_text, sap_date, single_line, tax_category
from portal.money import minor_units

COLUMNS = (
    "CompanyCode", "Partner", "DocumentNumber", "DocumentDate", "Currency", "Line", "Description", "Quantity",
    "Unit", "UnitPrice", "NetAmount", "TaxCode", "TaxRate", "TaxAmount", "GrossAmount",
)


def render_sap_csv(document: Document) -> bytes:
    """Render the document's lines as the SAP upload CSV (bytes, UTF-8 with BOM, CRLF line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(_row(document, line) for line in document.lines)
    return buffer.getvalue().encode("utf-8-sig")


def _text(value: str) -> str:
    """A text cell: one line, formula prefixes neutralised."""
    return neutralise_formula(single_line(value))


def _row(document: Document, line: Line) -> list[str]:
    """One CSV row for one line, in COLUMNS order."""
    currency = document.currency
    return [
        _text(document.sap_company_code),
        _text(document.buyer.sap_partner_code),
        _text(document.number),
        sap_date(document.issue_date),
        _text(currency),
        str(line.number),
        _text(line.description),
        decimal_text(line.quantity),
        _text(line.unit),
        decimal_text(line.unit_price, minor_units(currency)),
        money_text(line.net_amount, currency),
        _text(tax_category(document, line.tax_rate)),
        rate_text(line.tax_rate),
        money_text(line.tax_amount, currency),
        money_text(line.net_amount + line.tax_amount, currency),
    ]
