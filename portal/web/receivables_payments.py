"""Receivables pages for staff: payments (list, Unidentified, export, record), reconciliation, refunds."""

from __future__ import annotations

import io
from datetime import date

from flask import Response, abort, flash, redirect, render_template, request, send_file, stream_with_context, url_for
from flask_login import current_user

from portal.edge import error_text
from portal.errors import DomainError
from portal.extensions import db
from portal.infra.unit_of_work import unit_of_work
from portal.models import Allocation
from portal.models.payments import PAYMENT_METHODS
from portal.money import display
from portal.services.receivables import allocations, listing, payment_export, payments, reconciliation, scope
from portal.services.receivables.payments import PaymentInput
from portal.web.access import require
from portal.web.forms import EmptyForm
from portal.web.receivables import act, bp

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
METHOD_LABELS = {"bank_transfer": "Bank transfer", "card": "Card", "cash": "Cash", "cheque": "Cheque",
                 "online": "Online", "other": "Other"}
MATCH_LABELS = {"iban": "by IBAN", "invoice_number": "by the invoice number in the text", "name": "by name",
                "manual": "by hand", "": "not matched"}


@bp.get("/payments", endpoint="payments")
@require("receivables.read")
def payment_list():
    """Payments, newest first: all, the Unidentified ones, or those with money unapplied."""
    view = request.args.get("view", "all")
    if view not in listing.PAYMENT_VIEWS:
        view = "all"
    page = listing.payments(current_user, view, request.args.get("page", 1, type=int))
    return render_template("receivables/payments.html", page=page, view=view, methods=METHOD_LABELS,
                           matched=MATCH_LABELS, form=EmptyForm(), sees_all=scope.customer_ids(current_user) is None)


@bp.get("/payments/export.<any(csv, xlsx):fmt>", endpoint="payments_export")
@require("receivables.read")
def payments_export(fmt: str):
    """Every payment (or the Unidentified ones) as CSV, streamed, or XLSX; for readers of all customers."""
    if scope.customer_ids(current_user) is not None:
        abort(403)
    rows = payment_export.export_rows(payment_export.Filters(unidentified=request.args.get("view") == "unidentified"))
    name = f"payments-{date.today():%Y-%m-%d}.{fmt}"
    if fmt == "csv":
        return Response(stream_with_context(payment_export.csv_chunks(rows)), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename={name}"})
    return send_file(io.BytesIO(payment_export.xlsx_bytes(rows)), mimetype=XLSX, as_attachment=True,
                     download_name=name)


@bp.route("/payments/new", methods=["GET", "POST"], endpoint="new_payment")
@require("receivables.record")
def new_payment():
    """Record a payment by hand; without a customer it is matched by IBAN, invoice number, then name."""
    if request.method == "GET":
        return _payment_form({}, {})
    try:
        with unit_of_work():
            recorded = payments.record(_payment_input(request.form), current_user.email)
    except DomainError as exc:
        flash(error_text(exc), "error")
        return _payment_form(request.form, getattr(exc, "errors", {})), 400
    flash(f"Payment {recorded.id} recorded" + ("." if recorded.customer else "; no customer matched, it waits in "
                                                 "Unidentified."), "success")
    return redirect(url_for("receivables.payment", payment_id=recorded.id))


def _payment_form(values, errors):
    return render_template("receivables/new_payment.html", values=values, errors=errors, methods=METHOD_LABELS,
                           customers=listing.customers(current_user), today=date.today().isoformat())


def _payment_input(form) -> PaymentInput:
    return PaymentInput(amount=form.get("amount", ""), currency=form.get("currency", ""),
                        value_date=listing.parse_day(form.get("value_date", ""), "value date"),
                        method=form.get("method", "bank_transfer") if form.get("method") in PAYMENT_METHODS
                        else "other", bank_reference=form.get("bank_reference", ""),
                        account_iban=form.get("account_iban", ""), payer_name=form.get("payer_name", ""),
                        payer_iban=form.get("payer_iban", ""), text=form.get("text", ""),
                        customer_code=form.get("customer", ""))


@bp.get("/payments/<int:payment_id>", endpoint="payment")
@require("receivables.read")
def payment(payment_id: int):
    """A payment and its reconciliation: what it is applied to, the ranked suggestions, assign, refund."""
    found = listing.payment(current_user, payment_id)
    suggestions = reconciliation.suggest(found) if found.unapplied > 0 else []
    return render_template("receivables/payment.html", payment=found, suggestions=suggestions,
                           history=sorted(found.allocations, key=lambda a: a.id), live=allocations.live(found),
                           methods=METHOD_LABELS, matched=MATCH_LABELS, form=EmptyForm(),
                           customers=listing.customers(current_user) if found.customer_id is None else [])


@bp.post("/payments/<int:payment_id>/allocate", endpoint="allocate")
@require("receivables.record")
def allocate(payment_id: int):
    """Apply part of the payment to one open document."""
    def use_case():
        found = listing.payment(current_user, payment_id)
        document = listing.document(current_user, request.form.get("document_id", type=int) or 0)
        return allocations.allocate(found, document, request.form.get("amount", ""), current_user.email)
    return _act(use_case, payment_id,
                lambda a: f"{display(a.amount, a.document.currency)} applied to {a.document.number}.")


@bp.post("/allocations/<int:allocation_id>/unreconcile", endpoint="unreconcile")
@require("receivables.record")
def unreconcile(allocation_id: int):
    """Reverse an allocation (kept in the history with its FX reversed)."""
    row = db.session.get(Allocation, allocation_id)
    if row is None:
        abort(404)
    payment_id = row.payment_id

    def use_case():
        listing.payment(current_user, payment_id)
        return allocations.unallocate(row, current_user.email)
    return _act(use_case, payment_id, lambda r: f"Allocation to {r.document.number} reversed.")


@bp.post("/payments/<int:payment_id>/assign", endpoint="assign")
@require("receivables.record")
def assign(payment_id: int):
    """Give an unidentified payment its customer."""
    def use_case():
        found = listing.payment(current_user, payment_id)
        return payments.assign(found, payments.customer_by_code(request.form.get("customer", "")), current_user.email)
    return _act(use_case, payment_id, lambda p: f"Payment {p.id} now belongs to {p.customer.name}.")


@bp.post("/payments/<int:payment_id>/refund", endpoint="refund")
@require("receivables.correct")
def refund(payment_id: int):
    """Pay back part of the payment's unapplied amount."""
    def use_case():
        found = listing.payment(current_user, payment_id)
        return payments.refund(request.form.get("amount", ""), current_user.email, payment=found,
                               reason=request.form.get("reason", ""))
    return _act(use_case, payment_id, lambda r: f"Refund of {display(r.amount, r.currency)} recorded.")


@bp.post("/reconcile/auto", endpoint="auto_reconcile")
@require("receivables.record")
def auto_reconcile():
    """Apply every suggestion whose number and amount both match; say what was done."""
    with unit_of_work():
        done = reconciliation.auto_reconcile(current_user.email)
    if not done:
        flash("Nothing to auto-reconcile: no payment names an open document with exactly its amount.", "info")
    for item in done:
        flash(f"Payment {item.payment.id}: {display(item.amount, item.document.currency)} applied to "
              f"{item.document.number}.", "success")
    return redirect(url_for("receivables.payments"))


def _act(use_case, payment_id: int, message):
    return act(use_case, url_for("receivables.payment", payment_id=payment_id), message)
