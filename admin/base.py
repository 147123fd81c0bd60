"""The base every admin grid uses: permissions, CSRF, field-named validation errors, safe exports."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from decimal import Decimal

from flask import abort, current_app, flash, g, redirect, request, session, url_for
from flask_admin import AdminIndexView, expose
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.validators import Unique
from flask_admin.form import BaseForm
from flask_admin.model import typefmt
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DataError, IntegrityError

from admin.decimals import ExactDecimalFilters, ExactDecimalForms
from portal import money
from portal.edge import humanize
from portal.errors import ValidationError
from portal.exports.cells import neutralise_formula
from portal.extensions import db
from portal.infra.unit_of_work import unit_of_work
from portal.models.types import ExactDecimal, Money, Percent, Quantity
from portal.security import can
from portal.services.masterdata import rules

log = logging.getLogger(__name__)


class AdminForm(BaseForm):
    """Flask-Admin's form with Flask-WTF's CSRF token, which the app-wide CSRFProtect checks."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form):
            return BaseForm.Meta._translations


class GuardedView:
    """Mixin: read access by one permission, changes by another; 403 or sign-in otherwise."""

    read_permission = "masterdata.read"
    write_permission = "masterdata.write"

    def is_accessible(self) -> bool:
        return can(current_user, self.read_permission)

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path))
        abort(403)

    @property
    def may_write(self) -> bool:
        return can(current_user, self.write_permission)


def _allowed_and_writable(flag: str) -> property:
    """Flask-Admin's can_* flag: the view allows it and the signed-in user may write."""
    return property(lambda view: getattr(view, flag) and view.may_write,
                    lambda view, value: setattr(view, flag, value))


def local_minute(view, value: datetime, name: str) -> str:
    """A timestamp column to the minute in the user's time zone, by the `local_time` filter the pages use."""
    # Looked up on the app: admin and portal.web are sibling edges and may not import each other.
    return current_app.jinja_env.filters["local_time"](value)


# ------------------------------------------------------------------------ labels and numbers in words (issue 10)

# Where a grid's column names come from, besides the model's own attributes.
NAMED_COLUMNS = ("column_list", "column_filters", "column_searchable_list", "column_details_list",
                 "column_export_list", "column_sortable_list", "form_columns")


def column_label(model, name: str) -> str:
    """A (possibly dotted) column name in words: "customer.code" -> "Customer code", "roles.code" -> "Role code"."""
    relation, _, column = name.partition(".")
    if not column:
        return humanize(name)
    prop = sa_inspect(model).relationships.get(relation)
    if prop is not None and prop.uselist and relation.endswith("s"):
        relation = relation[:-1]  # one role's code, not "roles code"
    return humanize(f"{relation}_{column}")


def labels_in_words(view, model) -> dict[str, str]:
    """Labels for every column, filter, search field and form field of a grid; the view's own labels win.

    Flask-Admin would write "Billing City" in headers, "billing_city" in the search box and leave a form field
    unlabelled in words once a view names any label itself, so every name gets one here."""
    names = set(sa_inspect(model).attrs.keys())
    for attribute in NAMED_COLUMNS:
        names.update(name for name in (getattr(view, attribute, None) or ()) if isinstance(name, str))
    return {**{name: column_label(model, name) for name in names}, **(view.column_labels or {})}


def inline_models_in_words(inline_models):
    """The view's inline models, each labelled in words like the grid (Flask-Admin reads `column_labels` off each)."""
    def labelled(entry):
        model, options = entry if isinstance(entry, tuple) else (entry, {})
        if not isinstance(model, type):  # an InlineFormAdmin, configured by hand
            return entry
        words = labels_in_words(type("Inline", (), {"column_labels": options.get("column_labels")}), model)
        return model, {**options, "column_labels": words}

    return tuple(labelled(entry) for entry in inline_models or ())


def decimal_columns(model, kind) -> set[str]:
    """The model's columns of one decimal type (`Percent`, `Money`, `Quantity`), told by precision and scale."""
    wanted = kind()
    return {attr.key for attr in sa_inspect(model).column_attrs
            if isinstance(attr.columns[0].type, ExactDecimal)
            and (attr.columns[0].type.impl.precision, attr.columns[0].type.scale)
            == (wanted.impl.precision, wanted.scale)}


def percent_columns(model) -> set[str]:
    """The model's columns of the Percent type (tax rates), stored with 4 decimals."""
    return decimal_columns(model, Percent)


def rate_as_percent(view, value: Decimal, name: str):
    """A tax rate as people write it ("19 %", "7.5 %"), not as stored ("19.0000"); other numbers as they are."""
    if name not in getattr(view, "_percent_columns", ()):
        return value
    return f"{value.normalize():f} %"


