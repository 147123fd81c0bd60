"""An issued invoice, due note or credit note as the Document the exports render, and its PDF and UBL files: rendered
once at issue, the UBL checked first, stored with their SHA-256 and served from storage, never rendered again."""

from __future__ import annotations

import dataclasses
import functools
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import undefer

from portal import settings
from portal.errors import Conflict, NotFound, ValidationError
from portal.exports import pdf, ubl
from portal.exports.document import Document, DocumentReference, Line, Party
from portal.exports.payment import payment_reference, seller_account
from portal.exports.ubl_validate import validate_ubl
from portal.extensions import db
from portal.models import ReceivableDocument, ReceivableFile
from portal.models.billing import DOCUMENT_FORMAT_FILES
from portal.models.receivables import CREDIT_NOTE, DUE_NOTE, INVOICE
from portal.services.billing import documents, files
from portal.services.billing.drafting import parse_period, period_bounds

FORMATS = ("ubl", "pdf")  # the UBL first: it is checked, and a refused file should cost no PDF rendering
# The DocumentTemplate kind whose newest upload replaces the shipped layout (templates/pdf/invoice.html).
TEMPLATE_KINDS = {INVOICE: "invoice_pdf", DUE_NOTE: "invoice_pdf", CREDIT_NOTE: "credit_note_pdf"}
SHIPPED_TEMPLATE = pdf.TEMPLATE_DIR / "invoice.html"
# Optional settings: the compiled Peppol BIS Billing 3.0 rules (an XSLT file) to run on Peppol files besides EN 16931,
# and the seller's contact, which German buyers' rules require (name, telephone; the e-mail is SELLER_EMAIL).
PEPPOL_RULES_SETTING = "UBL_PEPPOL_RULES"
CONTACT_NAME_SETTING, PHONE_SETTING = "SELLER_CONTACT_NAME", "SELLER_PHONE"
DEFAULT_CONTACT_NAME = "Accounts receivable"


def render_files(document: ReceivableDocument) -> list[ReceivableFile]:
    """Render the issued document's UBL (refused unless valid) and PDF once and store both; flushed, not committed."""
    if document.number is None:
        raise Conflict(f"{document} is not issued: its files are rendered when it is issued")
    if _has_files(document):
        raise Conflict(f"{document.number} was rendered when it was issued; its files are served as stored, "
                       "never rendered again")
    value = document_for(document)
    renderers = {"ubl": checked_ubl, "pdf": lambda doc: pdf.render_pdf(doc, template_source(document.kind))}
    rows = [_store(document, fmt, renderers[fmt](value)) for fmt in FORMATS]
    db.session.flush()
    return rows


def stored_file(document: ReceivableDocument, fmt: str) -> ReceivableFile:
    """The file of `fmt` ("pdf", "ubl") rendered at issue, with its bytes, exactly as stored."""
    row = db.session.scalar(select(ReceivableFile).options(undefer(ReceivableFile.content))
                            .where(ReceivableFile.document_id == document.id, ReceivableFile.format == fmt))
    if row is None:
        raise NotFound(f"{document} has no {fmt.upper()} file")
    return row


def _has_files(document: ReceivableDocument) -> bool:
    found = db.session.scalar(select(ReceivableFile.id).where(ReceivableFile.document_id == document.id).limit(1))
    return found is not None


def _store(document: ReceivableDocument, fmt: str, content: bytes) -> ReceivableFile:
    extension, content_type = DOCUMENT_FORMAT_FILES[fmt]
    row = ReceivableFile(document_id=document.id, format=fmt, uploaded_by=document.issued_by)
    files.fill(row, f"{document.number}.{extension}", content)
    row.content_type = content_type  # fill guesses from the name, and ".ubl.xml" guesses differ per platform
    db.session.add(row)
    return row


def checked_ubl(document: Document) -> bytes:
    """The UBL file, refused unless it passes the UBL 2.1 XSD and EN 16931, and the Peppol BIS Billing 3.0 rules
    as well when they are configured and the file is a Peppol one."""
    xml = ubl.render_ubl(document)
    rules = peppol_rules() if ubl.is_peppol(document) else []
    problems = validate_ubl(xml, rules=rules)
    if problems:
        standard = "Peppol BIS Billing 3.0" if rules else "EN 16931"
        raise ValidationError("ubl", f"the UBL file of {document.number} breaks {standard}: "
                                     + "; ".join(problems[:3]))
    return xml


