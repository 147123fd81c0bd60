"""The audit trail: one append-only AuditEvent per create/update/delete, written in the same transaction."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select, update

from portal.extensions import db
from portal.infra import audit
from portal.models import AuditEvent, Customer
from portal.services.identity import auth
from tests.support import factories as f
from tests.support.web import csrf_from, login_as

TOTP_SECRET = "JBSWY3DPEHPK3PXP"


def events(entity_type: str | None = None, action: str | None = None, after: int = 0) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id)
    if entity_type:
        query = query.where(AuditEvent.entity_type == entity_type)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(db.session.scalars(query))


def only_event(entity_type: str, action: str, after: int = 0) -> AuditEvent:
    found = events(entity_type, action, after)
    assert len(found) == 1, [(e.action, e.changes) for e in found]
    return found[0]


def last_id() -> int:
    """The newest event's id: events after it are the ones the test's own action wrote."""
    db.session.flush()
    return db.session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0)))


def all_changes_text() -> str:
    return json.dumps([e.changes for e in events()])


def customer(**fields) -> Customer:
    return f.CustomerFactory(**{"code": "AUD1", "name": "Audit Ltd", **fields})


# ---------------------------------------------------------------- 1. create, update, delete

def test_create_records_one_event_with_the_new_values():
    customer()
    event = only_event("Customer", "create")
    assert event.changes["code"] == [None, "AUD1"]
    assert event.changes["name"] == [None, "Audit Ltd"]
    assert event.changes["created_at"][0] is None and event.changes["created_at"][1].startswith("20")
    assert event.summary == "AUD1 — Audit Ltd"
    assert (event.actor, event.actor_id) == ("system", None)


def test_create_event_names_the_new_rows_id():
    created = customer()
    assert only_event("Customer", "create").entity_id == str(created.id)


def test_update_records_only_the_changed_field():
    row = customer()
    row.name = "Audit AG"
    db.session.flush()
    event = only_event("Customer", "update")
    assert event.changes == {"name": ["Audit Ltd", "Audit AG"]}
    assert event.entity_id == str(row.id)


def test_update_records_decimals_and_dates_as_strings():
    line = f.FixedLineFactory(unit_price=Decimal("100.00"), valid_to=None)
    line.unit_price = Decimal("120.50")
    line.valid_to = date(2026, 12, 31)
    db.session.flush()
    changes = only_event("FixedLineItem", "update").changes
    assert changes == {"unit_price": ["100.00", "120.50"], "valid_to": [None, "2026-12-31"]}


def test_update_after_commit_still_records_the_previous_value():
    row = customer()
    db.session.commit()
    row.name = "Audit AG"
    db.session.flush()
    assert only_event("Customer", "update").changes == {"name": ["Audit Ltd", "Audit AG"]}


def test_second_factor_reset_after_commit_is_audited(make_user):
    user = make_user("guest", totp_secret=TOTP_SECRET)
    db.session.commit()
    start = last_id()
    auth.reset_second_factor(user)
    assert only_event("User", "update", start).changes["totp_secret"] == ["[redacted]", None]


def test_delete_records_the_last_values():
    row = customer()
    row_id = row.id
    db.session.delete(row)
    db.session.flush()
    event = only_event("Customer", "delete")
    assert event.entity_id == str(row_id)
    assert event.changes["code"] == ["AUD1", None] and event.changes["name"] == ["Audit Ltd", None]


def test_a_row_deleted_as_an_orphan_is_audited_with_its_last_values():
    line = f.FixedLineFactory(description="Taken out")
    contract, line_id = line.contract, line.id
    db.session.flush()
    contract.fixed_lines.remove(line)  # delete-orphan: never in session.deleted, deleted by the flush itself
    db.session.flush()
    event = only_event("FixedLineItem", "delete")
    assert event.entity_id == str(line_id) and event.changes["description"] == ["Taken out", None]


def test_no_op_update_writes_no_event():
    row = customer()
    row.name = "Audit Ltd"
    row.currency = "EUR"
    db.session.flush()
    assert events("Customer", "update") == []


def test_acting_as_names_the_actor_outside_requests():
    with audit.acting_as(audit.Actor("cli:ops", 42, "10.0.0.1")):
        customer()
    event = only_event("Customer", "create")
    assert (event.actor, event.actor_id, event.ip) == ("cli:ops", 42, "10.0.0.1")


# ---------------------------------------------------------------- 2. same transaction

def test_rolled_back_savepoint_leaves_no_event():
    nested = db.session.begin_nested()
    customer()
    assert len(events("Customer")) == 1  # written by the flush, inside the savepoint
    nested.rollback()
    assert events("Customer") == []


def test_rolled_back_session_leaves_no_event():
    customer(code="KEEP")
    db.session.commit()
    customer(code="DROP")
    db.session.flush()
    db.session.rollback()
    assert [e.changes["code"][1] for e in events("Customer")] == ["KEEP"]


def test_failed_admin_save_leaves_no_event(app, client, make_user):
    login_as(app, client, make_user("admin"))
    form = {"currency": "USD", "rate_date": "2026-01-05", "rate": "1.10", "source": "manual"}
    assert admin_post(client, "/admin/exchange_rates/new/", form).status_code == 302
    response = admin_post(client, "/admin/exchange_rates/new/", {**form, "rate": "1.20"})
    assert "Already exists" in response.get_data(as_text=True)
    assert [e.changes["rate"][1] for e in events("ExchangeRate")] == ["1.10"]


# ---------------------------------------------------------------- 3. users: roles, password, TOTP

def test_role_change_records_before_and_after_role_lists(make_user):
    user = make_user("admin")
    start = last_id()
    user.roles = [f.role("accountant"), f.role("guest")]
    db.session.flush()
    changes = only_event("User", "update", start).changes
    assert changes == {"roles": [["Administrator"], ["Accountant", "Guest"]]}


def test_password_change_is_redacted(make_user):
    user = make_user("guest")
    old_hash, start = user.password_hash, last_id()
    user.password_hash = auth.hash_password("another long password", 10)
    db.session.flush()
    assert only_event("User", "update", start).changes == {"password_hash": ["[redacted]", "[redacted]"]}
    text = all_changes_text()
    assert old_hash not in text and user.password_hash not in text


def test_totp_secret_never_appears_in_audit(make_user):
    user = make_user("guest", totp_secret=TOTP_SECRET)
    recorded = [e.changes["totp_secret"] for e in events("User") if "totp_secret" in e.changes]
    assert recorded == [[None, "[redacted]"]]
    stored = db.session.connection().exec_driver_sql("select totp_secret from users").scalars().all()
    start = last_id()
    auth.reset_second_factor(user)
    assert only_event("User", "update", start).changes["totp_secret"] == ["[redacted]", None]
    assert all(secret not in all_changes_text() for secret in [TOTP_SECRET, *filter(None, stored)])


def test_contract_upload_secret_is_redacted():
    f.ContractFactory(upload_secret="s3cret-upload-token")
    assert only_event("Contract", "create").changes["upload_secret"] == [None, "[redacted]"]
    assert "s3cret-upload-token" not in all_changes_text()


# ---------------------------------------------------------------- 4. append-only

def test_audit_event_cannot_be_modified():
    customer()
    event = events("Customer")[0]
    event.actor = "forged"
    with pytest.raises(PermissionError):
        db.session.flush()


def test_audit_event_cannot_be_deleted():
    customer()
    db.session.delete(events("Customer")[0])
    with pytest.raises(PermissionError):
        db.session.flush()


@pytest.mark.parametrize("statement", [update(AuditEvent).values(actor="forged"), delete(AuditEvent)],
                         ids=["bulk-update", "bulk-delete"])
def test_bulk_orm_statements_cannot_rewrite_audit(statement):
    customer()
    with pytest.raises(PermissionError):
        db.session.execute(statement)


# ---------------------------------------------------------------- 5. actor of admin edits, 6. admin no-op

def admin_post(client, url: str, data: dict):
    token = csrf_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


def customer_form(row: Customer, **overrides) -> dict:
    fields = ("code", "name", "vat_id", "currency", "billing_street", "billing_city", "billing_postcode",
              "billing_country", "notes")
    return {**{name: getattr(row, name) for name in fields}, "active": "y", **overrides}


def test_admin_edit_records_user_email_id_and_ip(app, client, make_user):
    client.environ_base["REMOTE_ADDR"] = "198.51.100.23"  # before sign-in: strong session protection binds the IP
    editor = make_user("admin")
    row = customer()
    login_as(app, client, editor)
    response = admin_post(client, f"/admin/customers/edit/?id={row.id}", customer_form(row, name="Audit AG"))
    assert response.status_code == 302
    event = only_event("Customer", "update")
    assert (event.actor, event.actor_id, event.ip) == (editor.email, editor.id, "198.51.100.23")
    assert event.changes == {"name": ["Audit Ltd", "Audit AG"]}


def test_admin_save_without_changes_writes_no_event(app, client, make_user):
    row = customer(billing_city="Berlin", notes="keep")
    login_as(app, client, make_user("admin"))
    response = admin_post(client, f"/admin/customers/edit/?id={row.id}", customer_form(row))
    assert response.status_code == 302
    assert "successfully saved" in client.get("/admin/customers/").get_data(as_text=True)
    assert events("Customer", "update") == []


def test_user_update_by_admin_grid_is_attributed(app, client, make_user):
    admin_user, target = make_user("admin"), make_user("guest")
    start = last_id()
    login_as(app, client, admin_user)
    form = {"email": target.email, "name": "Renamed", "active": "y", "roles": [str(f.role("guest").id)]}
    assert admin_post(client, f"/admin/users/edit/?id={target.id}", form).status_code == 302
    event = only_event("User", "update", start)
    assert event.entity_id == str(target.id) and event.actor == admin_user.email
    assert event.changes == {"name": ["Guest", "Renamed"]}
