"""The customer ledger page (statement of account, seed 004) and its CSV, XLSX and PDF exports."""

from __future__ import annotations

import io
from datetime import date

from flask import Response, render_template, request, send_file, stream_with_context
from flask_login import current_user

from portal.errors import ValidationError
from portal.services.receivables import ledger_export, listing, scope
from portal.web.access import require
from portal.web.receivables import bp

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PAGE_ROWS = 2000  # beyond this the page asks for an export instead


@bp.get("/ledger", endpoint="ledger")
@require("receivables.read")
def ledger():
    """Choose customer, currency and dates; the statement below, or a file when `format` is asked."""
    values = _values(request.args)
    if not values["customer"]:
        return _page(values, None, {})
    try:
        statement = _statement(values, stream=values["format"] in ("csv", "xlsx"))
    except ValidationError as exc:
        return _page(values, None, exc.errors), 400
    if values["format"] in ("csv", "xlsx", "pdf"):
        return _file(statement, values["format"])
    return _page(values, statement, {})


def _values(args) -> dict:
    today = date.today()
    return {"customer": args.get("customer", "").strip(), "currency": args.get("currency", "").strip().upper(),
            "from": args.get("from", "") or today.replace(month=1, day=1).isoformat(),
            "to": args.get("to", "") or today.isoformat(), "base": args.get("base") == "1",
            "format": args.get("format", "")}


def _statement(values: dict, *, stream: bool):
    start, end = listing.parse_day(values["from"], "from"), listing.parse_day(values["to"], "to")
    statement = ledger_export.statement_for(values["customer"], values["currency"] or None, start, end,
                                            in_base=values["base"], stream=stream)
    scope.check(current_user, statement.customer.id)  # before anything is shown or exported
    return statement


def _page(values: dict, statement, errors: dict):
    rows = statement.rows[:PAGE_ROWS] if statement is not None else []
    return render_template("receivables/ledger.html", values=values, statement=statement, rows=rows,
                           more=statement is not None and len(statement.rows) > PAGE_ROWS, errors=errors,
                           customers=listing.customers(current_user), args=_export_args(values))


def _export_args(values: dict) -> dict:
    args = {key: values[key] for key in ("customer", "currency", "from", "to") if values[key]}
    return {**args, "base": "1"} if values["base"] else args


def _file(statement, fmt: str):
    name = (f"ledger-{statement.customer.code}-{statement.currency}-{statement.start.isoformat()}-"
            f"{statement.end.isoformat()}.{fmt}")
    if fmt == "csv":
        return Response(stream_with_context(_csv_chunks(statement)), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename={name}"})
    if fmt == "xlsx":
        out = io.BytesIO()
        ledger_export.write_xlsx(statement, out)
        out.seek(0)
        return send_file(out, mimetype=XLSX, as_attachment=True, download_name=name)
    return send_file(io.BytesIO(ledger_export.write_pdf(statement)), mimetype="application/pdf", as_attachment=True,
                     download_name=name)


def _csv_chunks(statement):
    buffer = io.StringIO()
    ledger_export.write_csv(statement, buffer)
    yield buffer.getvalue()
