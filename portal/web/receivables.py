"""Receivables pages for staff: invoices, credit and due notes (list, detail, files, credit, cancel, new invoice)."""

from __future__ import annotations

import io
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from portal.edge import error_text
from portal.errors import DomainError, NotFound, ValidationError
from portal.infra.unit_of_work import unit_of_work
from portal.services.receivables import allocations, corrections, invoicing, listing, payments, rendering
from portal.services.receivables.invoicing import LineInput
from portal.web.access import require
from portal.web.forms import EmptyForm

bp = Blueprint("receivables", __name__, url_prefix="/receivables")
NEW_LINES = 5  # empty line rows on the new-invoice form


@bp.context_processor
def labels() -> dict:
    return {"state_labels": listing.STATE_LABELS, "kind_labels": listing.KIND_LABELS}


@bp.get("/", endpoint="index")
@require("receivables.read")
def index():
    return redirect(url_for("receivables.documents"))


@bp.get("/documents", endpoint="documents")
@require("receivables.read")
def documents():
    """Invoices, credit notes and due notes, filtered and paged; bad filters are marked (400)."""
    try:
        filters = listing.document_filters(request.args)
    except ValidationError as exc:
        return _list(listing.DocumentFilters(), None, exc.errors), 400
    return _list(filters, listing.documents(current_user, filters, request.args.get("page", 1, type=int)), {})


def _list(filters, page, errors):
    return render_template("receivables/documents.html", filters=filters, page=page, errors=errors,
                           values=request.args, customers=listing.customers(current_user))


@bp.get("/documents/<int:document_id>", endpoint="document")
@require("receivables.read")
def document(document_id: int):
    """One document: header, lines, totals, what was paid and credited, its files, the actions allowed."""
    found = listing.document(current_user, document_id)
    return render_template("receivables/document.html", document=found, live=allocations.live(found),
                           files={f.format: f for f in found.files}, form=EmptyForm(), today=invoicing.today())


@bp.get("/documents/<int:document_id>/files/<any(pdf, ubl):fmt>", endpoint="document_file")
@require("receivables.read")
def document_file(document_id: int, fmt: str):
    """The PDF or UBL file exactly as stored when the document was issued."""
    stored = rendering.stored_file(listing.document(current_user, document_id), fmt)
    return send_file(io.BytesIO(stored.content), mimetype=stored.content_type, as_attachment=True,
                     download_name=stored.filename)


@bp.post("/documents/<int:document_id>/credit", endpoint="credit")
@require("receivables.correct")
def credit(document_id: int):
    """A partial credit note of one line: amount (net), tax rate and reason."""
    def use_case():
        target = listing.document(current_user, document_id)
        rate = request.form.get("tax_rate", "").strip() or (target.lines[0].tax_rate if target.lines else "0")
        line = LineInput(request.form.get("description", "").strip() or f"Credit for {target.number}", "1",
                         request.form.get("amount", ""), rate)
        return corrections.credit_note(target, [line], request.form.get("reason", ""), current_user.email)
    return _act(use_case, document_id, lambda note: f"Credit note {note.number} issued.")


@bp.post("/documents/<int:document_id>/cancel", endpoint="cancel")
@require("receivables.correct")
def cancel(document_id: int):
    """Cancel an issued invoice: it keeps its number; a credit note reverses it."""
    def use_case():
        target = listing.document(current_user, document_id)
        return corrections.cancel(target, request.form.get("reason", ""), current_user.email)
    return _act(use_case, document_id, lambda note: f"Cancelled; credit note {note.number} reverses it.")


def act(use_case, back: str, message):
    """Run a page's action as one unit of work, flash what it did (or why not) and go back to `back`."""
    try:
        with unit_of_work():
            result = use_case()
    except NotFound:
        abort(404)
    except DomainError as exc:
        flash(error_text(exc), "error")
        return redirect(back)
    flash(message(result), "success")
    return redirect(back)


def _act(use_case, document_id: int, message):
    return act(use_case, url_for("receivables.document", document_id=document_id), message)


@bp.route("/invoices/new", methods=["GET", "POST"], endpoint="new_invoice")
@require("receivables.record")
def new_invoice():
    """A standalone invoice with lines, issued at once (number, rate, ledger, files)."""
    if request.method == "GET":
        return _invoice_form({}, {})
    try:
        with unit_of_work():
            issued = _create_invoice(request.form)
    except DomainError as exc:
        flash(error_text(exc), "error")
        return _invoice_form(request.form, getattr(exc, "errors", {})), 400
    flash(f"Invoice {issued.number} issued.", "success")
    return redirect(url_for("receivables.document", document_id=issued.id))


def _invoice_form(values, errors):
    return render_template("receivables/new_invoice.html", values=values, errors=errors, rows=range(1, NEW_LINES + 1),
                           customers=listing.customers(current_user), today=date.today().isoformat())


def _create_invoice(form):
    customer = payments.customer_by_code(form.get("customer", ""))
    lines = [LineInput(form.get(f"description_{n}", ""), form.get(f"quantity_{n}", "") or "1",
                       form.get(f"unit_price_{n}", ""), form.get(f"tax_rate_{n}", "") or "0")
             for n in range(1, NEW_LINES + 1) if form.get(f"description_{n}", "").strip()
             or form.get(f"unit_price_{n}", "").strip()]
    draft = invoicing.create_draft("invoice", customer, form.get("currency", "") or customer.currency, lines,
                                   issue_date=listing.parse_day(form.get("issue_date", ""), "issue date"),
                                   created_by=current_user.email, notes=form.get("notes", ""),
                                   buyer_reference=form.get("buyer_reference", ""))
    return invoicing.issue(draft, current_user.email)

