"""Grids for receivables: invoices, credit and due notes with their lines, payments, allocations, refunds,
adjustments, the ledger, balances and bank-file imports.

Everything here was posted by a use case and is read-only; an adjustment is made through its use case
(`corrections.adjust`, which posts it to the ledger) and bank import mappings are settings people keep. Readers see
the rows of the customers `portal.services.receivables.scope` lets them see.
"""

from __future__ import annotations

import json
from decimal import Decimal

from flask_admin.contrib.sqla.fields import QuerySelectField
from flask_admin.contrib.sqla.filters import FilterEmpty
from flask_admin.form import JSONField
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from admin.base import AdminForm, ReadOnlyView, SecuredModelView
from portal import money
from portal.edge import humanize
from portal.extensions import db
from portal.models import (
    Adjustment,
    Allocation,
    BankImportMapping,
    CreditNote,
    Customer,
    CustomerBalance,
    DueNote,
    Invoice,
    LedgerEntry,
    Payment,
    PaymentImport,
    ReceivableDocument,
    Refund,
)
from portal.models.ledger import ENTRY_KINDS
from portal.models.payments import MATCHED_BY, PAYMENT_METHODS
from portal.models.receivables import CREDIT, DEBIT, INVOICE_STATES
from portal.services.masterdata import fx
from portal.services.receivables import corrections, scope
from portal.services.receivables.matching import compact_iban


def words(values, **special) -> list[tuple[str, str]]:
    """Stored codes as people read them: "partially_paid" -> "Partially paid", "iban" -> "IBAN"."""
    return [(value, special.get(value) or humanize(value)) for value in values]


STATES = words(INVOICE_STATES)
CUSTOMER_FILTERS = ("customer.code", "customer.name")
SIDES = words((DEBIT, CREDIT))


# ---------------------------------------------------------------- amounts, each in its own currency

def money_in(currency_of):
    """A formatter: the amount with thousands separators in the currency `currency_of(model)` names."""
    def formatter(view, context, model, name):
        return money.display(getattr(model, name), currency_of(model), code=False)
    return formatter


in_base = money_in(lambda model: fx.base_currency())  # documents, payments, refunds, adjustments: their base amount
in_row_base = money_in(lambda model: model.base_currency)  # ledger entries and allocations name theirs
in_own = money_in(lambda model: model.currency)


def _customer_or_unidentified(view, context, model, name):
    return str(model.customer) if model.customer is not None else "Unidentified"


def _payment(view, context, model, name):
    payment = model.payment
    if payment is None:
        return ""
    return f"PAY-{payment.id} ({money.display(payment.amount, payment.currency)}, {payment.value_date})"


def _lines(view, context, model, name):
    """A document's lines as a table: position, description, quantity, unit, price, tax, net and tax amounts."""
    def show(value) -> str:
        return money.display(value, model.currency, code=False)

    rows = "".join(
        f"<tr><td>{line.position}</td><td>{escape(line.description)}</td>"
        f"<td>{escape(f'{Decimal(line.quantity).normalize():,f}')}</td><td>{escape(line.unit)}</td>"
        f"<td>{escape(show(line.unit_price))}</td><td>{escape(f'{Decimal(line.tax_rate).normalize():f} %')}</td>"
        f"<td>{escape(show(line.net_amount))}</td><td>{escape(show(line.tax_amount))}</td></tr>"
        for line in model.lines)
    head = "".join(f"<th>{escape(text)}</th>" for text in (
        "Position", "Description", "Quantity", "Unit", "Unit price", "Tax rate", "Net amount", "Tax amount"))
    # Every value was escaped above.
    return Markup(f'<table class="table table-sm mb-0"><tr>{head}</tr>{rows}</table>')  # noqa: S704


def reference(prefix: str):
    """A formatter: the row's id as the ledger's reference names it ("PAY-12", "REF-3", "ADJ-7")."""
    return lambda view, context, model, name: f"{prefix}-{model.id}"


def _reversed(view, context, model, name):
    return f"Allocation {model.reverses_id}" if model.reverses_id is not None else ""


