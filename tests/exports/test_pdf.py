"""Proforma HTML/PDF: template content and escaping, amount formatting, pages, embedded Cyrillic font, overrides."""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import sys
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError
from pypdf import PdfReader
from xhtml2pdf.config.resources import ResourceAccessPolicy

from portal.exports import pdf as pdf_module
from portal.exports.document import BankAccount, Document, Line, Party, TaxBreakdown
from portal.exports.pdf import (
    PdfFontError,
    amount,
    find_font,
    plain_number,
    price,
    render_html,
    render_pdf,
    unit_label,
)

pytestmark = pytest.mark.no_db

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CENT = Decimal("0.01")
SELLER = Party("Ledgerflow GmbH", "DE123456789", "Hauptstraße 1", "Berlin", "10115", "DE", "billing@ledgerflow.example")
BUYER = Party("ООО «Ромашка»", "RU7701234567", "ул. Тверская, д. 7", "Москва", "125009", "RU", "buh@romashka.ru",
              sap_partner_code="4711")


def line(number: int, quantity: str, unit_price: str, rate: str = "19", text: str = "", unit: str = "HUR") -> Line:
    """A line with net and tax quantized like the proforma builder does, sourced from a ticket."""
    net = (Decimal(quantity) * Decimal(unit_price)).quantize(CENT, ROUND_HALF_UP)
    tax = (net * Decimal(rate) / 100).quantize(CENT, ROUND_HALF_UP)
    return Line(number, text or f"Server support {number}", Decimal(quantity), Decimal(unit_price), net,
                Decimal(rate), tax, source=f"INC00{number:05d} (P2, closed 2026-11-03)", unit=unit)


def document(lines: tuple[Line, ...], **overrides) -> Document:
    """A consistent Document: one breakdown per rate, totals summed from the lines."""
    taxes = []
    for rate in sorted({item.tax_rate for item in lines}, reverse=True):
        taxable = sum((item.net_amount for item in lines if item.tax_rate == rate), Decimal("0.00"))
        taxes.append(TaxBreakdown(rate, taxable, (taxable * rate / 100).quantize(CENT, ROUND_HALF_UP)))
    net = sum((tax.taxable_amount for tax in taxes), Decimal("0.00"))
    tax_total = sum((tax.tax_amount for tax in taxes), Decimal("0.00"))
    fields = {
        "number": "PF-2026-11-0042", "issue_date": date(2026, 11, 30), "due_date": date(2026, 12, 30),
        "currency": "EUR", "period_start": date(2026, 11, 1), "period_end": date(2026, 11, 30),
        "seller": SELLER, "buyer": BUYER, "lines": lines, "taxes": tuple(taxes), "net_total": net,
        "tax_total": tax_total, "gross_total": net + tax_total, "contract_number": "C-2026-007",
        "notes": ("Support hours Monday to Friday, 8:00 to 18:00.",),
    }
    fields.update(overrides)
    return Document(**fields)


SHORT = document((line(1, "3", "1234.50", text="Поддержка серверов — Übergröße"),
                  line(2, "4", "12.35", "7", unit="EA")))
LONG = document(tuple(line(number, "1.5", "980.00") for number in range(1, 61)))
REVERSE = document((line(1, "10", "95.00", "0"),), tax_rule="reverse_charge",
                   buyer=Party("Alpen Handel GmbH", "ATU12345678", "Ringstraße 5", "Wien", "1010", "AT"))
# As a drafted proforma comes: the seller's account, the RF reference of its number, the customer's references,
# a ticket counted as one service unit (E48) and a fixed line counting units (C62).
PAYABLE = document((line(1, "1", "220.00", unit="E48"), line(2, "25", "12.50", unit="C62")),
                   payee_account=BankAccount("DE89370400440532013000", "COBADEFFXXX", "Demo Bank"),
                   payment_reference="RF91PF2026110042", purchase_order_number="PO-4711",
                   buyer_reference="04011000-12345-34")


