"""Web edge: blueprints, sign-in wiring, error pages, security headers, navigation, assets."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, abort, jsonify, render_template, request, send_from_directory
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from portal.edge import http_status
from portal.errors import DomainError
from portal.extensions import db, login_manager
from portal.infra import audit
from portal.security import can
from portal.services.identity import users
from portal.web import (
    auth,
    customer_portal,
    formatting,
    main,
    proforma_review,
    proformas,
    receivables,
    receivables_imports,  # noqa: F401 - routes on the receivables blueprint
    receivables_ledger,  # noqa: F401
    receivables_payments,  # noqa: F401
    tasks,
)
from portal.web.access import public
from portal.web.forms import EmptyForm
from portal.web.nav import navigation

ASSETS = Path(__file__).resolve().parents[2] / "node_modules"
# Front-end files served under /assets/<package>/: node_modules (installed by `make setup`) and the portal's own
# scripts (portal/static), which the CSP requires instead of inline ones. package -> allowed folder.
ASSET_FOLDERS = {"bootstrap": ASSETS / "bootstrap/dist", "bpmn": ASSETS / "camunda-bpmn-js/dist",
                 "portal": Path(__file__).resolve().parents[1] / "static"}

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; font-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
    ),
}


def init_web(app: Flask) -> None:
    """Register blueprints and request hooks on the app."""
    for blueprint in (auth.bp, main.bp, customer_portal.bp, tasks.bp, proforma_review.bp, proformas.bp, receivables.bp):
        app.register_blueprint(blueprint)
    app.add_url_rule("/assets/<package>/<path:filename>", "assets", public(_asset))
    _init_login(app)
    _init_hooks(app)
    _init_errors(app)
    app.jinja_env.globals.update(can=lambda permission: can(current_user, permission), navigation=navigation,
                                 logout_form=EmptyForm)
    app.jinja_env.filters.update(formatting.FILTERS)


def _asset(package: str, filename: str):
    folder = ASSET_FOLDERS.get(package)
    if folder is None:
        abort(404)
    return send_from_directory(folder, filename, max_age=3600)


def _init_login(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to open that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    login_manager.user_loader(users.signed_in)


def _init_hooks(app: Flask) -> None:
    @app.before_request
    def name_the_actor():
        ip = request.remote_addr or ""
        if current_user.is_authenticated:
            actor = audit.Actor(current_user.email, current_user.id, ip)
        else:
            actor = audit.Actor("anonymous", None, ip)
        request.audit_token = audit.set_actor(actor)

    @app.teardown_request
    def forget_the_actor(exc):
        # Streamed responses run teardown twice; reset the actor only once.
        token = getattr(request, "audit_token", None)
        request.audit_token = None
        if token is not None:
            audit.reset_actor(token)

    @app.after_request
    def security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if current_user.is_authenticated:
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _init_errors(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        db.session.rollback()
        return _error_page(http_status(exc), str(exc))

    for code in (400, 403, 404, 405, 409, 429, 500):
        app.register_error_handler(code, _http_error)


def _http_error(exc):
    code = getattr(exc, "code", 500) or 500
    if code == 500:
        db.session.rollback()
    message = _MESSAGES.get(code, "Something went wrong.")
    if isinstance(exc, CSRFError):
        message = "The form's security token is missing or has expired. Reload the page and try again."
    return _error_page(code, message)


def _error_page(code: int, message: str):
    """An error page, or JSON for the browser's own calls (the BPMN editor), which cannot show a page."""
    if request.is_json or request.accept_mimetypes.best == "application/json":
        return jsonify(ok=False, error=message), code
    return render_template("errors/error.html", code=code, message=message), code


_MESSAGES = {
    400: "The request could not be understood. If you submitted a form, reload the page and try again.",
    403: "You do not have permission to open this page.",
    404: "There is nothing here.",
    405: "This page does not accept that kind of request.",
    409: "Someone changed this in the meantime. Reload and try again.",
    429: "Too many attempts. Wait a minute and try again.",
    500: "Something went wrong on our side. The error has been logged.",
}