def amount_in_words(view, context, model, name: str) -> str:
    """An amount with thousands separators and its currency's decimals (the row's, or its contract's)."""
    value = getattr(model, name)
    currency = getattr(model, "currency", None) or getattr(getattr(model, "contract", None), "currency", None)
    return money.display(value, currency if isinstance(currency, str) else None, code=False)


def quantity_in_words(view, context, model, name: str) -> str:
    """A quantity as people write it ("25", "1,000,000", "2.5"), not as stored ("25.0000")."""
    value = getattr(model, name)
    return "" if value is None else f"{Decimal(value).normalize():,f}"


def show_in_words(view, model) -> None:
    """Before Flask-Admin builds the grid: labels in words; tax rates as percentages, amounts grouped in their
    currency and quantities without trailing zeros, in lists and details (exports keep the stored values)."""
    view.column_labels = labels_in_words(view, model)
    view.inline_models = inline_models_in_words(getattr(view, "inline_models", None))
    view._percent_columns = percent_columns(model)
    for attribute in ("column_type_formatters", "column_type_formatters_detail"):
        view_formatters = getattr(view, attribute) or {}
        setattr(view, attribute, {**view_formatters, Decimal: rate_as_percent})
    shown = {**dict.fromkeys(decimal_columns(model, Money), amount_in_words),
             **dict.fromkeys(decimal_columns(model, Quantity), quantity_in_words)}
    for attribute in ("column_formatters", "column_formatters_detail"):
        setattr(view, attribute, {**shown, **(getattr(view, attribute) or {})})


class SecuredModelView(GuardedView, ModelView):
    """A searchable, filterable, exportable grid whose saves pass the domain rules."""

    form_base_class = AdminForm
    filter_converter = ExactDecimalFilters()
    model_form_converter = ExactDecimalForms
    # Lists and details show timestamps for people; exports keep the stored UTC value to the second.
    column_type_formatters = {**typefmt.BASE_FORMATTERS, datetime: local_minute}
    column_type_formatters_detail = {**typefmt.DETAIL_FORMATTERS, datetime: local_minute}
    can_export = True
    export_types = ["csv", "xlsx"]
    export_max_rows = 100_000
    can_view_details = True
    can_set_page_size = True
    page_size = 20
    column_display_pk = False
    details_modal = False
    create_allowed = True
    edit_allowed = True
    delete_allowed = True

    def __init__(self, model, **kwargs):
        show_in_words(self, model)
        super().__init__(model, db, **kwargs)

    can_create = _allowed_and_writable("create_allowed")
    can_edit = _allowed_and_writable("edit_allowed")
    can_delete = _allowed_and_writable("delete_allowed")

    def on_model_change(self, form, model, is_created):
        """Check every row this save touches (inline rows too) before the commit."""
        for obj in list(db.session.new) + list(db.session.dirty):
            rules.validate(obj)

    # Flask-Admin's create, update and delete, each as one unit of work and without raw error text on the page.
    def create_model(self, form):
        def create():
            model = self.build_new_instance()
            form.populate_obj(model)
            db.session.add(model)
            self._on_model_change(form, model, True)
            return model

        return self.create_with(form, create, after=lambda model: self.after_model_change(form, model, True))

    def update_model(self, form, model):
        def update():
            form.populate_obj(model)
            self._on_model_change(form, model, False)
            return True

        return self._saved(form, "update", update, lambda _: self.after_model_change(form, model, False))

    def delete_model(self, model):
        def delete():
            self.on_model_delete(model)
            db.session.flush()
            db.session.delete(model)
            return True

        return self._saved(None, "delete", delete, lambda _: self.after_model_delete(model))

    @action("delete", "Delete", "Delete the selected records?")
    def action_delete(self, ids):
        """Bulk delete, each row as its own unit of work, ids typed like the key column (psycopg 3 refuses
        `integer = varchar`: Flask-Admin issue #2951)."""
        key = self.model.__mapper__.primary_key[0]
        chosen = self.get_query().filter(key.in_([key.type.python_type(i) for i in ids])).all()
        deleted = sum(1 for model in chosen if self.delete_model(model))
        if deleted:
            flash(f"{deleted} record(s) deleted.", "success")

    def create_with(self, form, use_case, after=None):
        """Create through a use case (or the form) as one unit of work; on failure show why on the form."""
        return self._saved(form, "create", use_case, after)

    def _saved(self, form, verb: str, change, after=None):
        try:
            with unit_of_work():
                result = change()
        except Exception as exc:
            if not self.handle_view_exception(exc):
                log.exception("Could not %s a %s record", verb, self.model.__name__)
                flash(f"Could not {verb} the record. The error has been logged.", "error")
            return self._with_field_errors(form, False)
        if after is not None:
            after(result)
        return self._with_field_errors(form, result)

    @staticmethod
    def _with_field_errors(form, result):
        error = g.pop("admin_validation_error", None)
        for field, message in (error.errors if form is not None and error is not None else {}).items():
            if field in form:
                form[field].errors = [*(form[field].errors or []), message]
        return result

    def validate_form(self, form) -> bool:
        """Flask-Admin's form check; a refused create or edit names each bad field in the message on top."""
        if super().validate_form(form):
            return True
        if form.errors and request.endpoint in (f"{self.endpoint}.create_view", f"{self.endpoint}.edit_view"):
            for message in _form_messages(self, form):
                flash(message, "error")
            g.admin_refusal_named = True
        return False

    def render(self, template, **kwargs):
        if g.pop("admin_refusal_named", False):
            _drop_flashed(GENERIC_REFUSALS)  # the messages naming the fields say it better
        return super().render(template, **kwargs)

    def handle_view_exception(self, exc):
        if isinstance(exc, ValidationError):
            g.admin_validation_error = exc
            for field, message in exc.errors.items():
                flash(f"{_label(self, field)}: {message}", "error")
            return True
        if isinstance(exc, IntegrityError):
            columns, message = _integrity_message(self, exc)
            if columns:  # on the fields as Flask-Admin's own check of unique fields writes it
                g.admin_validation_error = ValidationError.of(dict.fromkeys(columns, DUPLICATE))
            flash(message, "error")
            return True
        if isinstance(exc, DataError | OverflowError):  # the rules should have named the field: log the gap
            log.exception("A %s value the rules let through does not fit its column", self.model.__name__)
            flash("A value is too long or too large for its field; nothing was saved.", "error")
            return True
        return super().handle_view_exception(exc)

    def get_export_value(self, model, name):
        return neutralise_formula(super().get_export_value(model, name))