def peppol_rules() -> list[Path]:
    """The configured Peppol rule set; none by default, as the project does not ship the Peppol rules."""
    path = settings.config().get(PEPPOL_RULES_SETTING)
    return [Path(path)] if path else []


def template_source(kind: str) -> str:
    """The newest uploaded template of the document's kind, else the shipped layout."""
    return documents._template(TEMPLATE_KINDS[kind]) or SHIPPED_TEMPLATE.read_text(encoding="utf-8")


def document_for(document: ReceivableDocument) -> Document:
    """The issued document with seller and account, buyer, references, lines, tax breakdown and totals, built at
    the columns' scale (so the same rows always give the same bytes)."""
    scaled = functools.partial(documents.at_column_scale, document)
    start, end = _period(document)
    credit = document.kind == CREDIT_NOTE
    return Document(
        number=document.number, issue_date=document.issue_date, due_date=document.due_date,
        currency=document.currency, period_start=start or document.issue_date, period_end=end or document.issue_date,
        period_known=start is not None, seller=seller(), buyer=_buyer(document),
        lines=tuple(_line(line) for line in document.lines),
        taxes=documents._taxes(document, document.tax_rule), net_total=scaled("net_total"),
        tax_total=scaled("tax_total"), gross_total=scaled("gross_total"), tax_rule=document.tax_rule,
        payment_terms_days=(document.due_date - document.issue_date).days, notes=_notes(document),
        idempotency_key=f"ledgerflow-{document.kind}-{document.id}",
        payee_account=None if credit else seller_account(settings.config()),
        payment_reference="" if credit else payment_reference(document.number),
        purchase_order_number=document.purchase_order_number, buyer_reference=document.buyer_reference,
        kind=document.kind, billing_reference=_billing_reference(document), **_contract_fields(document.contract))


def seller() -> Party:
    """Billing's seller with its contact for questions (UBL BG-6), which German buyers' rules require."""
    config = settings.config()
    return dataclasses.replace(documents.seller(), phone=config.get(PHONE_SETTING) or "",
                               contact_name=config.get(CONTACT_NAME_SETTING) or DEFAULT_CONTACT_NAME)


def _buyer(document: ReceivableDocument) -> Party:
    """The customer as billed: a customer holds one billing address, which is bill-to, payer and ship-to."""
    customer = document.customer
    contact = customer.billing_contact
    return Party(name=customer.name, vat_id=customer.vat_id, street=customer.billing_street,
                 city=customer.billing_city, postcode=customer.billing_postcode, country=customer.billing_country,
                 email=contact.email if contact else "",
                 sap_partner_code=document.contract.sap_partner_code if document.contract is not None else "")


def _contract_fields(contract) -> dict:
    if contract is None:
        return {}
    return {"contract_number": contract.number, "sap_company_code": contract.sap_company_code}


def _line(line) -> Line:
    scaled = functools.partial(documents.at_column_scale, line)
    return Line(number=line.position, description=line.description, quantity=scaled("quantity"),
                unit_price=scaled("unit_price"), net_amount=scaled("net_amount"), tax_rate=scaled("tax_rate"),
                tax_amount=scaled("tax_amount"), source=line.source_ref, unit=line.unit)


def _period(document: ReceivableDocument) -> tuple[date | None, date | None]:
    """The service period of the proforma invoiced (a credit note's: its invoice's); none for other documents."""
    invoiced = document.corrects if document.kind == CREDIT_NOTE and document.corrects is not None else document
    if invoiced.kind != INVOICE or invoiced.proforma is None:
        return None, None
    return period_bounds(*parse_period(invoiced.proforma.period))


def _notes(document: ReceivableDocument) -> tuple[str, ...]:
    return tuple(text for text in (document.reason, document.notes) if text)


def _billing_reference(document: ReceivableDocument) -> DocumentReference | None:
    """The invoice a credit or due note corrects (UBL BG-3)."""
    corrected = document.corrects
    if corrected is None or corrected.number is None:
        return None
    return DocumentReference(corrected.number, corrected.issue_date)
