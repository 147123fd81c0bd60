"""Admin saves run as one unit of work: all or nothing, and an unexpected error shows no internals."""

from __future__ import annotations

from sqlalchemy import func, select

from admin import base
from portal.extensions import db
from portal.models import Contract, Customer
from tests.support import factories
from tests.support.web import page_csrf


def _customers() -> int:
    return db.session.scalar(select(func.count()).select_from(Customer))


def test_an_unexpected_error_writes_nothing_and_shows_no_internals(app, client, admin, monkeypatch):
    before = _customers()

    def explode(obj):
        raise RuntimeError("psycopg internals: relation secret_table")

    monkeypatch.setattr(base.rules, "validate", explode)
    token = page_csrf(client, "/admin/customers/new/")
    response = client.post("/admin/customers/new/", data={
        "csrf_token": token, "code": "BOOM1", "name": "Boom GmbH", "currency": "EUR", "billing_country": "DE"},
        follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Could not create the record. The error has been logged." in page
    assert "secret_table" not in page and "psycopg" not in page
    db.session.expire_all()
    assert _customers() == before


def test_a_delete_is_committed_once_and_a_refused_one_keeps_the_row(app, client, admin):
    kept, gone = factories.CustomerFactory(), factories.CustomerFactory()
    used = factories.ContractFactory(customer=kept)  # a customer with a contract may not be deleted
    db.session.commit()
    kept_id, gone_id, contract_id = kept.id, gone.id, used.id
    token = page_csrf(client, "/admin/customers/")
    pages = [client.post("/admin/customers/delete/", data={"csrf_token": token, "id": customer_id},
                         follow_redirects=True).get_data(as_text=True) for customer_id in (gone_id, kept_id)]
    db.session.expire_all()
    assert db.session.get(Customer, gone_id) is None
    assert db.session.get(Customer, kept_id) is not None
    assert db.session.get(Contract, contract_id).customer_id == kept_id
    assert "still referenced elsewhere" in pages[1] and "IntegrityError" not in pages[1]
