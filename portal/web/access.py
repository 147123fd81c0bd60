"""Route guards: every view states the permission it needs."""

from __future__ import annotations

import functools

from flask import abort
from flask_login import current_user

from portal.extensions import login_manager
from portal.security import can


def require(permission: str):
    """Anonymous users go to sign-in; signed-in users without the permission get 403."""

    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not can(current_user, permission):
                abort(403)
            return view(*args, **kwargs)

        guarded.required_permission = permission
        return guarded

    return decorate


def public(view):
    """Mark a view that anonymous users may open (sign-in pages, assets)."""
    view.required_permission = None
    return view
