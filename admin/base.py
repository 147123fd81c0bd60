"""The base every admin grid uses: permissions, CSRF, field-named validation errors, safe exports."""

from __future__ import annotations

import logging
from decimal import Decimal

from flask import abort, flash, g, redirect, request, url_for
from flask_admin import AdminIndexView, expose
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.filters import (
    FilterConverter,
    FilterEmpty,
    FilterEqual,
    FilterGreater,
    FilterInList,
    FilterNotEqual,
    FilterNotInList,
    FilterSmaller,
)
from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.form import BaseForm
from flask_admin.model.filters import convert
from flask_admin.model.form import converts
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError

from portal.errors import ValidationError
from portal.exports.cells import neutralise_formula
from portal.extensions import db
from portal.infra.unit_of_work import unit_of_work
from portal.money import parse
from portal.security import can
from portal.services.masterdata import rules

log = logging.getLogger(__name__)


class AdminForm(BaseForm):
    """Flask-Admin's form with Flask-WTF's CSRF token, which the app-wide CSRFProtect checks."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form):
            return BaseForm.Meta._translations


def _exact(value: str) -> Decimal:
    """A filter value as an exact Decimal; ValueError (shown as an invalid filter, not a 500) otherwise."""
    try:
        return parse(value, "filter")
    except ValidationError as exc:
        raise ValueError(exc.message) from exc


class DecimalFilter:
    """Mixin: parse the filter value with the money parser (never float); garbage fails `validate`."""

    def clean(self, value: str) -> Decimal:
        return _exact(value)


class DecimalListFilter:
    """Mixin: a comma-separated list of exact amounts."""

    def clean(self, value: str) -> list[Decimal]:
        return [_exact(part) for part in value.split(",") if part.strip()]


class DecimalEqualFilter(DecimalFilter, FilterEqual):
    pass


class DecimalNotEqualFilter(DecimalFilter, FilterNotEqual):
    pass


class DecimalGreaterFilter(DecimalFilter, FilterGreater):
    pass


class DecimalSmallerFilter(DecimalFilter, FilterSmaller):
    pass


class DecimalInListFilter(DecimalListFilter, FilterInList):
    pass


class DecimalNotInListFilter(DecimalListFilter, FilterNotInList):
    pass


class ExactDecimalFilters(FilterConverter):
    """Numeric filters (equals, greater than, ...) for the project's exact money and rate columns."""

    decimal_filters = (DecimalEqualFilter, DecimalNotEqualFilter, DecimalGreaterFilter, DecimalSmallerFilter,
                       FilterEmpty, DecimalInListFilter, DecimalNotInListFilter)

    @convert("exactdecimal", "numeric", "decimal")
    def conv_exact_decimal(self, column, name, **kwargs):
        return [f(column, name, **kwargs) for f in self.decimal_filters]


class ExactDecimalForms(AdminModelConverter):
    """Decimal form fields for the exact money and rate columns."""

    @converts("ExactDecimal")
    def conv_exact_decimal(self, column, field_args, **extra):
        return self.handle_decimal_types(column, field_args, **extra)


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


class SecuredModelView(GuardedView, ModelView):
    """A searchable, filterable, exportable grid whose saves pass the domain rules."""

    form_base_class = AdminForm
    filter_converter = ExactDecimalFilters()
    model_form_converter = ExactDecimalForms
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
        if form is not None and error is not None and error.field in form:
            form[error.field].errors = [*(form[error.field].errors or []), error.message]
        return result

    def handle_view_exception(self, exc):
        if isinstance(exc, ValidationError):
            g.admin_validation_error = exc
            flash(f"{_label(self, exc.field)}: {exc.message}", "error")
            return True
        if isinstance(exc, IntegrityError):
            flash(_integrity_message(self.model, exc), "error")
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


def _label(view, field: str) -> str:
    labels = getattr(view, "column_labels", None) or {}
    return labels.get(field, field.replace("_", " ").capitalize())


def _integrity_message(model, exc: IntegrityError) -> str:
    """Name the unique fields a duplicate collides with, whatever the database's wording."""
    text = str(exc.orig)
    table = model.__table__
    for constraint in table.constraints:
        columns = [c.name for c in getattr(constraint, "columns", [])]
        if not columns or constraint is table.primary_key:
            continue
        named = constraint.name and str(constraint.name) in text
        listed = all(f"{table.name}.{c}" in text for c in columns)
        if named or listed:
            return f"Already exists: another record has the same {', '.join(columns)}."
    return "The record conflicts with other data (a duplicate, or it is still referenced elsewhere)."

