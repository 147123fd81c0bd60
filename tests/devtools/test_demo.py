"""The demo seed's customers follow the fake ServiceNow's port; an address set in the grid is kept."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Customer

DEMO_CODES = ("ACME", "GLOBEX", "INITECH")


def seed(app, *options, env=None):
    result = app.test_cli_runner().invoke(args=["demo", "seed", *options], env=env)
    assert result.exit_code == 0, result.output
    return result


def calllog_urls() -> dict[str, str]:
    rows = db.session.execute(select(Customer.code, Customer.calllog_url).where(Customer.code.in_(DEMO_CODES)))
    return dict(rows.all())


def audited() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def test_the_demo_customers_use_the_port_given(app):
    seed(app, "--calllog-url", "http://127.0.0.1:9101")
    assert calllog_urls() == dict.fromkeys(DEMO_CODES, "http://127.0.0.1:9101")


def test_without_the_option_the_port_comes_from_fake_servicenow_port(app):
    seed(app, env={"FAKE_SERVICENOW_PORT": "9102"})
    assert set(calllog_urls().values()) == {"http://127.0.0.1:9102"}


def test_the_default_is_the_fake_on_8099(app, monkeypatch):
    monkeypatch.delenv("FAKE_SERVICENOW_PORT", raising=False)
    seed(app)
    assert set(calllog_urls().values()) == {"http://127.0.0.1:8099"}


def test_seeding_again_with_another_port_moves_the_demo_customers_and_audits_it(app):
    seed(app, "--calllog-url", "http://127.0.0.1:9103")
    globex = db.session.scalar(select(Customer).filter_by(code="GLOBEX"))
    globex.calllog_url = "https://globex.service-now.com"  # as an admin would in the Customers grid
    db.session.flush()
    before = audited()
    seed(app, "--calllog-url", "http://localhost:9104")
    assert calllog_urls() == {"ACME": "http://localhost:9104", "GLOBEX": "https://globex.service-now.com",
                              "INITECH": "http://localhost:9104"}
    assert audited() == before + 2  # one update each, in the audit trail like any other change
    seed(app, "--calllog-url", "http://localhost:9104")
    assert audited() == before + 2  # the same port again changes nothing
