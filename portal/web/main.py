"""Staff home: the dashboard (later issues add inbox, balances and reports to it)."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.edge import error_text, flash_draft_report
from portal.errors import DomainError
from portal.infra.unit_of_work import unit_of_work
from portal.security import can
from portal.services.billing import drafting
from portal.services.reporting import dashboard
from portal.services.workflow import inbox
from portal.web.access import public, require
from portal.web.forms import EmptyForm

bp = Blueprint("main", __name__)


@bp.get("/")
@public
def home():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if can(current_user, "portal.view"):
        return redirect(url_for("customer_portal.home"))
    return redirect(url_for("main.dashboard"))


@bp.get("/dashboard", endpoint="dashboard")
@require("dashboard.view")
def dashboard_page():
    summary = dashboard.master_data_summary() if can(current_user, "masterdata.read") else None
    changes = dashboard.recent_changes() if can(current_user, "audit.read") else None
    work = inbox.counts(current_user) if can(current_user, "tasks.view") else None
    return render_template("main/dashboard.html", summary=summary, changes=changes, work=work, form=EmptyForm(),
                           last_month=(date.today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m"))


@bp.post("/billing/draft", endpoint="draft_proformas")
@require("billing.draft")
def draft_proformas():
    """The dashboard's "Draft proformas" button: one proforma per active contract for the month."""
    period = request.form.get("period", "")
    try:
        with unit_of_work():
            report = drafting.draft_period(period, prepared_by=current_user.email)
    except DomainError as exc:
        flash(error_text(exc), "error")
        return redirect(url_for("main.dashboard"))
    flash_draft_report(period, report)
    return redirect(url_for("main.dashboard"))
