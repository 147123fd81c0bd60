"""Flask-Admin grids; init_admin builds a new Admin for each app (a shared one breaks the second app)."""

from __future__ import annotations

from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from admin import documents, finance, masterdata, processes, receivables, users
from admin.base import PortalAdminIndexView


def init_admin(app: Flask) -> Admin:
    """Register every grid on a fresh Admin bound to `app`."""
    admin = Admin(
        app,
        name="Ledgerflow",
        index_view=PortalAdminIndexView(name="Administration", url="/admin"),
        # Flask-Admin 2.2.1 has no Bootstrap 5 theme: its Bootstrap 4 templates render inside the site's own layout
        # (templates/admin/ledgerflow_base.html extends templates/base.html), with overrides for Bootstrap 5.
        theme=Bootstrap4Theme(base_template="admin/ledgerflow_base.html"),
    )
    for area in (masterdata, finance, receivables, documents, processes, users):
        area.register(admin)
    return admin
