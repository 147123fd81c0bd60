"""Bank-file import pages: upload (with the CSV/XLSX column mapping), the preview of every row, confirm."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from portal.edge import error_text
from portal.errors import DomainError
from portal.extensions import db
from portal.infra.unit_of_work import unit_of_work
from portal.models import PaymentImport, PendingBankFile
from portal.services.billing import files
from portal.services.receivables import payment_import
from portal.web.access import require
from portal.web.forms import EmptyForm
from portal.web.receivables import bp

# The mapping form's fields: what they set in portal.integrations.bank_tables.TableMapping.
TEXT_FIELDS = ("date_column", "amount_column", "debit_column", "credit_column", "value_date_column",
               "currency_column", "currency", "payer_name_column", "payer_iban_column", "reference_column",
               "decimal_separator", "thousands_separator", "delimiter")
LIST_FIELDS = ("text_columns", "date_formats")
STATUS_LABELS = {"payment": "Payment", "duplicate": "Duplicate", "skipped": "Skipped", "error": "Error"}


@bp.get("/imports", endpoint="import_file")
@require("receivables.record")
def import_file():
    """The upload form and the imports done so far."""
    return _upload_page({}, {})


def _upload_page(values: dict, errors: dict):
    recent = db.session.scalars(select(PaymentImport).order_by(PaymentImport.id.desc()).limit(20)).all()
    return render_template("receivables/import_upload.html", values=values, errors=errors, recent=recent,
                           form=EmptyForm())


@bp.post("/imports", endpoint="import_preview")
@require("receivables.record")
def import_preview():
    """Keep the file, then show what confirming it would do with each row; nothing is imported yet."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Choose a bank file to import.", "error")
        return _upload_page(request.form, {"file": "choose a file"}), 400
    content, mapping = upload.read(), _mapping(request.form)
    account = request.form.get("account_iban", "").strip()
    try:
        found = payment_import.preview(content, upload.filename, account_iban=account, mapping=mapping)
        with unit_of_work():
            pending = _keep(content, upload.filename, account)
    except DomainError as exc:
        db.session.rollback()
        flash(error_text(exc), "error")
        return _upload_page(request.form, getattr(exc, "errors", {})), 400
    return render_template("receivables/import_preview.html", preview=found, pending=pending, mapping=mapping or {},
                           statuses=STATUS_LABELS, form=EmptyForm())


def _mapping(form) -> dict | None:
    """The typed column mapping, or None to use the account's remembered one (CSV and XLSX only)."""
    values = {name: form.get(name, "").strip() for name in TEXT_FIELDS if form.get(name, "").strip()}
    for name in LIST_FIELDS:
        items = [item.strip() for item in form.get(name, "").split(",") if item.strip()]
        if items:
            values[name] = items
    for name in ("header_row", "footer_rows"):
        if form.get(name, "").strip().isdigit():
            values[name] = int(form[name])
    return values if "date_column" in values else None


def _keep(content: bytes, filename: str, account: str) -> PendingBankFile:
    pending = PendingBankFile(account_iban=account[:34], content_type="application/octet-stream",
                              uploaded_by=current_user.email)
    files.fill(pending, filename[:255], content)
    db.session.add(pending)
    db.session.flush()
    return pending


@bp.post("/imports/<int:pending_id>/confirm", endpoint="import_confirm")
@require("receivables.record")
def import_confirm(pending_id: int):
    """Import the previewed file's valid rows in one transaction and record the import."""
    pending = db.session.get(PendingBankFile, pending_id)
    if pending is None or pending.uploaded_by != current_user.email:
        abort(404)
    try:
        with unit_of_work():
            record = payment_import.confirm(pending.content, pending.filename, current_user.email,
                                            account_iban=pending.account_iban, mapping=_mapping(request.form),
                                            expected_sha256=request.form.get("sha256") or None)
            db.session.delete(pending)
    except DomainError as exc:
        flash(error_text(exc), "error")
        return redirect(url_for("receivables.import_file"))
    flash(f"Imported {record.filename}: {record.payments} payments, {record.duplicates} duplicates, "
          f"{record.skipped} skipped, {record.errors} errors.", "success")
    return redirect(url_for("receivables.payments"))
