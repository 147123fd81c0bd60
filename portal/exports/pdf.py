"""The proforma as HTML (Jinja2, autoescaped) and as PDF (xhtml2pdf with an embedded Latin+Cyrillic font)."""

from __future__ import annotations

import functools
import io
import os
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

# Imported at module level on purpose: xhtml2pdf costs ~0.4 s cold, so workers should import it before they fork.
from jinja2 import FileSystemLoader, StrictUndefined, Template
from jinja2.sandbox import ImmutableSandboxedEnvironment
from xhtml2pdf import pisa
from xhtml2pdf.config.resources import ResourceAccessPolicy
from xhtml2pdf.default import DEFAULT_CSS

from portal.exports.document import BankAccount, Document, Line, Party, TaxBreakdown
from portal.exports.payment import grouped_iban, grouped_reference
from portal.exports.sap_common import decimal_text, money_text
from portal.money import minor_units

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "pdf"
TEMPLATE_NAME = "proforma.html"
FONT_FAMILY = "DejaVu Sans"
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")  # regular (required), bold (optional)
FONT_DIR_ENV = "LEDGERFLOW_PDF_FONT_DIR"
# Debian/Ubuntu (fonts-dejavu-core), Fedora, Alpine, Arch, then a locally installed copy.
FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu-sans-fonts", "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF", "/usr/local/share/fonts/dejavu", "/usr/local/share/fonts",
)
# Family names that reach the embedded font too, so a template naming a base-14 face still draws Cyrillic.
FONT_ALIASES = ("sans-serif", "helvetica", "arial", "serif", "times", "times-roman", "times new roman")
CATEGORY_LABELS = {"S": "Standard", "AE": "Reverse charge", "E": "Exempt", "Z": "Zero rated"}
SOURCE_PATTERN = re.compile(r"(?P<ref>[^()]+?) \((?P<detail>[^()]*)\)")  # "INC0012345 (P2, closed 2026-11-03)"
# UN/ECE rec. 20 codes as printed after the quantity (one, several); an unknown code is printed as it is.
UNIT_LABELS = {"C62": ("unit", "units"), "E48": ("service", "services"), "EA": ("each", "each"), "HUR": ("h", "h"),
               "MON": ("month", "months"), "DAY": ("day", "days"), "LS": ("lump sum", "lump sums")}
TAX_RULE_TEXT = {
    "reverse_charge": "Reverse charge: VAT to be accounted for by the recipient (Art. 196 Council Directive "
                      "2006/112/EC).",
    "exempt": "Exempt from VAT.",
}
PROFORMA_TEXT = "PROFORMA — not a tax invoice. This document requests payment; it does not entitle to deduct VAT."


class PdfFontError(RuntimeError):
    """No Cyrillic-capable TrueType font could be found or embedded."""


@dataclass(frozen=True)
class PdfFont:
    """The TrueType files embedded in every PDF."""

    regular: Path
    bold: Path | None

    @property
    def directories(self) -> tuple[Path, ...]:
        """The folders the resource policy must let xhtml2pdf read."""
        return tuple(dict.fromkeys(path.parent for path in (self.regular, self.bold) if path))


def render_html(document: Document, template_source: str | None = None) -> str:
    """Render the proforma to HTML with the project's template, or with an uploaded template's source."""
    template = _compiled(template_source) if template_source is not None else _environment().get_template(TEMPLATE_NAME)
    return template.render(document=document, view=proforma_view(document))


def render_pdf(document: Document, template_source: str | None = None) -> bytes:
    """Render the proforma to a PDF that embeds DejaVu Sans (Latin and Cyrillic)."""
    return html_to_pdf(render_html(document, template_source))


def html_to_pdf(html: str) -> bytes:
    """Convert rendered HTML to PDF bytes; reads only the font and template folders, never the network."""
    font = find_font()
    out = io.BytesIO()
    context = pisa.pisaDocument(html, out, path=str(TEMPLATE_DIR / TEMPLATE_NAME), encoding="utf-8",
                                default_css=DEFAULT_CSS + font_css(font), resource_policy=_policy(font.directories))
    if context.err:
        raise RuntimeError(f"xhtml2pdf reported {context.err} error(s) rendering the proforma")
    if FONT_FAMILY.lower() not in context.fontList:  # xhtml2pdf falls back to Helvetica without failing
        raise PdfFontError(f"{font.regular} was not embedded; the PDF would lose its Cyrillic text")
    return out.getvalue()


def preload() -> None:
    """Register the font with ReportLab (~50 ms of TTF parsing) before workers fork, like the xhtml2pdf import."""
    html_to_pdf("<p>Ledgerflow Ж</p>")


@functools.cache
def find_font() -> PdfFont:
    """Locate DejaVu Sans on this machine (no network); raise PdfFontError when it is missing."""
    override = os.environ.get(FONT_DIR_ENV)
    for directory in (override,) if override else FONT_DIRS:
        regular = Path(directory, FONT_FILES[0])
        if regular.is_file():
            bold = Path(directory, FONT_FILES[1])
            return PdfFont(regular.resolve(), bold.resolve() if bold.is_file() else None)
    searched = override or ", ".join(FONT_DIRS)
    raise PdfFontError(f"{FONT_FILES[0]} not found in {searched}: install the Debian package fonts-dejavu-core "
                       f"or set {FONT_DIR_ENV} to a folder holding {FONT_FILES[0]}")


