"""What every edge (site views, admin actions) does around a use case: one transaction, a message, an HTTP status."""

from __future__ import annotations

import re

from flask import flash

from portal.errors import (
    AuthenticationError,
    Conflict,
    DomainError,
    Forbidden,
    InvalidDiagramError,
    NotFound,
    UpstreamError,
    ValidationError,
)
from portal.infra.unit_of_work import unit_of_work

# Domain error -> HTTP status; the most specific class listed wins (walked along the exception's MRO).
HTTP_STATUS: dict[type[DomainError], int] = {
    ValidationError: 400,
    InvalidDiagramError: 400,
    AuthenticationError: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    UpstreamError: 502,
    DomainError: 400,
}


def http_status(exc: DomainError) -> int:
    """The HTTP status answering a domain error."""
    if isinstance(exc, UpstreamError) and getattr(exc, "field", None):
        return 400  # the other system refused a part of our input the user can fix (a bad address, say)
    return next(HTTP_STATUS[cls] for cls in type(exc).__mro__ if cls in HTTP_STATUS)


def error_text(exc: DomainError, labels: dict[str, str] | None = None) -> str:
    """A domain error for people: a refused input names each field in words ("Unit price: must not be negative"),
    by the form's label when given."""
    if not isinstance(exc, ValidationError):
        return str(exc)
    return "; ".join(f"{field_label(field, labels)}: {message}" for field, message in exc.errors.items())


def field_label(field: str | None, labels: dict[str, str] | None = None) -> str:
    """A field's label, else its name in words ("unit_price" -> "Unit price", "vat_id" -> "VAT ID")."""
    if not field:
        return "Input"
    return (labels or {}).get(field) or humanize(field)


# Words read letter by letter, wherever they appear in a column name, and words spelled out.
ACRONYMS = {"vat": "VAT", "id": "ID", "url": "URL", "sap": "SAP", "csv": "CSV", "ip": "IP", "pdf": "PDF",
            "html": "HTML", "ubl": "UBL", "idoc": "IDoc", "iso": "ISO", "fx": "FX", "oauth": "OAuth", "sftp": "SFTP",
            "https": "HTTPS", "smtp": "SMTP", "totp": "TOTP", "bpmn": "BPMN", "xml": "XML", "ca": "CA",
            "iban": "IBAN", "bic": "BIC"}
SPELLED_OUT = {"calllog": "call-logging"}


def humanize(name: str) -> str:
    """A column name in words: "billing_city" -> "Billing city", "vat_id" -> "VAT ID"."""
    words = [ACRONYMS.get(word, SPELLED_OUT.get(word, word)) for word in re.split(r"[_.]+", name) if word]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def run_and_flash(use_case, success: str) -> DomainError | None:
    """Run the use case as one unit of work, flashing `success`; on a domain error flash it and return it."""
    try:
        with unit_of_work():
            use_case()
    except DomainError as exc:
        flash(error_text(exc), "error")
        return exc
    flash(success, "success")
    return None


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths, so a link or form cannot bounce users to another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def flash_draft_report(period: str, report) -> None:
    """What drafting a month did, as flash messages: the counts, then each contract that failed and why."""
    flash(f"{period}: {len(report.created)} drafted, {len(report.existing)} already there, "
          f"{len(report.failed)} failed.", "success" if not report.failed else "warning")
    for contract, error in report.failed.items():
        flash(f"{contract}: {error}", "error")
