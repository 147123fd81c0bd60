"""A stored proforma as the Document every output format renders (PDF/HTML, SAP IDoc and CSV, UBL)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import select

from portal import settings
from portal.errors import ValidationError
from portal.exports import pdf
from portal.exports.document import Document, Line, Party, TaxBreakdown
from portal.exports.sap_csv import render_sap_csv
from portal.exports.sap_idoc import render_idoc
from portal.exports.ubl import render_ubl
from portal.exports.ubl_validate import validate_ubl
from portal.extensions import db
from portal.models import DocumentTemplate, Proforma, ProformaDocument
from portal.models.billing import DOCUMENT_FORMAT_FILES
from portal.services.billing import drafting, files
from portal.services.billing.drafting import parse_period, period_bounds, proforma_operation

CATEGORY_BY_RULE = {"reverse_charge": "AE", "exempt": "E"}


def document_for(proforma: Proforma) -> Document:
    """The proforma with its seller, buyer, lines, tax breakdown and totals."""
    contract = proforma.contract
    start, end = period_bounds(*parse_period(proforma.period))
    return Document(
        number=proforma.number, issue_date=proforma.issue_date, due_date=proforma.due_date,
        currency=proforma.currency, period_start=start, period_end=end, seller=seller(),
        buyer=_buyer(contract), lines=tuple(_line(line) for line in proforma.lines),
        taxes=_taxes(proforma, contract.tax_rule), net_total=proforma.net_total, tax_total=proforma.tax_total,
        gross_total=proforma.gross_total, contract_number=contract.number,
        sap_company_code=contract.sap_company_code, payment_terms_days=contract.payment_terms_days,
        tax_rule=contract.tax_rule, notes=("Proforma invoice: not a tax invoice.",),
        idempotency_key=f"ledgerflow-proforma-{proforma.id}")


def seller() -> Party:
    """The issuing company, from the configuration."""
    config = settings.config()
    return Party(name=config["SELLER_NAME"], vat_id=config["SELLER_VAT_ID"], street=config["SELLER_STREET"],
                 city=config["SELLER_CITY"], postcode=config["SELLER_POSTCODE"], country=config["SELLER_COUNTRY"],
                 email=config["SELLER_EMAIL"])


def _buyer(contract) -> Party:
    customer = contract.customer
    contact = customer.billing_contact
    return Party(name=customer.name, vat_id=customer.vat_id, street=customer.billing_street,
                 city=customer.billing_city, postcode=customer.billing_postcode, country=customer.billing_country,
                 email=contact.email if contact else "", sap_partner_code=contract.sap_partner_code)


def _line(line) -> Line:
    return Line(number=line.position, description=line.description, quantity=line.quantity,
                unit_price=line.unit_price, net_amount=line.net_amount, tax_rate=line.tax_rate,
                tax_amount=line.tax_amount, source=_source(line))


def _source(line) -> str:
    """Where a line came from: "INC0012345 (P2, closed 2026-11-03)", or "fixed" / "manual"."""
    if line.kind not in ("incident", "request"):
        return line.kind
    closed = f"closed {line.closed_at:%Y-%m-%d}" if line.closed_at else ""
    details = [detail for detail in (line.priority, closed) if detail]
    return f"{line.source_ref} ({', '.join(details)})" if details else line.source_ref


def _taxes(proforma, tax_rule: str) -> tuple[TaxBreakdown, ...]:
    """One breakdown per rate; amounts are the sums of the lines, so they match the totals exactly."""
    taxable, tax = defaultdict(Decimal), defaultdict(Decimal)
    for line in proforma.lines:
        taxable[line.tax_rate] += line.net_amount
        tax[line.tax_rate] += line.tax_amount
    return tuple(TaxBreakdown(rate=rate, taxable_amount=taxable[rate], tax_amount=tax[rate],
                              category=CATEGORY_BY_RULE.get(tax_rule, "S" if rate else "Z"))
                 for rate in sorted(taxable))


def render_all(proforma: Proforma) -> list[ProformaDocument]:
    """Render and store every format the contract asks for (replacing earlier renderings)."""
    document = document_for(proforma)
    stored = {d.format: d for d in proforma.documents}
    for fmt in proforma.contract.formats:
        content = RENDERERS[fmt](document)  # first: renderers may query (uploaded templates)
        extension, content_type = DOCUMENT_FORMAT_FILES[fmt]
        row = stored.get(fmt)
        if row is None:
            row = ProformaDocument(proforma_id=proforma.id, format=fmt)
            db.session.add(row)
        files.fill(row, f"{proforma.number}.{extension}", content)
        row.content_type = content_type
    db.session.flush()
    db.session.expire(proforma, ["documents"])
    return list(proforma.documents)


@proforma_operation("proforma.render_documents", "Render proforma documents (PDF, HTML, SAP, UBL)",
                    "Renders every format the contract asks for and stores them with the proforma.",
                    outputs=("documents",), queue="exports")
def render_documents_operation(params: dict, context) -> dict:
    """proforma.render_documents: the approved proforma's files, in the contract's formats."""
    proforma = drafting.get(params.get("proforma_id"))
    rendered = render_all(proforma)
    return {"documents": sorted(d.format for d in rendered)}


def _template(kind: str) -> str | None:
    """The newest uploaded template of this kind, if an administrator uploaded one."""
    newest = db.session.scalar(select(DocumentTemplate).where(DocumentTemplate.kind == kind)
                               .order_by(DocumentTemplate.uploaded_at.desc(), DocumentTemplate.id.desc()).limit(1))
    return newest.content.decode("utf-8") if newest else None


def _ubl(document: Document) -> bytes:
    xml = render_ubl(document)
    problems = validate_ubl(xml)
    if problems:
        raise ValidationError("ubl", "the UBL invoice breaks EN 16931: " + "; ".join(problems[:3]))
    return xml


RENDERERS = {
    "pdf": lambda document: pdf.render_pdf(document, _template("proforma_pdf")),
    "html": lambda document: pdf.render_html(document, _template("proforma_html")).encode("utf-8"),
    "idoc": render_idoc,
    "sap_csv": render_sap_csv,
    "ubl": _ubl,
}
