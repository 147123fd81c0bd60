"""The CLI edge: users create / reset-2fa, the demo seed (idempotent)."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Contract, Customer, ExchangeRate, FixedLineItem, Project, RateCard, User
from portal.services.identity import auth


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_users_create_prints_a_provisioning_uri(app):
    result = run(app, "users", "create", "New.Person@Staff.example", "--role", "accountant", "--role", "reviewer",
                 "--password", "a-long-password")
    assert result.exit_code == 0, result.output
    assert "otpauth://totp/Ledgerflow:new.person%40staff.example?secret=" in result.output
    user = auth.find_user("new.person@staff.example")
    assert user.role_codes == {"accountant", "reviewer"}
    assert user.totp_secret in result.output and not user.has_second_factor


def test_users_create_names_the_bad_field(app):
    assert "role: unknown role wizard" in run(app, "users", "create", "a@staff.example", "--role", "wizard",
                                              "--password", "a-long-password").output
    assert "password: must be at least 10" in run(app, "users", "create", "a@staff.example", "--role", "guest",
                                                  "--password", "short").output
    bad_email = run(app, "users", "create", "not-an-email", "--role", "guest", "--password", "long-password")
    assert "email:" in bad_email.output
    assert "customer: a user with the customer role" in run(app, "users", "create", "c@cust.example", "--role",
                                                            "customer", "--password", "a-long-password").output
    assert auth.find_user("a@staff.example") is None


def test_users_create_refuses_a_duplicate(app, make_user):
    user = make_user("guest")
    result = run(app, "users", "create", user.email.upper(), "--role", "guest", "--password", "a-long-password")
    assert result.exit_code != 0 and "already registered" in result.output


def test_reset_2fa(app, make_user):
    user = make_user("approver", totp_secret="JBSWY3DPEHPK3PXP")
    result = run(app, "users", "reset-2fa", user.email)
    assert result.exit_code == 0, result.output
    db.session.refresh(user)
    assert user.totp_secret is None and not user.has_second_factor


def test_reset_2fa_of_unknown_user(app):
    result = run(app, "users", "reset-2fa", "ghost@staff.example")
    assert result.exit_code != 0 and "no user with e-mail ghost@staff.example" in result.output


def snapshot():
    models = (User, Customer, Contract, Project, FixedLineItem, RateCard, ExchangeRate, AuditEvent)
    return {m.__name__: db.session.scalar(select(func.count()).select_from(m)) for m in models}


def test_demo_seed_is_idempotent_and_prints_logins(app):
    first = run(app, "demo", "seed")
    assert first.exit_code == 0, first.output
    assert "admin@ledgerflow.example" in first.output and "demo-admin-pass" in first.output
    after_first = snapshot()
    assert after_first["Customer"] >= 3 and after_first["Contract"] >= 3
    second = run(app, "demo", "seed")
    assert second.exit_code == 0
    assert snapshot() == after_first  # nothing created, nothing audited


def test_demo_logins_work(app, client):
    run(app, "demo", "seed")
    assert auth.authenticate("accountant@ledgerflow.example", "demo-accountant-pass").email