def _readable_json(value) -> str:
    return json.dumps(value or {}, indent=2, sort_keys=True, ensure_ascii=False)


def _settings(view, context, model, name):
    return Markup(f'<pre class="mb-0">{escape(_readable_json(model.settings))}</pre>')  # noqa: S704 - escaped


# ---------------------------------------------------------------- the grids

class UnidentifiedFilter(FilterEmpty):
    """Payments nobody could match to a customer yet (Yes), or those with one (No)."""

    def operation(self):
        return "is"


class ReceivablesView(ReadOnlyView):
    """A receivables grid: read with "receivables.read", only the rows of the customers the user may see."""

    read_permission = "receivables.read"
    write_permission = "receivables.record"

    def customer_of(self):
        """The column (or expression) naming each row's customer."""
        return self.model.customer_id

    def scoped(self, query):
        return scope.restrict(query, self.customer_of(), current_user)

    def get_query(self):
        return self.scoped(super().get_query())

    def get_count_query(self):
        return self.scoped(super().get_count_query())

    def get_one(self, id):
        """The row (details, edit) only if the list would show it; Flask-Admin says it does not exist otherwise."""
        found = super().get_one(id)
        if found is None:
            return None
        keys = zip(self.model.__mapper__.primary_key, sa_inspect(found).identity, strict=True)
        return self.get_query().filter(*(column == value for column, value in keys)).one_or_none()


def formatted(view_class, formatters: dict, exported: tuple[str, ...] = ()) -> None:
    """The same formatters in the list and the details (Flask-Admin keeps two sets); the `exported` ones in exports
    too (amounts are exported as stored)."""
    view_class.column_formatters = view_class.column_formatters_detail = formatters
    if exported:
        view_class.column_formatters_export = {name: formatters[name] for name in exported}


# How a stored conversion is named wherever one is shown.
FX_LABELS = {"fx_rate": "Exchange rate (base currency per unit)", "fx_rate_date": "Exchange rate date",
             "fx_source": "Exchange rate source"}


DOCUMENT_DETAILS = ("number", "customer", "contract", "proforma", "corrects", "state", "currency", "issue_date",
                    "due_date", "net_total", "tax_total", "gross_total", "allocated_total", "credited_total",
                    "open_amount", "base_amount", "fx_rate", "fx_rate_date", "fx_source", "buyer_reference",
                    "purchase_order_number", "reason", "notes", "created_by", "created_at", "issued_by", "issued_at",
                    "cancelled_at", "lines")


class DocumentView(ReceivablesView):
    """Invoices and due notes: issued by the services, never changed here; the details list the lines."""

    column_list = ("number", "customer", "issue_date", "due_date", "state", "currency", "gross_total", "open_amount",
                   "base_amount")
    column_details_list = DOCUMENT_DETAILS
    column_export_list = column_list
    column_sortable_list = ("number", ("customer", "customer.name"), "issue_date", "due_date", "state", "currency",
                            "gross_total", "base_amount")
    column_searchable_list = ("number", "customer.name", "customer.code")
    column_filters = (*CUSTOMER_FILTERS, "state", "currency", "issue_date", "due_date")
    column_choices = {"state": STATES}
    column_default_sort = [("issue_date", True), ("id", True)]
    column_labels = {"gross_total": "Total", "net_total": "Net", "tax_total": "Tax",
                     "base_amount": "Total (base currency)", **FX_LABELS, "allocated_total": "Paid",
                     "credited_total": "Credited", "corrects": "Corrects", "lines": "Lines"}


formatted(DocumentView, {"open_amount": in_own, "unapplied_credit": in_own, "base_amount": in_base,
                         "lines": _lines})


class CreditNoteView(DocumentView):
    """Credit notes: what each credits and the credit not applied to it (nor refunded)."""

    column_list = ("number", "customer", "corrects", "issue_date", "due_date", "state", "currency", "gross_total",
                   "unapplied_credit", "base_amount")
    column_details_list = (*(name for name in DOCUMENT_DETAILS
                             if name not in ("allocated_total", "credited_total", "open_amount")),
                           "applied_total", "refunded_total", "unapplied_credit")
    column_export_list = column_list
    column_searchable_list = (*DocumentView.column_searchable_list, "corrects.number")
    column_labels = {**DocumentView.column_labels, "corrects": "Credits", "corrects.number": "Credited document number",
                     "applied_total": "Applied to the document", "refunded_total": "Refunded"}