def font_css(font: PdfFont) -> str:
    """@font-face rules registering the font under its own family name and the generic aliases."""
    families = ", ".join(f'"{name}"' for name in (FONT_FAMILY, FONT_FAMILY.lower(), *FONT_ALIASES))
    # Bold first: xhtml2pdf maps each style a face leaves open to it, so italic then falls back to regular.
    faces = [(font.bold, "bold")] if font.bold else []
    rules = [f'@font-face {{ font-family: {families}; src: url("{path.as_posix()}"); font-weight: {weight}; }}'
             for path, weight in [*faces, (font.regular, "normal")]]
    return "\n".join([*rules, f'html, body {{ font-family: "{FONT_FAMILY}"; }}'])


def proforma_view(document: Document) -> dict:
    """Everything the template prints, already formatted as text (amounts, dates, rates, units)."""
    currency = document.currency
    return {
        "title": f"Proforma invoice {document.number}",
        "issue_date": _date(document.issue_date), "due_date": _date(document.due_date),
        "period": f"{_date(document.period_start)} – {_date(document.period_end)}",
        "seller": _party(document.seller), "buyer": _party(document.buyer),
        "lines": [_line(line, currency) for line in document.lines],
        "taxes": [_tax(tax, currency) for tax in document.taxes],
        "net_total": amount(document.net_total, currency), "tax_total": amount(document.tax_total, currency),
        "gross_total": amount(document.gross_total, currency),
        "payment_terms": _payment_terms(document), "payment": _payment(document),
        "proforma_text": PROFORMA_TEXT, "tax_rule_text": TAX_RULE_TEXT.get(document.tax_rule, ""),
        "reverse_charge": document.tax_rule == "reverse_charge",
    }


def _payment_terms(document: Document) -> str:
    """Within how many days, by which date; the reference itself is printed once, in the payment block."""
    quoting = ", quoting the payment reference" if document.payment_reference else ""
    return f"Payable within {document.payment_terms_days} days, by {_date(document.due_date)}{quoting}."


def _payment(document: Document) -> dict:
    """The account to pay into and the reference to quote, as printed (IBAN and reference in groups of four)."""
    account: BankAccount | None = document.payee_account
    return {"iban": grouped_iban(account) if account else "", "bic": account.bic if account else "",
            "bank_name": account.bank_name if account else "",
            "reference": grouped_reference(document.payment_reference)}


def amount(value: Decimal, currency: str) -> str:
    """An amount with the currency's minor units and thousands separators, e.g. 1,234,567.89; never rounds."""
    return _grouped(money_text(value, currency))


def price(value: Decimal, currency: str) -> str:
    """A unit price: at least the currency's minor units, extra precision kept, thousands separated."""
    return _grouped(decimal_text(value, minor_units(currency)))


def plain_number(value: Decimal) -> str:
    """A quantity or a rate without trailing zeros, e.g. 2.5, 19, 8.875, 1,200."""
    return _grouped(decimal_text(value.normalize()))


def _grouped(text: str) -> str:
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, dot, fraction = digits.partition(".")
    return f"{sign}{int(whole):,}{dot}{fraction}"


def _date(value: date) -> str:
    return value.isoformat()


def _party(party: Party) -> dict:
    place = " ".join(part for part in (party.postcode, party.city) if part)
    return {"name": party.name, "lines": [line for line in (party.street, place, party.country) if line],
            "vat_id": party.vat_id, "email": party.email, "sap_partner_code": party.sap_partner_code}


def _line(line: Line, currency: str) -> dict:
    match = SOURCE_PATTERN.fullmatch(line.source)
    return {"number": line.number, "description": line.description, "source": line.source,
            "source_ref": match["ref"] if match else line.source, "source_detail": match["detail"] if match else "",
            "quantity": plain_number(line.quantity), "unit": unit_label(line.unit, line.quantity),
            "unit_price": price(line.unit_price, currency), "tax_rate": f"{plain_number(line.tax_rate)} %",
            "net_amount": amount(line.net_amount, currency), "tax_amount": amount(line.tax_amount, currency)}


def unit_label(code: str, quantity: Decimal) -> str:
    """The unit as people read it after the quantity: "1 service", "2.5 h", "25 units"."""
    one, several = UNIT_LABELS.get(code, (code, code))
    return one if quantity == 1 else several


def _tax(tax: TaxBreakdown, currency: str) -> dict:
    return {"rate": f"{plain_number(tax.rate)} %", "category": tax.category,
            "category_label": CATEGORY_LABELS.get(tax.category, tax.category),
            "taxable_amount": amount(tax.taxable_amount, currency), "tax_amount": amount(tax.tax_amount, currency)}


@functools.cache
def _environment() -> ImmutableSandboxedEnvironment:
    """Sandboxed, because DocumentTemplate sources are uploaded through the admin."""
    return ImmutableSandboxedEnvironment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=True,
                                         undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


@functools.lru_cache(maxsize=16)
def _compiled(source: str) -> Template:
    return _environment().from_string(source)


@functools.cache
def _policy(font_dirs: tuple[Path, ...]) -> ResourceAccessPolicy:
    """Local reads only from the template and font folders; no network at all."""
    return ResourceAccessPolicy.server(TEMPLATE_DIR, extra_roots=font_dirs, allow_remote=False)
