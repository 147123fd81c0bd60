"""Customer portal: a customer user sees its own company and nothing else (404 for the rest)."""

from __future__ import annotations

import io
from datetime import date

from flask import Blueprint, abort, render_template, request, send_file
from flask_login import current_user

from portal.errors import NotFound, ValidationError
from portal.services.identity import customer_portal
from portal.services.receivables import customer_view, invoicing, listing
from portal.web.access import require

bp = Blueprint("customer_portal", __name__, url_prefix="/portal")


@bp.context_processor
def proforma_helpers() -> dict:
    """What the portal's pages ask of a proforma: the files its customer may download, its state in words."""
    return {"downloads": customer_portal.downloads, "state_label": customer_portal.state_label}


@bp.get("/")
@require("portal.view")
def home():
    customer = customer_portal.own_customer(current_user)
    return render_template("customer_portal/home.html", customer=customer,
                           contracts=customer_portal.own_contracts(current_user),
                           proformas=customer_portal.own_proformas(current_user),
                           invoices=customer_view.own_documents(current_user), state_labels=listing.STATE_LABELS,
                           kind_labels=listing.KIND_LABELS)


@bp.get("/documents/<int:document_id>")
@require("portal.view")
def document(document_id: int):
    """One of the company's invoices, credit notes or due notes with what is still open."""
    try:
        found = customer_view.own_document(current_user, document_id)
    except NotFound:
        abort(404)
    return render_template("customer_portal/document.html", document=found, state_labels=listing.STATE_LABELS,
                           kind_labels=listing.KIND_LABELS, files={f.format for f in found.files})


@bp.get("/documents/<int:document_id>/<any(pdf, ubl):fmt>")
@require("portal.view")
def document_file(document_id: int, fmt: str):
    try:
        stored = customer_view.own_file(current_user, document_id, fmt)
    except NotFound:
        abort(404)
    return send_file(io.BytesIO(stored.content), mimetype=stored.content_type, as_attachment=True,
                     download_name=stored.filename)


@bp.get("/statement")
@require("portal.view")
def statement():
    """The company's statement of account for a currency and period."""
    customer = customer_portal.own_customer(current_user)
    today = date.today()
    values = {"currency": (request.args.get("currency") or customer.currency).upper()[:3],
              "from": request.args.get("from") or today.replace(month=1, day=1).isoformat(),
              "to": request.args.get("to") or today.isoformat()}
    try:
        found = customer_view.own_statement(current_user, invoicing.check_currency(values["currency"]),
                                            listing.parse_day(values["from"], "from"),
                                            listing.parse_day(values["to"], "to"))
    except ValidationError as exc:
        return render_template("customer_portal/statement.html", statement=None, values=values,
                               errors=exc.errors), 400
    return render_template("customer_portal/statement.html", statement=found, values=values, errors={})


@bp.get("/proformas/<int:proforma_id>")
@require("portal.view")
def proforma(proforma_id: int):
    try:
        found = customer_portal.own_proforma(current_user, proforma_id)
    except NotFound:
        abort(404)
    return render_template("customer_portal/proforma.html", proforma=found)


@bp.get("/proformas/<int:proforma_id>/<fmt>")
@require("portal.view")
def proforma_file(proforma_id: int, fmt: str):
    try:
        document = customer_portal.own_document(current_user, proforma_id, fmt)
    except NotFound:
        abort(404)
    return send_file(io.BytesIO(document.content), mimetype=document.content_type, as_attachment=fmt != "html",
                     download_name=document.filename)


@bp.get("/contracts/<int:contract_id>")
@require("portal.view")
def contract(contract_id: int):
    try:
        found = customer_portal.own_contract(current_user, contract_id)
    except NotFound:
        abort(404)
    return render_template("customer_portal/contract.html", contract=found)
