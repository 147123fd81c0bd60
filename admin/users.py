"""Grids for users, roles and the (read-only) audit trail."""

from __future__ import annotations

import json
from zoneinfo import available_timezones

from flask import current_app, flash
from flask_admin.actions import action
from markupsafe import Markup, escape
from sqlalchemy import select
from wtforms import PasswordField

from admin.base import ReadOnlyView, SecuredModelView
from portal.errors import ValidationError
from portal.extensions import db
from portal.infra.unit_of_work import unit_of_work
from portal.models import AuditEvent, Role, User
from portal.services.identity import auth, users


def _second_factor(view, context, model, name):
    return "enrolled" if model.has_second_factor else "not enrolled"


def time_zone_choices() -> list[tuple[str, str]]:
    """Every IANA time zone this machine knows, after the choice to follow the portal's default."""
    return [("", "The portal's default"), *((zone, zone) for zone in sorted(available_timezones()))]


class UserView(SecuredModelView):
    read_permission = write_permission = "users.manage"
    column_list = ("email", "name", "roles", "customer", "active", "second_factor", "last_login_at")
    column_searchable_list = ("email", "name")
    column_filters = ("active", "roles.code", "customer.code", "last_login_at", "created_at")
    column_default_sort = "email"
    column_formatters = {"second_factor": _second_factor}
    column_formatters_export = {"second_factor": _second_factor}
    column_exclude_list = column_details_exclude_list = ("password_hash", "totp_secret", "totp_last_step")
    form_columns = ("email", "name", "active", "roles", "customer", "time_zone", "new_password")
    form_choices = {"time_zone": time_zone_choices()}
    column_labels = {"time_zone": "Time zone (times are shown in it)"}
    form_extra_fields = {"new_password": PasswordField("New password (blank keeps the current one)")}

    def on_model_change(self, form, model, is_created):
        model.email = users.normalise_email(model.email)
        if form.new_password.data:
            model.password_hash = auth.hash_password(form.new_password.data, current_app.config["PASSWORD_MIN_LENGTH"])
        elif is_created:
            raise ValidationError("new_password", "a new user needs a password")
        users.check_user(model)
        super().on_model_change(form, model, is_created)

    @action("reset_2fa", "Reset second factor", "Reset the authenticator of the selected users? "
            "They will enroll a new one at their next sign-in.")
    def reset_second_factor(self, ids):
        with unit_of_work():
            chosen = list(db.session.scalars(select(User).where(User.id.in_([int(i) for i in ids]))))
            for user in chosen:
                auth.reset_second_factor(user)
        flash(f"Second factor reset for {len(chosen)} user(s).", "success")


class RoleView(SecuredModelView):
    read_permission = write_permission = "users.manage"
    create_allowed = delete_allowed = False
    column_list = ("code", "name", "description")
    column_searchable_list = ("code", "name")
    column_filters = ("code",)
    column_default_sort = "code"
    form_columns = ("name", "description")


def _changes(view, context, model, name):
    rows = "".join(
        f"<tr><th>{escape(field)}</th><td>{escape(_show(pair[0]))}</td><td>{escape(_show(pair[1]))}</td></tr>"
        for field, pair in (model.changes or {}).items()
    )
    # Every cell was escaped above.
    return Markup(f'<table class="table table-sm mb-0"><tr><th></th><th>before</th><th>after</th></tr>{rows}</table>')  # noqa: S704


def _show(value) -> str:
    return "—" if value is None else value if isinstance(value, str) else json.dumps(value)


ACTION_LABELS = {"create": "Created", "update": "Updated", "delete": "Deleted", auth.SIGNED_IN: "Signed in",
                 auth.REFUSED: "Sign-in refused"}


def _action(view, context, model, name):
    return ACTION_LABELS.get(model.action, model.action)


class AuditEventView(ReadOnlyView):
    read_permission = "audit.read"
    column_formatters = {"action": _action}
    column_list = ("occurred_at", "actor", "action", "entity_type", "entity_id", "summary", "ip")
    column_searchable_list = ("actor", "entity_type", "entity_id", "summary")
    column_filters = ("occurred_at", "actor", "action", "entity_type", "entity_id")
    column_default_sort = ("id", True)
    column_details_list = ("occurred_at", "actor", "actor_id", "ip", "action", "entity_type", "entity_id", "summary",
                           "changes")
    column_formatters_detail = {"changes": _changes, "action": _action}
    column_formatters_export = {"changes": lambda v, c, m, n: json.dumps(m.changes, sort_keys=True)}
    column_export_list = column_details_list


def register(admin) -> None:
    category = "Administration"
    admin.add_view(UserView(User, name="Users", endpoint="users", category=category))
    admin.add_view(RoleView(Role, name="Roles", endpoint="roles", category=category))
    admin.add_view(AuditEventView(AuditEvent, name="Audit trail", endpoint="audit", category=category))
