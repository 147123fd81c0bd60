"""Writers really write: a valid form per grid creates or changes a row (test_access_matrix.py only proves who
reaches the forms); a streamed export finishes."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
from flask import url_for

from portal.models.user import ROLE_CATALOG
from tests.support import factories
from tests.web.access_expectations import writes
from tests.web.access_probes import snapshot
from tests.web.access_world import _seq
from tests.web.test_access_matrix import admin_views, sign_in


def _forms(w, n):
    upload = lambda name: (io.BytesIO(b"file body"), name)  # noqa: E731
    return {
        "customers": {"code": f"NEW{n}", "name": f"New {n} GmbH", "currency": "EUR", "billing_country": "DE"},
        "contracts": {"customer": w.own_customer.id, "number": f"K-NEW{n}", "currency": "EUR",
                      "valid_from": "2026-01-01", "payment_terms_days": "30", "billing_cycle": "monthly",
                      "tax_rate": "19", "tax_rule": "standard", "document_formats": "pdf", "upload_channel": "none"},
        "projects": {"contract": w.other_contract.id, "code": f"PRJ-NEW{n}", "name": f"New project {n}"},
        "fixed_lines": {"contract": w.other_contract.id, "description": f"Fee {n}", "quantity": "2", "unit_price": "10",
                        "tax_rate": "19", "valid_from": "2026-01-01"},
        "rate_cards": {"name": f"New card {n}", "currency": "EUR", "valid_from": "2026-01-01"},
        "exchange_rates": {"currency": "USD", "rate_date": f"2026-05-{n % 28 + 1:02d}", "rate": "1.1",
                           "source": "manual"},
        "document_templates": {"name": f"New template {n}", "kind": "other", "file": upload("new.txt")},
        "project_documents": {"project": w.rows["projects"], "file": upload("new.txt")},
        "users": {"email": f"new{n}@staff.example", "name": "New", "active": "y", "roles": factories.role("guest").id,
                  "new_password": "a long enough password"},
        "roles": {"name": f"Renamed {n}", "description": "renamed"},
        "adjustments": {"customer": w.own_customer.id, "side": "debit", "amount": "12.50", "currency": "USD",
                        "reason": f"Adjustment {n}"},
        "bank_import_mappings": {"account_iban": f"NL{n:02d}BANK{n:010d}", "settings": '{"amount": "Betrag"}'},
    }


CREATES = ["customers", "contracts", "projects", "fixed_lines", "rate_cards", "exchange_rates", "document_templates",
           "project_documents", "users", "adjustments", "bank_import_mappings"]
EDITS = ["customers", "contracts", "projects", "fixed_lines", "rate_cards", "exchange_rates", "users", "roles",
         "bank_import_mappings"]


def test_write_table_covers_every_grid(app):
    views = [v for v in admin_views(app).values() if hasattr(v, "create_allowed")]
    assert sorted(CREATES) == sorted(v.endpoint for v in views if v.create_allowed)
    assert sorted(EDITS) == sorted(v.endpoint for v in views if v.edit_allowed)


@pytest.mark.parametrize(("endpoint", "fn"), [(e, "create_view") for e in CREATES] + [(e, "edit_view") for e in EDITS])
def test_writers_can_create_and_edit(app, client, world, endpoint, fn):
    view = admin_views(app)[endpoint]
    writer = [r for r in ROLE_CATALOG if writes(r, endpoint)][-1]  # the least powerful writer
    _, token = sign_in(app, client, writer, world)
    table = view.model.__table__.name
    with app.test_request_context():
        url = url_for(f"{endpoint}.{fn}", **({"id": world.rows[endpoint]} if fn == "edit_view" else {}))
        index = url_for(f"{endpoint}.index_view")
    before = snapshot()[table]
    response = client.post(url, data={"csrf_token": token, **_forms(world, next(_seq))[endpoint]})
    assert response.status_code == 302, f"{writer}: {response.status_code} " + response.get_data(as_text=True)[-3000:]
    assert urlsplit(response.headers["Location"]).path == index
    after = snapshot()[table]
    assert len(after) == len(before) + (fn == "create_view") and after != before


def test_streamed_csv_export_finishes_cleanly(app, client, world):
    sign_in(app, client, "guest", world)
    response = client.get("/admin/customers/export/csv/")
    assert response.status_code == 200
    assert world.own_customer.code in response.get_data(as_text=True)