def pdf_fonts(data: bytes) -> tuple[set[str], set[str]]:
    """(fonts some text is drawn with, fonts embedded as TrueType files), by BaseFont name without subset tag."""
    drawn: set[str] = set()
    embedded: set[str] = set()

    def visit(text, _cm, _tm, font, _size):
        if text.strip() and font is not None:
            drawn.add(str(font["/BaseFont"]).split("+")[-1])

    for page in PdfReader(io.BytesIO(data)).pages:
        page.extract_text(visitor_text=visit)
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for descendant in font.get("/DescendantFonts", [font]):
                descriptor = descendant.get_object().get("/FontDescriptor")
                if descriptor is not None and "/FontFile2" in descriptor.get_object():
                    embedded.add(str(font["/BaseFont"]).split("+")[-1])
    return drawn, embedded


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_amounts_use_thousands_separators_and_the_currency_minor_units():
    assert amount(Decimal("1234567.5"), "EUR") == "1,234,567.50"
    assert amount(Decimal("-1234.5"), "EUR") == "-1,234.50"
    assert amount(Decimal("0.00"), "EUR") == "0.00"
    assert amount(Decimal("1234567"), "JPY") == "1,234,567"
    assert amount(Decimal("1234.5"), "KWD") == "1,234.500"
    assert price(Decimal("1234.5"), "EUR") == "1,234.50"
    assert price(Decimal("12.3456"), "EUR") == "12.3456"  # a unit price keeps its precision
    assert plain_number(Decimal("2.50")) == "2.5"
    assert plain_number(Decimal("1200")) == "1,200"
    with pytest.raises(ValueError, match="quantize"):
        amount(Decimal("1.005"), "EUR")  # never rounds silently


def test_html_has_number_lines_sources_and_formatted_totals():
    html = render_html(SHORT)
    assert "PF-2026-11-0042" in html
    assert "Поддержка серверов — Übergröße" in html and "Server support 2" in html
    assert "INC0000001" in html and "P2, closed 2026-11-03" in html
    assert "3,703.50" in html  # line 1 net
    assert "4,460.03 EUR" in html  # gross: 3,703.50 + 49.40 net, 703.67 + 3.46 VAT
    assert "PROFORMA — not a tax invoice" in html
    assert "Reverse charge" not in html
    assert "2026-11-01 – 2026-11-30" in html and "C-2026-007" in html


def test_each_block_the_number_and_the_proforma_note_are_printed_once():
    text = pdf_text(render_pdf(PAYABLE))
    assert text.count("PF-2026-11-0042") == 1
    assert text.count("Ledgerflow GmbH") == 1 and text.count("Hauptstraße 1") == 1
    assert text.count("VAT ID DE123456789") == 1 and text.count("billing@ledgerflow.example") == 1
    assert text.lower().count("not a tax invoice") == 1
    assert text.count("ООО «Ромашка»") == 1 and text.count("C-2026-007") == 1
    assert text.count("Support hours Monday to Friday") == 1


def test_bank_account_payment_reference_and_customer_references_are_printed():
    text = pdf_text(render_pdf(PAYABLE))
    assert "IBAN DE89 3704 0044 0532 0130 00" in text and "BIC COBADEFFXXX" in text and "Demo Bank" in text
    assert "RF91 PF20 2611 0042" in text and "quoting the payment reference" in text
    assert "PO-4711" in text and "04011000-12345-34" in text


def test_without_an_account_or_references_their_rows_are_left_out():
    html = render_html(SHORT)
    assert "IBAN" not in html and "Payment reference" not in html and "Your order" not in html


def test_line_units_are_named_in_words_per_un_ece_code():
    html = render_html(PAYABLE)
    assert "1 service</td>" in html and "25 units</td>" in html and "pcs" not in html
    assert (unit_label("HUR", Decimal("2.5")), unit_label("C62", Decimal("1")), unit_label("XYZ", Decimal(3))) == (
        "h", "unit", "XYZ")


def test_reverse_charge_wording():
    html = render_html(REVERSE)
    assert "Reverse charge: VAT to be accounted for by the recipient" in html


