"""Proforma PDF rendering: portal.exports.pdf.render_pdf (Jinja2 + formatting + xhtml2pdf with DejaVu Sans)
next to bare xhtml2pdf converting the same HTML with the same font inlined as @font-face. Target: within 10 %.

    .venv/bin/python bench/pdf_render.py [--count 100] [--lines 5 40]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pypdf import PdfReader  # noqa: E402
from xhtml2pdf import pisa  # noqa: E402
from xhtml2pdf.config.resources import ResourceAccessPolicy  # noqa: E402

from portal.exports.document import Document, Line, Party, TaxBreakdown  # noqa: E402
from portal.exports.pdf import find_font, font_css, render_html, render_pdf  # noqa: E402

CENT = Decimal("0.01")


def proforma(lines: int) -> Document:
    """A proforma with `lines` ticket lines at 19 % for a Cyrillic-named buyer."""
    items = []
    for number in range(1, lines + 1):
        net = (Decimal("1.5") * Decimal("980.00")).quantize(CENT)
        items.append(Line(number, f"Поддержка серверов {number}", Decimal("1.5"), Decimal("980.00"), net,
                          Decimal(19), (net * Decimal("0.19")).quantize(CENT, ROUND_HALF_UP),
                          source=f"INC00{number:05d} (P2, closed 2026-11-03)", unit="HUR"))
    net = sum((item.net_amount for item in items), Decimal("0.00"))
    tax = sum((item.tax_amount for item in items), Decimal("0.00"))
    return Document(
        number="PF-2026-11-0001", issue_date=date(2026, 11, 30), due_date=date(2026, 12, 30), currency="EUR",
        period_start=date(2026, 11, 1), period_end=date(2026, 11, 30),
        seller=Party("Ledgerflow GmbH", "DE123456789", "Hauptstraße 1", "Berlin", "10115", "DE"),
        buyer=Party("ООО «Ромашка»", "RU7701234567", "ул. Тверская, д. 7", "Москва", "125009", "RU"),
        lines=tuple(items), taxes=(TaxBreakdown(Decimal(19), net, tax),), net_total=net, tax_total=tax,
        gross_total=net + tax, contract_number="C-2026-007")


def bare(html: str, policy: ResourceAccessPolicy) -> bytes:
    """Plain pisa.CreatePDF on already rendered HTML."""
    out = io.BytesIO()
    pisa.CreatePDF(html, dest=out, encoding="utf-8", resource_policy=policy)
    return out.getvalue()


def measure(lines: int, count: int) -> None:
    """Alternate the two renderers `count` times each and print ms per PDF."""
    document = proforma(lines)
    font = find_font()
    started = time.perf_counter()
    data = render_pdf(document)
    first = (time.perf_counter() - started) * 1000
    html = render_html(document).replace("</head>", f"<style>{font_css(font)}</style></head>", 1)
    policy = ResourceAccessPolicy(base_dir=font.regular.parent, extra_roots=font.directories)
    pages = len(PdfReader(io.BytesIO(data)).pages)
    assert pages == len(PdfReader(io.BytesIO(bare(html, policy))).pages)
    portal_ms, bare_ms = [], []
    for _ in range(count):
        started = time.perf_counter()
        render_pdf(document)
        portal_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        bare(html, policy)
        bare_ms.append((time.perf_counter() - started) * 1000)
    ours, theirs = statistics.median(portal_ms), statistics.median(bare_ms)
    print(f"{lines} lines, {pages} page(s), {count} PDFs each (first render in process {first:.0f} ms):")
    print(f"  render_pdf      median {ours:6.1f} ms  mean {statistics.fmean(portal_ms):6.1f} ms")
    print(f"  bare xhtml2pdf  median {theirs:6.1f} ms  mean {statistics.fmean(bare_ms):6.1f} ms")
    print(f"  overhead {100 * (ours / theirs - 1):+.1f} % (median), target within 10 %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--lines", type=int, nargs="+", default=[5, 40])
    args = parser.parse_args()
    for lines in args.lines:
        measure(lines, args.count)


if __name__ == "__main__":
    main()