class PaymentView(ReceivablesView):
    column_list = ("id", "value_date", "customer", "amount", "currency", "method", "bank_reference", "payer_name",
                   "payer_iban", "matched_by", "unapplied", "base_amount")
    column_details_list = (*column_list, "allocated_total", "refunded_total", "account_iban", "text", "fx_rate",
                           "fx_rate_date", "fx_source", "payment_import", "created_by", "created_at")
    column_export_list = column_list
    column_sortable_list = ("id", "value_date", ("customer", "customer.name"), "amount", "currency", "method",
                            "bank_reference", "payer_name", "matched_by", "base_amount")
    column_searchable_list = ("bank_reference", "payer_name", "payer_iban", "text", "customer.name")
    column_filters = (UnidentifiedFilter(Payment.customer_id, "Unidentified"), *CUSTOMER_FILTERS,
                      "currency", "value_date", "method", "matched_by", "amount")
    column_choices = {"method": words(PAYMENT_METHODS), "matched_by": words(MATCHED_BY, manual="By hand",
                                                                            **{"": "Not matched"})}
    column_default_sort = [("value_date", True), ("id", True)]
    column_labels = {"id": "Reference", "base_amount": "Amount (base currency)", "account_iban": "Paid into (IBAN)",
                     "text": "Remittance information", **FX_LABELS, "allocated_total": "Allocated",
                     "refunded_total": "Refunded", "payment_import": "Imported from"}


formatted(PaymentView, {"id": reference("PAY"), "customer": _customer_or_unidentified, "unapplied": in_own,
                        "base_amount": in_base}, exported=("id", "customer"))


class AllocationView(ReceivablesView):
    """Payments applied to documents; a reversal is a row of its own pointing at the allocation it undoes."""

    column_list = ("id", "allocated_on", "payment", "document", "amount", "realized_fx", "reverses", "reason",
                   "created_by")
    column_details_list = (*column_list, "base_currency", "created_at")
    column_export_list = column_list
    column_sortable_list = ("id", "allocated_on", ("document", "document.number"), "amount", "realized_fx")
    column_searchable_list = ("document.number", "payment.bank_reference", "reason")
    column_filters = ("allocated_on", "document.number", "amount", "realized_fx", "reason")
    column_default_sort = [("allocated_on", True), ("id", True)]
    column_labels = {"id": "Allocation no.", "realized_fx": "Realized FX (base currency)", "reverses": "Reversal of",
                     "document": "Document", "payment": "Payment", "allocated_on": "Allocated on"}

    def customer_of(self):
        return (select(ReceivableDocument.customer_id).where(ReceivableDocument.id == Allocation.document_id)
                .scalar_subquery())


formatted(AllocationView, {"payment": _payment, "reverses": _reversed,
                           "amount": money_in(lambda model: model.document.currency), "realized_fx": in_row_base},
          exported=("payment", "reverses"))


class RefundView(ReceivablesView):
    column_list = ("id", "refund_date", "customer", "amount", "currency", "payment", "credit_note", "reason",
                   "base_amount", "created_by")
    column_details_list = (*column_list, "fx_rate", "fx_rate_date", "fx_source", "created_at")
    column_export_list = column_list
    column_sortable_list = ("id", "refund_date", ("customer", "customer.name"), "amount", "currency", "base_amount")
    column_searchable_list = ("customer.name", "customer.code", "reason")
    column_filters = (*CUSTOMER_FILTERS, "currency", "refund_date", "amount")
    column_default_sort = [("refund_date", True), ("id", True)]
    column_labels = {"id": "Reference", "base_amount": "Amount (base currency)", "credit_note": "Credit note",
                     "payment": "Payment", **FX_LABELS}


formatted(RefundView, {"id": reference("REF"), "payment": _payment, "base_amount": in_base},
          exported=("id", "payment"))