class ReadOnlyView(SecuredModelView):
    """A grid nobody edits here (the audit trail, generated rows)."""

    create_allowed = edit_allowed = delete_allowed = False


class PortalAdminIndexView(GuardedView, AdminIndexView):
    """/admin/: the grids this user may open."""

    read_permission = "dashboard.view"

    def is_visible(self) -> bool:
        return False

    @expose("/")
    def index(self):
        return self.render("admin/ledgerflow_index.html")


# What Flask-Admin flashes when a form does not validate; validate_form names the fields instead.
GENERIC_REFUSALS = ("Failed to create record.", "Failed to save record.")
DUPLICATE = "Already exists."  # what Flask-Admin's Unique validator writes on the field


def _label(view, field: str) -> str:
    labels = getattr(view, "column_labels", None) or {}
    return labels.get(field, humanize(field))


def _in_sentence(label: str) -> str:
    """A label inside a sentence: "Rate date" -> "rate date"; "VAT id" keeps its capitals."""
    return label if label[:2].isupper() else label[:1].lower() + label[1:]


def _duplicate_message(view, columns: list[str]) -> str:
    """ "A customer with this code already exists.", in the grid's own words."""
    noun = re.sub(r"(?<!^)(?=[A-Z])", " ", view.model.__name__).lower()
    names = [_in_sentence(_label(view, column)) for column in columns]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f"{'An' if noun[0] in 'aeiou' else 'A'} {noun} with this {listed} already exists."


def _integrity_message(view, exc: IntegrityError) -> tuple[list[str], str]:
    """The unique columns a duplicate collides with and a sentence naming them, whatever the database's wording;
    never the database's text."""
    text = str(exc.orig)
    table = view.model.__table__
    for constraint in table.constraints:
        columns = [c.name for c in getattr(constraint, "columns", [])]
        if not columns or constraint is table.primary_key:
            continue
        named = constraint.name and str(constraint.name) in text
        listed = all(f"{table.name}.{c}" in text for c in columns)
        if named or listed:
            return columns, _duplicate_message(view, columns)
    return [], "The record conflicts with other data (a duplicate, or it is still referenced elsewhere)."


def _form_messages(view, form) -> list[str]:
    """One message per refused field: "Billing city: Field cannot be longer than 100 characters."."""
    messages = []
    for field, error in _field_errors(form):
        duplicate = any(isinstance(v, Unique) and error == str(v.message) for v in field.validators)
        messages.append(_duplicate_message(view, [field.short_name]) if duplicate else f"{field.label.text}: {error}")
    return messages


def _field_errors(form):
    """(field, error) for every error of the form, inline rows included."""
    for field in form:
        if hasattr(field, "entries"):  # an inline list of rows
            for entry in field.entries:
                yield from _field_errors(entry.form)
        elif hasattr(field, "form"):
            yield from _field_errors(field.form)
        else:
            yield from ((field, error) for error in field.errors)


def _drop_flashed(messages) -> None:
    if "_flashes" in session:
        session["_flashes"] = [(kind, text) for kind, text in session["_flashes"] if text not in messages]

