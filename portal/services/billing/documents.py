"""A stored proforma as the Document every output format renders (PDF/HTML, SAP IDoc and CSV, UBL)."""

from __future__ import annotations

import functools
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from portal import settings
from portal.errors import ValidationError
from portal.exports import pdf
from portal.exports.document import Document, Line, Party, TaxBreakdown
from portal.exports.payment import payment_reference, seller_account
from portal.exports.sap_csv import render_sap_csv
from portal.exports.sap_idoc import render_idoc
from portal.exports.ubl import render_ubl
from portal.exports.ubl_validate import validate_ubl
from portal.extensions import db
from portal.models import DocumentTemplate, Proforma, ProformaDocument
from portal.models.billing import DOCUMENT_FORMAT_FILES
from portal.money import D
from portal.services.billing import drafting, files
from portal.services.billing.drafting import parse_period, period_bounds, proforma_operation

CATEGORY_BY_RULE = {"reverse_charge": "AE", "exempt": "E"}
# UN/ECE rec. 20 unit of a line, by its kind: a ticket is one service unit, a fixed or manual line counts units.
UNIT_BY_KIND = {"incident": "E48", "request": "E48", "fixed": "C62", "manual": "C62", "discount": "C62"}
DEFAULT_UNIT = "C62"


def document_for(proforma: Proforma) -> Document:
    """The proforma with its seller and account, buyer, references, lines, tax breakdown and totals."""
    contract = proforma.contract
    start, end = period_bounds(*parse_period(proforma.period))
    return Document(
        number=proforma.number, issue_date=proforma.issue_date, due_date=proforma.due_date,
        currency=proforma.currency, period_start=start, period_end=end, seller=seller(),
        buyer=_buyer(contract), lines=tuple(_line(line) for line in proforma.lines),
        taxes=_taxes(proforma, contract.tax_rule), net_total=at_column_scale(proforma, "net_total"),
        tax_total=at_column_scale(proforma, "tax_total"), gross_total=at_column_scale(proforma, "gross_total"),
        contract_number=contract.number, sap_company_code=contract.sap_company_code,
        payment_terms_days=contract.payment_terms_days, tax_rule=contract.tax_rule,
        idempotency_key=f"ledgerflow-proforma-{proforma.id}", payee_account=seller_account(settings.config()),
        payment_reference=payment_reference(proforma.number),
        purchase_order_number=contract.purchase_order_number or "", buyer_reference=contract.buyer_reference or "")


def at_column_scale(row: Any, attribute: str) -> Decimal:
    """A Decimal attribute at its column's scale, as the database hands it back.

    A row still in the session holds the value it was given (Decimal("1")), one read back holds the column's
    scale (Decimal("1.0000")): every document is built at the column's scale, so it renders the same bytes
    whether it is rendered in the flow or again from the database.
    """
    scale = type(row).__table__.columns[attribute].type.scale
    return D(getattr(row, attribute)).quantize(Decimal(1).scaleb(-scale))  # D refuses a float


def seller() -> Party:
    """The issuing company, from the configuration."""
    config = settings.config()
    return Party(name=config["SELLER_NAME"], vat_id=config["SELLER_VAT_ID"], street=config["SELLER_STREET"],
                 city=config["SELLER_CITY"], postcode=config["SELLER_POSTCODE"], country=config["SELLER_COUNTRY"],
                 email=config["SELLER_EMAIL"])


def _buyer(contract) -> Party:
    """The bill-to party; it is sold-to, payer and ship-to as well, as a customer holds only a billing address."""
    customer = contract.customer
    contact = customer.billing_contact
    return Party(name=customer.name, vat_id=customer.vat_id, street=customer.billing_street,
                 city=customer.billing_city, postcode=customer.billing_postcode, country=customer.billing_country,
                 email=contact.email if contact else "", sap_partner_code=contract.sap_partner_code)


def _line(line) -> Line:
    scaled = functools.partial(at_column_scale, line)
    return Line(number=line.position, description=line.description, quantity=scaled("quantity"),
                unit_price=scaled("unit_price"), net_amount=scaled("net_amount"), tax_rate=scaled("tax_rate"),
                tax_amount=scaled("tax_amount"), source=_source(line), unit=UNIT_BY_KIND.get(line.kind, DEFAULT_UNIT))


def _source(line) -> str:
    """Where a line came from: "INC0012345 (P2, closed 2026-11-03)", "fixed", "manual", "fixed discount"."""
    if line.kind == "discount":
        return f"{line.source_ref} discount"
    if line.kind not in ("incident", "request"):
        return line.kind
    closed = f"closed {line.closed_at:%Y-%m-%d}" if line.closed_at else ""
    details = [detail for detail in (line.priority, closed) if detail]
    return f"{line.source_ref} ({', '.join(details)})" if details else line.source_ref


def _taxes(proforma, tax_rule: str) -> tuple[TaxBreakdown, ...]:
    """One breakdown per rate; amounts are the sums of the lines, so they match the totals exactly."""
    taxable, tax = defaultdict(Decimal), defaultdict(Decimal)
    for line in proforma.lines:
        rate = at_column_scale(line, "tax_rate")
        taxable[rate] += at_column_scale(line, "net_amount")
        tax[rate] += at_column_scale(line, "tax_amount")
    return tuple(TaxBreakdown(rate=rate, taxable_amount=taxable[rate], tax_amount=tax[rate],
                              category=CATEGORY_BY_RULE.get(tax_rule, "S" if rate else "Z"))
                 for rate in sorted(taxable))


def render_all(proforma: Proforma) -> list[ProformaDocument]:
    """Render and store every format the contract asks for (replacing earlier renderings)."""
    document = document_for(proforma)
    stored = {d.format: d for d in proforma.documents}
    for fmt in proforma.contract.formats:
        content = RENDERERS[fmt](document, proforma)  # first: renderers may query (uploaded templates)
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


def _ubl(document: Document, _proforma: Proforma) -> bytes:
    xml = render_ubl(document)
    problems = validate_ubl(xml)
    if problems:
        raise ValidationError("ubl", "the UBL invoice breaks EN 16931: " + "; ".join(problems[:3]))
    return xml


def _idoc(document: Document, proforma: Proforma) -> bytes:
    # Stamped with the proforma's creation, not the clock, so rendering again gives the same file (as DOCNUM does).
    return render_idoc(document, created_at=proforma.created_at)


def _sap_csv(document: Document, proforma: Proforma) -> bytes:
    contract = proforma.contract
    return render_sap_csv(document, delimiter=contract.csv_delimiter, decimal_separator=contract.csv_decimal_separator)


# format -> render(document, proforma): the proforma gives the contract's choices and the stored stamps.
RENDERERS = {
    "pdf": lambda document, _proforma: pdf.render_pdf(document, _template("proforma_pdf")),
    "html": lambda document, _proforma: pdf.render_html(document, _template("proforma_html")).encode("utf-8"),
    "idoc": _idoc,
    "sap_csv": _sap_csv,
    "ubl": _ubl,
}