def test_html_escapes_descriptions():
    hostile = document((line(1, "1", "10.00", text='<script>alert("x")</script> & <b>Co</b>'),))
    html = render_html(hostile)
    assert "<script>" not in html and "<b>Co</b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;Co&lt;/b&gt;" in html
    assert "<script>alert" in pdf_text(render_pdf(hostile))  # printed as text, not markup


def test_short_pdf_is_one_page_with_the_cyrillic_font_embedded(caplog):
    with caplog.at_level(logging.WARNING, logger="xhtml2pdf"):
        data = render_pdf(SHORT)
    assert data.startswith(b"%PDF")
    assert len(PdfReader(io.BytesIO(data)).pages) == 1
    drawn, embedded = pdf_fonts(data)
    assert drawn <= {"DejaVuSans", "DejaVuSans-Bold"} and "DejaVuSans" in drawn  # nothing drawn in Helvetica
    assert {"DejaVuSans", "DejaVuSans-Bold"} <= embedded
    text = pdf_text(data)
    assert "ООО «Ромашка»" in text and "Москва" in text
    assert "4,460.03 EUR" in text
    assert not [record for record in caplog.records if record.name.startswith("xhtml2pdf")], caplog.text
    _save_png(data, "proforma-pdf.png")


def test_sixty_lines_span_pages_and_repeat_the_header():
    data = render_pdf(LONG)
    pages = PdfReader(io.BytesIO(data)).pages
    assert len(pages) >= 2
    assert all("Description" in page.extract_text() for page in pages if "Server support" in page.extract_text())
    assert "Server support 60" in pdf_text(data) and "Page 2 of" in pdf_text(data)


def test_template_source_overrides_the_file_and_still_gets_the_font():
    source = ("<html><body><h1>Custom {{ document.number }}</h1>"
              "<p>{{ document.buyer.name }} {{ view.gross_total }}</p>"
              "<p style='font-family: Arial'>{{ document.lines[0].description }}</p></body></html>")
    assert render_html(SHORT, source).startswith("<html><body><h1>Custom PF-2026-11-0042</h1>")
    data = render_pdf(SHORT, source)
    text = pdf_text(data)
    assert "Custom PF-2026-11-0042" in text and "ООО «Ромашка» 4,460.03" in text and "Поддержка" in text
    assert pdf_fonts(data)[0] <= {"DejaVuSans", "DejaVuSans-Bold"}


def test_uploaded_templates_run_sandboxed():
    with pytest.raises(SecurityError):
        render_html(SHORT, "{{ document.__class__.__mro__ }}")


def test_missing_font_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv(pdf_module.FONT_DIR_ENV, str(tmp_path))
    find_font.cache_clear()
    try:
        with pytest.raises(PdfFontError, match="fonts-dejavu-core"):
            render_pdf(SHORT)
    finally:
        find_font.cache_clear()


def test_a_font_the_resource_policy_blocks_is_an_error_not_helvetica(monkeypatch):
    monkeypatch.setattr(pdf_module, "_policy", lambda _dirs: ResourceAccessPolicy.server(pdf_module.TEMPLATE_DIR))
    with pytest.raises(PdfFontError, match="not embedded"):
        render_pdf(SHORT)


def test_pdf_module_does_not_import_flask():
    """Imported without the portal package's __init__ (which builds the Flask app factory)."""
    script = (
        "import sys, types; pkg = types.ModuleType('portal'); pkg.__path__ = ['portal']; sys.modules['portal'] = pkg;"
        "import portal.exports.pdf; bad = sorted(m for m in sys.modules if m.split('.')[0] in {'flask', 'werkzeug'});"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True)


def _save_png(data: bytes, name: str) -> None:
    """Page 1 as PNG for a human to look at; only when poppler's pdftoppm is installed."""
    if shutil.which("pdftoppm") is None:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / name
    command = ["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile", "-", str(target.with_suffix(""))]
    subprocess.run(command, input=data, check=True)
    assert target.stat().st_size > 10_000
