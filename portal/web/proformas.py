"""Staff proforma pages: the list (filters, totals per currency, CSV/XLSX export, "Draft period") and the case page."""

from __future__ import annotations

import io
from datetime import date, timedelta

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_login import current_user

from portal.edge import error_text, flash_draft_report
from portal.errors import DomainError, ValidationError
from portal.infra.unit_of_work import unit_of_work
from portal.models.billing import PROFORMA_STATES
from portal.security import can
from portal.services.billing import drafting, proforma_cases, proforma_list
from portal.services.workflow import tasks
from portal.web.access import require
from portal.web.forms import EmptyForm

bp = Blueprint("proformas", __name__, url_prefix="/proformas")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/", endpoint="index")
@require("proformas.view")
def index():
    """The list: filtered, sorted, one page, totals per currency; bad filters marked at their fields (400)."""
    size = request.args.get("per_page", proforma_list.DEFAULT_PAGE_SIZE, type=int)
    size = size if size in proforma_list.PAGE_SIZES else proforma_list.DEFAULT_PAGE_SIZE
    try:
        filters = proforma_list.parse_filters(request.args)
    except ValidationError as exc:
        # The form again with what was typed and every bad field marked; no rows for filters that mean nothing.
        return _list_page(proforma_list.Filters(), None, [], dict(request.args), exc.errors, size), 400
    found = proforma_list.page(filters, max(1, request.args.get("page", 1, type=int)), size)
    return _list_page(filters, found, proforma_list.totals(filters), filters.args(), {}, size)


def _list_page(filters, found, totals, values: dict, errors: dict, size: int):
    return render_template(
        "proformas/list.html", filters=filters, page=found, totals=totals, values=values, errors=errors,
        labels=proforma_list.LABELS, size=size, sizes=proforma_list.PAGE_SIZES, options=proforma_list.filter_options(),
        where=proforma_list.positions(p.process_instance_id for p in (found.items if found else [])),
        states=[(state, proforma_list.STATUS_LABELS[state]) for state in PROFORMA_STATES],
        status_labels=proforma_list.STATUS_LABELS,
        unassigned=proforma_list.UNASSIGNED, form=EmptyForm(), last_month=_last_month(),
        link_args=dict(filters.args(), **({"per_page": size} if size != proforma_list.DEFAULT_PAGE_SIZE else {})))


def _last_month() -> str:
    return (date.today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


@bp.get("/export.<any(csv, xlsx):fmt>", endpoint="export")
@require("proformas.view")
def export(fmt: str):
    """The filtered set (every page, bounded) as CSV, streamed, or as an XLSX workbook."""
    try:
        filters = proforma_list.parse_filters(request.args)
    except ValidationError as exc:  # the error page, naming the fields as the list labels them
        raise ValidationError.of(proforma_list.labelled(exc.errors)) from exc
    rows = proforma_list.export_rows(filters)
    name = f"proformas-{date.today():%Y-%m-%d}.{fmt}"
    if fmt == "csv":
        return Response(stream_with_context(proforma_list.csv_chunks(rows)), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename={name}"})
    return send_file(io.BytesIO(proforma_list.xlsx_bytes(rows)), mimetype=XLSX, as_attachment=True,
                     download_name=name)


@bp.post("/draft", endpoint="draft")
@require("billing.draft")
def draft():
    """The list's "Draft period": the dashboard's use case (one proforma per active contract), then that month."""
    period = request.form.get("period", "").strip()
    try:
        with unit_of_work():
            report = drafting.draft_period(period, prepared_by=current_user.email)
    except DomainError as exc:
        flash(error_text(exc), "error")
        return redirect(url_for("proformas.index"))
    flash_draft_report(period, report)
    return redirect(url_for("proformas.index", period_from=period, period_to=period))


@bp.get("/<int:proforma_id>", endpoint="case")
@require("proformas.view")
def case_page(proforma_id: int):
    """One proforma: header, where it is in its process, lines, documents, uploads, e-mails and its timeline."""
    case = proforma_cases.case(proforma_id)  # NotFound: the 404 page
    return render_template("proformas/case.html", case=case, proforma=case.proforma,
                           status=proforma_list.STATUS_LABELS, role_names=proforma_list.role_names,
                           task_links=_visible_tasks(case),
                           instance_link=case.position is not None and can(current_user, "processes.read"))


def _visible_tasks(case) -> set[int]:
    """The open tasks the user may open (the task page is a 404 for the others)."""
    if case.position is None or not can(current_user, "tasks.view"):
        return set()
    return {task.id for task in case.position.tasks if tasks.may_see(tasks.get(task.id), current_user)}


@bp.get("/<int:proforma_id>/documents/<fmt>", endpoint="document")
@require("proformas.view")
def document(proforma_id: int, fmt: str):
    """A rendered file of the proforma (HTML opens in the browser, the rest downloads)."""
    stored = proforma_cases.document(proforma_id, fmt)  # NotFound: the 404 page
    return send_file(io.BytesIO(stored.content), mimetype=stored.content_type, as_attachment=fmt != "html",
                     download_name=stored.filename)
