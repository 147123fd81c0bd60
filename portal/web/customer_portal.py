"""Customer portal: a customer user sees its own company and nothing else (404 for the rest)."""

from __future__ import annotations

import io

from flask import Blueprint, abort, render_template, send_file
from flask_login import current_user

from portal.errors import NotFound
from portal.services.identity import customer_portal
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
                           proformas=customer_portal.own_proformas(current_user))


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
