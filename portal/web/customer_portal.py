"""Customer portal: a customer user sees its own company and nothing else (404 for the rest)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user

from portal.errors import NotFound
from portal.services import customer_portal
from portal.web.access import require

bp = Blueprint("customer_portal", __name__, url_prefix="/portal")


@bp.get("/")
@require("portal.view")
def home():
    customer = customer_portal.own_customer(current_user)
    return render_template("customer_portal/home.html", customer=customer,
                           contracts=customer_portal.own_contracts(current_user))


@bp.get("/contracts/<int:contract_id>")
@require("portal.view")
def contract(contract_id: int):
    try:
        found = customer_portal.own_contract(current_user, contract_id)
    except NotFound:
        abort(404)
    return render_template("customer_portal/contract.html", contract=found)
