"""Sign-in: e-mail + password, then an authenticator code (or enrollment); sign-out."""

from __future__ import annotations

from datetime import datetime

import segno
from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from markupsafe import Markup

from portal.edge import safe_next
from portal.errors import AuthenticationError
from portal.extensions import db, limiter
from portal.infra import audit
from portal.infra.unit_of_work import unit_of_work
from portal.models import User
from portal.models.types import utcnow
from portal.services.identity import auth
from portal.web.access import public
from portal.web.forms import CodeForm, EmptyForm, LoginForm

bp = Blueprint("auth", __name__)
PENDING = "pending_login"


def _limit(name: str):
    return lambda: current_app.config[name]


def _account_key() -> str:
    return "login:" + (request.form.get("email") or "").strip().lower()


def _pending_key() -> str:
    return f"totp:{(session.get(PENDING) or {}).get('user_id')}"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_limit("RATELIMIT_LOGIN_IP"), methods=["POST"])
@limiter.limit(_limit("RATELIMIT_LOGIN_ACCOUNT"), methods=["POST"], key_func=_account_key)
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = auth.authenticate(form.email.data, form.password.data)
        except AuthenticationError as exc:
            _record_refusal(form.email.data, auth.find_user(form.email.data), "password", exc)
            flash(str(exc), "danger")
            return render_template("auth/login.html", form=form), 401
        return _after_password(user)
    return render_template("auth/login.html", form=form)


def _after_password(user: User):
    next_url = safe_next(request.args.get("next"))
    session.clear()  # no session fixation: a fresh session for the new sign-in
    if not auth.needs_second_factor(user):
        return _finish_login(user, next_url)
    session[PENDING] = {"user_id": user.id, "at": utcnow().isoformat(), "next": next_url}
    if user.has_second_factor:
        return redirect(url_for("auth.code"))
    return redirect(url_for("auth.enroll"))


def _second_factor_step(rule: str):
    """A sign-in page that takes an authenticator code: rate-limited per address and per pending account."""
    def register(view):
        limited = limiter.limit(_limit("RATELIMIT_TOTP_ACCOUNT"), methods=["POST"], key_func=_pending_key)(public(view))
        limited = limiter.limit(_limit("RATELIMIT_TOTP_IP"), methods=["POST"])(limited)
        return bp.route(rule, methods=["GET", "POST"])(limited)

    return register


@_second_factor_step("/login/code")
def code():
    user = _pending_user()
    if user is None or not user.has_second_factor:
        return redirect(url_for("auth.login"))
    return _take_code(user, auth.verify_second_factor, lambda form: render_template("auth/code.html", form=form))


@_second_factor_step("/login/enroll")
def enroll():
    user = _pending_user()
    if user is None or user.has_second_factor:
        return redirect(url_for("auth.login"))
    with unit_of_work():
        secret = auth.start_enrollment(user)
    return _take_code(user, auth.confirm_enrollment, lambda form: _enroll_page(user, secret, form),
                      done="Your authenticator app is set up.")


def _take_code(user: User, check, page, done: str | None = None):
    """The code form: a good code finishes the sign-in, a wrong one shows `page` again with 401."""
    form = CodeForm()
    if not form.validate_on_submit():
        return page(form)
    try:
        check(user, form.code.data)
    except AuthenticationError as exc:
        _record_refusal(user.email, user, "authenticator code", exc)
        flash(str(exc), "danger")
        return page(form), 401
    if done:
        flash(done, "success")
    return _finish_login(user, session[PENDING].get("next"), "enrollment" if done else "code")


def _record_refusal(email: str, user: User | None, step: str, exc: AuthenticationError) -> None:
    with unit_of_work():
        auth.record_refusal(email, user, step, exc.reason, request.remote_addr or "")


def _enroll_page(user: User, secret: str, form):
    uri = auth.provisioning_uri(user, current_app.config["TOTP_ISSUER"])
    # segno writes the SVG itself from the URI; nothing user-typed is interpolated into markup.
    qr = Markup(segno.make(uri, error="m").svg_inline(scale=5, title="Authenticator QR code"))  # noqa: S704
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render_template("auth/enroll.html", form=form, qr=qr, secret=grouped, uri=uri)


@bp.route("/logout", methods=["POST"])
@public
def logout():
    logout_user()  # the app-wide CSRF check has passed: the form came from this site
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


def _pending_user() -> User | None:
    pending = session.get(PENDING)
    if not pending:
        return None
    started = datetime.fromisoformat(pending["at"])
    if utcnow() - started > current_app.config["LOGIN_STEP_TIMEOUT"]:
        session.pop(PENDING, None)
        flash("The sign-in took too long. Please start again.", "warning")
        return None
    user = db.session.get(User, pending["user_id"])
    if user is None or not user.is_active:
        return None
    # Enrollment changes the account: the trail names the person signing in, not "anonymous".
    audit.set_actor(audit.Actor(user.email, user.id, request.remote_addr or ""))
    return user


def _finish_login(user: User, next_url: str | None, second_factor: str = "none"):
    session.pop(PENDING, None)
    login_user(user)
    session.permanent = True
    with unit_of_work():
        auth.record_login(user, second_factor, request.remote_addr or "")
    return redirect(next_url or url_for("main.home"))


@bp.get("/logout")
@public
def logout_page():
    return render_template("auth/logout.html", form=EmptyForm())
