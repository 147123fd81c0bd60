"""Staff home: the dashboard (later issues add inbox, balances and reports to it)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from portal.security import can
from portal.services import dashboard, inbox
from portal.web.access import public, require

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
    return render_template("main/dashboard.html", summary=summary, changes=changes, work=work)