class AdjustmentForm(AdminForm):
    customer = QuerySelectField("Customer", allow_blank=False, query_factory=lambda: db.session.scalars(
        scope.restrict(select(Customer).order_by(Customer.code), Customer.id, current_user)))
    side = SelectField("Side", choices=[(DEBIT, "Debit (the customer owes more)"),
                                        (CREDIT, "Credit (the customer owes less)")])
    amount = StringField("Amount", validators=[DataRequired()])
    currency = StringField("Currency (blank: the customer's)", validators=[Optional(), Length(max=3)])
    entry_date = DateField("Entry date (blank: today)", validators=[Optional()])
    reason = TextAreaField("Reason", validators=[DataRequired()])


class AdjustmentView(ReceivablesView):
    """Manual debits and credits; a new one is posted to the ledger by the use case, never edited afterwards."""

    write_permission = "receivables.correct"
    create_allowed = True
    form = AdjustmentForm
    column_list = ("id", "entry_date", "customer", "side", "amount", "currency", "reason", "base_amount",
                   "created_by")
    column_details_list = (*column_list, "fx_rate", "fx_rate_date", "fx_source", "created_at")
    column_export_list = column_list
    column_sortable_list = ("id", "entry_date", ("customer", "customer.name"), "side", "amount", "currency",
                            "base_amount")
    column_searchable_list = ("customer.name", "customer.code", "reason")
    column_filters = (*CUSTOMER_FILTERS, "side", "currency", "entry_date", "amount")
    column_choices = {"side": SIDES}
    column_default_sort = [("entry_date", True), ("id", True)]
    column_labels = {"id": "Reference", "base_amount": "Amount (base currency)", **FX_LABELS}

    def create_model(self, form):
        customer = form.customer.data
        return self.create_with(form, lambda: corrections.adjust(
            customer, (form.currency.data or "").strip() or customer.currency, form.side.data, form.amount.data,
            form.reason.data, current_user.email, on=form.entry_date.data))


formatted(AdjustmentView, {"id": reference("ADJ"), "base_amount": in_base}, exported=("id",))


class LedgerEntryView(ReceivablesView):
    """The customer ledger: append-only, so never edited or deleted here (nor anywhere: triggers refuse it)."""

    column_list = ("entry_date", "customer", "kind", "reference", "debit", "credit", "currency", "base_debit",
                   "base_credit", "balance_after")
    column_details_list = (*column_list, "narration", "products", "base_currency", "fx_rate", "posted_by",
                           "posted_at", "previous_hash", "entry_hash")
    column_export_list = (*column_list, "narration", "base_currency", "fx_rate")
    column_sortable_list = ("entry_date", ("customer", "customer.name"), "kind", "reference", "debit", "credit",
                            "currency", "base_debit", "base_credit", "balance_after")
    column_searchable_list = ("reference", "narration", "customer.name", "customer.code")
    column_filters = (*CUSTOMER_FILTERS, "kind", "currency", "entry_date", "reference", "debit", "credit")
    column_choices = {"kind": words(ENTRY_KINDS)}
    column_default_sort = [("entry_date", True), ("id", True)]
    column_labels = {"entry_date": "Date", "base_debit": "Debit (base currency)",
                     "base_credit": "Credit (base currency)", "fx_rate": FX_LABELS["fx_rate"],
                     "previous_hash": "Previous entry's hash", "entry_hash": "Entry hash"}


formatted(LedgerEntryView, {"base_debit": in_row_base, "base_credit": in_row_base})


class CustomerBalanceView(ReceivablesView):
    column_list = ("customer", "currency", "balance", "base_balance", "entries", "updated_at")
    column_details_list = (*column_list, "last_hash")
    column_export_list = column_list
    column_sortable_list = (("customer", "customer.name"), "currency", "balance", "base_balance", "entries",
                            "updated_at")
    column_searchable_list = ("customer.name", "customer.code")
    column_filters = (*CUSTOMER_FILTERS, "currency", "balance", "updated_at")
    column_default_sort = ("customer_id", False)
    column_labels = {"base_balance": "Balance (base currency)", "entries": "Entries",
                     "last_hash": "Last entry's hash"}


formatted(CustomerBalanceView, {"base_balance": in_base})


class PaymentImportView(ReceivablesView):
    """Confirmed bank-file imports; a reader limited to some customers sees the imports that paid them."""

    column_list = ("imported_at", "filename", "file_format", "account_iban", "payments", "duplicates", "skipped",
                   "errors", "imported_by")
    column_details_list = (*column_list, "sha256")
    column_export_list = column_details_list
    column_searchable_list = ("filename", "account_iban", "sha256", "imported_by")
    column_filters = ("imported_at", "file_format", "account_iban", "imported_by")
    column_choices = {"file_format": words(("csv", "xlsx", "camt053", "mt940"), csv="CSV", xlsx="XLSX",
                                           camt053="camt.053", mt940="MT940")}
    column_default_sort = ("imported_at", True)
    column_labels = {"file_format": "Format", "account_iban": "Account (IBAN)", "payments": "Payments recorded",
                     "duplicates": "Duplicates", "skipped": "Skipped", "errors": "Errors", "sha256": "SHA-256"}

    def scoped(self, query):
        """An import has no customer of its own: a limited reader sees those that recorded a payment it may see."""
        ids = scope.customer_ids(current_user)
        if ids is None:
            return query
        return query.filter(PaymentImport.id.in_(select(Payment.import_id).where(Payment.customer_id.in_(ids))))


class SettingsField(JSONField):
    """Mapping settings as indented JSON; refused unless an object ("{...}"), blank meaning none."""

    def _value(self) -> str:
        return self.raw_data[0] if self.raw_data else _readable_json(self.data)

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is None:
            self.data = {}
        elif not isinstance(self.data, dict):
            self.data = None
            raise ValueError('must be a JSON object, e.g. {"date": "Booking date", "amount": "Amount"}')


class BankImportMappingView(SecuredModelView):
    """How each of our bank accounts' CSV or XLSX statements is read; kept by those who record payments."""

    read_permission = "receivables.read"
    write_permission = "receivables.record"
    delete_allowed = False  # an account's mapping is corrected, not forgotten
    column_list = ("account_iban", "settings", "updated_by", "updated_at")
    column_sortable_list = ("account_iban", "updated_by", "updated_at")  # PostgreSQL cannot order by JSON
    column_searchable_list = ("account_iban", "updated_by")
    column_filters = ("account_iban", "updated_by", "updated_at")
    column_default_sort = "account_iban"
    column_labels = {"account_iban": "Account (IBAN)", "settings": "Column mapping (JSON)"}
    column_formatters_export = {"settings": lambda view, context, model, name: json.dumps(model.settings,
                                                                                         sort_keys=True)}
    form_columns = ("account_iban", "settings")
    form_overrides = {"settings": SettingsField}
    form_widget_args = {"settings": {"rows": 10, "spellcheck": "false"}}

    def on_model_change(self, form, model, is_created):
        model.account_iban = compact_iban(model.account_iban)
        model.updated_by = current_user.email
        super().on_model_change(form, model, is_created)


formatted(BankImportMappingView, {"settings": _settings})


def register(admin) -> None:
    category = "Finance"  # with the exchange rates: one menu for the money data
    for view, model, name, endpoint in (
        (DocumentView, Invoice, "Invoices", "invoices"),
        (CreditNoteView, CreditNote, "Credit notes", "credit_notes"),
        (DocumentView, DueNote, "Due notes", "due_notes"),
        (PaymentView, Payment, "Payments", "payments"),
        (AllocationView, Allocation, "Allocations", "allocations"),
        (RefundView, Refund, "Refunds", "refunds"),
        (AdjustmentView, Adjustment, "Adjustments", "adjustments"),
        (LedgerEntryView, LedgerEntry, "Ledger entries", "ledger_entries"),
        (CustomerBalanceView, CustomerBalance, "Customer balances", "customer_balances"),
        (PaymentImportView, PaymentImport, "Payment imports", "payment_imports"),
        (BankImportMappingView, BankImportMapping, "Bank import mappings", "bank_import_mappings"),
    ):
        admin.add_view(view(model, name=name, endpoint=endpoint, category=category))
