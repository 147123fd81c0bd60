"""Strict input in the admin grids (issue 10): amounts, quantities, rates, text lengths and VAT ids refused with a
message naming the field, duplicates in words, no database text on a page, timestamps in the user's time zone."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import String, inspect, select

from admin import base
from portal.extensions import db
from portal.models import Contract, Customer, CustomerBankAccount, ExchangeRate, FixedLineItem, User
from tests.support import factories as f
from tests.support.rows import count
from tests.support.web import page_text, post_form

# What a database says when a value does not fit or collides; none of it belongs on a page.
DATABASE_TEXT = ("SQLite", "sqlite3", "psycopg", "IntegrityError", "DataError", "OverflowError", "UNIQUE constraint",
                 "duplicate key", "numeric field overflow", "value too long", "uq_", "Traceback")


def admin_view(app, endpoint: str):
    return next(view for admin in app.extensions["admin"] for view in admin._views if view.endpoint == endpoint)


def label(app, endpoint: str, field: str) -> str:
    """The field's label as the grid writes it (the labels are the grid's business, not this test's)."""
    return base._label(admin_view(app, endpoint), field)


def assert_no_database_text(page: str) -> None:
    leaked = [text for text in DATABASE_TEXT if text in page]
    assert not leaked, f"the page shows database text: {leaked}"


def fixed_line_form(contract, **overrides) -> dict:
    return {"contract": str(contract.id), "description": "Fee", "quantity": "2", "unit_price": "10", "tax_rate": "19",
            "valid_from": "2026-01-01", **overrides}


def customer_form(**overrides) -> dict:
    return {"code": "ACME", "name": "Acme GmbH", "currency": "EUR", "billing_country": "DE", "active": "y",
            **overrides}


def rate_form(**overrides) -> dict:
    return {"currency": "USD", "rate_date": "2026-01-05", "rate": "1.1", "source": "manual", **overrides}


@pytest.fixture
def contract(app):
    made = f.ContractFactory()
    db.session.commit()
    return made


# ---------------------------------------------------------------- amounts and quantities on fixed line items

@pytest.mark.parametrize(("field", "value", "message"), [
    ("unit_price", "0.001", "allows at most 2 decimal places"),  # was saved as 0.00
    ("quantity", "1e9", "“1e9” is not a number (write digits, e.g. 1234.50)"),  # was saved as 1000000000
    ("quantity", "1000000000", "must be at most 1,000,000"),
    ("quantity", "1.00001", "allows at most 4 decimal places"),
    ("unit_price", "-5", "must not be negative"),  # was saved
])
def test_a_fixed_line_item_the_rules_refuse_is_not_saved_and_the_page_names_the_field(
        app, client, admin, contract, field, value, message):
    response = post_form(client, "/admin/fixed_lines/new/", fixed_line_form(contract, **{field: value}))
    page = page_text(response)
    assert response.status_code == 200
    assert f"{label(app, 'fixed_lines', field)}: {message}" in page
    assert "Failed to create record" not in page
    assert count(FixedLineItem) == 0


def test_a_negative_unit_price_on_a_contracts_inline_fixed_line_is_refused(app, client, admin, contract):
    form = {"customer": str(contract.customer_id), "number": "K-INLINE", "currency": "EUR", "payment_terms_days": "30",
            "billing_cycle": "monthly", "tax_rate": "19", "tax_rule": "standard", "document_formats": "pdf",
            "upload_channel": "none", "valid_from": "2026-01-01", "fixed_lines-0-description": "Credit",
            "fixed_lines-0-quantity": "1", "fixed_lines-0-unit_price": "-100", "fixed_lines-0-tax_rate": "19",
            "fixed_lines-0-valid_from": "2026-01-01"}
    page = page_text(post_form(client, "/admin/contracts/new/", form))
    assert "must not be negative" in page
    assert count(Contract, Contract.number == "K-INLINE") == 0 and count(FixedLineItem) == 0


def test_a_discount_fixed_line_takes_a_negative_price_and_refuses_a_positive_one(app, client, admin, contract):
    refused = page_text(post_form(client, "/admin/fixed_lines/new/",
                                  fixed_line_form(contract, kind="discount", unit_price="5")))
    assert f"{label(app, 'fixed_lines', 'unit_price')}: must be below zero on a discount line" in refused
    assert count(FixedLineItem) == 0
    response = post_form(client, "/admin/fixed_lines/new/", fixed_line_form(contract, kind="discount",
                                                                            unit_price="-45.50"))
    assert response.status_code == 302
    line = db.session.scalar(select(FixedLineItem))
    assert (line.kind, line.unit_price) == ("discount", Decimal("-45.50"))


def test_a_fixed_line_without_a_kind_is_a_charge(client, admin, contract):
    assert post_form(client, "/admin/fixed_lines/new/", fixed_line_form(contract)).status_code == 302
    assert db.session.scalar(select(FixedLineItem.kind)) == "charge"


def test_a_fixed_line_item_within_the_limits_is_saved_exactly(client, admin, contract):
    response = post_form(client, "/admin/fixed_lines/new/",
                         fixed_line_form(contract, quantity="1 000 000", unit_price="0,05"))
    assert response.status_code == 302
    line = db.session.scalar(select(FixedLineItem))
    assert (line.quantity, line.unit_price) == (Decimal("1000000"), Decimal("0.05"))


# ---------------------------------------------------------------- exchange rates

@pytest.mark.parametrize(("value", "message"), [
    ("1e30", "“1e30” is not a number (write digits, e.g. 1234.50)"),  # was a 500-like "could not create"
    ("1" + "0" * 30, "is too large"),
    ("10000000000", "is too large"),  # Rate() holds 10 digits before the decimal mark
    ("20000000", "must be at most 10,000,000"),
    ("1.123456789", "allows at most 8 decimal places"),
])
def test_an_exchange_rate_out_of_bounds_names_the_rate_and_shows_no_database_text(app, client, admin, value, message):
    response = post_form(client, "/admin/exchange_rates/new/", rate_form(rate=value))
    page = page_text(response)
    assert response.status_code == 200
    assert f"{label(app, 'exchange_rates', 'rate')}: {message}" in page
    assert_no_database_text(page)
    assert count(ExchangeRate) == 0


def test_a_rate_with_eight_decimals_is_kept_with_all_of_them(client, admin):
    assert post_form(client, "/admin/exchange_rates/new/", rate_form(rate="0.01092345")).status_code == 302
    assert db.session.scalar(select(ExchangeRate.rate)) == Decimal("0.01092345")


def test_a_tiny_stored_rate_is_offered_for_editing_in_plain_digits(client, admin):
    rate = f.ExchangeRateFactory(rate=Decimal("0.00000012"))
    db.session.commit()
    form = client.get(f"/admin/exchange_rates/edit/?id={rate.id}").get_data(as_text=True)
    assert 'value="0.00000012"' in form and "E-7" not in form


# ---------------------------------------------------------------- text lengths

def test_a_5000_character_billing_city_is_refused_naming_the_field(app, client, admin):
    page = page_text(post_form(client, "/admin/customers/new/", customer_form(billing_city="x" * 5000)))
    assert "Billing city: allows at most 100 characters" in page  # worded like the rules, the label in words
    assert "Failed to create record" not in page
    assert count(Customer) == 0


def test_every_text_field_of_every_grid_is_limited_to_its_column(app, client, admin):
    """Each String(n) column a create form offers has maxlength n, so every grid refuses what its column cannot
    hold before anything is saved (Flask-Admin's converter adds it; this keeps it so for new grids and fields)."""
    checked = 0
    for view in (v for admin in app.extensions["admin"] for v in admin._views if hasattr(v, "create_allowed")):
        if not view.create_allowed:
            continue
        with app.test_request_context():
            form = view.create_form()
        for attribute in inspect(view.model).column_attrs:
            column = attribute.columns[0]
            if attribute.key in form and isinstance(column.type, String) and column.type.length \
                    and form[attribute.key].type in ("StringField", "TextAreaField"):
                assert form[attribute.key].flags.maxlength == column.type.length, f"{view.endpoint}.{attribute.key}"
                checked += 1
    assert checked > 20


# ---------------------------------------------------------------- VAT ids

def test_vat_id_de123_is_refused_with_a_message_naming_the_field(app, client, admin):
    page = page_text(post_form(client, "/admin/customers/new/", customer_form(vat_id="DE123")))
    assert f"{label(app, 'customers', 'vat_id')}: is not a valid VAT id of DE: the number has an invalid length." \
        in page
    assert count(Customer) == 0


def test_a_valid_vat_id_is_saved(client, admin):
    assert post_form(client, "/admin/customers/new/", customer_form(vat_id="DE811907980")).status_code == 302
    assert db.session.scalar(select(Customer.vat_id)) == "DE811907980"


# ---------------------------------------------------------------- duplicates in words, no database text

def test_a_duplicate_customer_code_names_the_field_in_words(client, admin):
    assert post_form(client, "/admin/customers/new/", customer_form()).status_code == 302
    page = page_text(post_form(client, "/admin/customers/new/", customer_form(name="Other Acme")))
    assert "A customer with this code already exists." in page
    assert "Failed to create record" not in page
    assert_no_database_text(page)
    assert count(Customer, Customer.code == "ACME") == 1


def test_a_duplicate_the_database_refuses_is_named_in_words_without_its_text(app, client, admin):
    """Currency, date and source are unique together: no form validator knows that, the database refuses it."""
    assert post_form(client, "/admin/exchange_rates/new/", rate_form()).status_code == 302
    page = page_text(post_form(client, "/admin/exchange_rates/new/", rate_form(rate="1.2")))
    view = admin_view(app, "exchange_rates")
    names = [base._in_sentence(base._label(view, name)) for name in ("currency", "rate_date", "source")]
    assert f"An exchange rate with this {names[0]}, {names[1]} and {names[2]} already exists." in page
    assert_no_database_text(page)
    assert count(ExchangeRate) == 1


def test_a_value_the_rules_miss_shows_no_database_text(app, client, admin, contract, monkeypatch):
    """Should a rule miss a value too large for its column, the database's refusal still stays off the page."""
    monkeypatch.setattr(base.rules, "validate", lambda obj: None)
    form = {"customer": str(contract.customer_id), "number": "K-HUGE", "currency": "EUR", "tax_rate": "19",
            "payment_terms_days": "1" + "0" * 20, "billing_cycle": "monthly", "tax_rule": "standard",
            "document_formats": "pdf", "upload_channel": "none", "valid_from": "2026-01-01"}
    page = page_text(post_form(client, "/admin/contracts/new/", form))
    assert "A value is too long or too large for its field; nothing was saved." in page
    assert_no_database_text(page)
    assert count(Contract, Contract.number == "K-HUGE") == 0


# ---------------------------------------------------------------- timestamps in the user's time zone

@pytest.fixture
def rate_created_at(app):
    f.ExchangeRateFactory(currency="CHF", created_at=datetime(2026, 11, 5, 14, 7, 33))  # stored in UTC
    db.session.commit()


def test_grid_timestamps_are_shown_to_the_minute_in_the_default_time_zone(client, admin, rate_created_at):
    page = page_text(client.get("/admin/exchange_rates/"))
    assert "2026-11-05 15:07" in page and "14:07:33" not in page  # Europe/Berlin, CET in November


def test_grid_timestamps_follow_the_users_own_time_zone(client, admin, rate_created_at):
    admin.time_zone = "America/New_York"
    db.session.commit()
    assert "2026-11-05 09:07" in page_text(client.get("/admin/exchange_rates/"))
    assert "2026-11-05 09:07" in page_text(client.get(
        f"/admin/exchange_rates/details/?id={db.session.scalar(select(ExchangeRate.id))}"))


def test_exports_keep_the_stored_timestamp(client, admin, rate_created_at):
    assert "2026-11-05 14:07:33" in client.get("/admin/exchange_rates/export/csv/").get_data(as_text=True)


def test_an_administrator_sets_a_users_time_zone_and_only_known_zones(client, admin, make_user):
    user = make_user("guest")
    db.session.commit()
    form = {"email": user.email, "name": user.name, "active": "y", "roles": str(f.role("guest").id)}
    assert post_form(client, f"/admin/users/edit/?id={user.id}", {**form, "time_zone": "Asia/Tokyo"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).time_zone == "Asia/Tokyo"
    refused = post_form(client, f"/admin/users/edit/?id={user.id}", {**form, "time_zone": "Mars/Olympus_Mons"})
    assert refused.status_code == 200 and "Not a valid choice" in page_text(refused)
    db.session.expire_all()
    assert db.session.get(User, user.id).time_zone == "Asia/Tokyo"


# ---------------------------------------------------------------- the customer's bank accounts

def with_account(iban: str, bic: str = "", **overrides) -> dict:
    return {**customer_form(**overrides), "bank_accounts-0-iban": iban, "bank_accounts-0-bic": bic,
            "bank_accounts-0-holder": "Acme GmbH"}


def test_a_customers_iban_and_bic_are_checked_and_kept_compact(client, admin):
    response = post_form(client, "/admin/customers/new/", with_account("de89 3704 0044 0532 0130 00", "cobadeffxxx"))
    assert response.status_code == 302
    account = db.session.scalar(select(CustomerBankAccount))
    assert (account.iban, account.bic, account.holder) == ("DE89370400440532013000", "COBADEFFXXX", "Acme GmbH")


@pytest.mark.parametrize(("iban", "bic", "message"), [
    ("DE89370400440532013001", "", "IBAN: 'DE89370400440532013001' is not a valid IBAN (The number's checksum or "
                                   "check digit is invalid.)"),
    ("XX89370400440532013000", "", "IBAN: 'XX89370400440532013000' is not a valid IBAN"),
    ("DE89370400440532013000", "COBA", "BIC: 'COBA' is not a valid BIC"),
])
def test_a_bad_iban_or_bic_names_the_field_and_saves_nothing(client, admin, iban, bic, message):
    page = page_text(post_form(client, "/admin/customers/new/", with_account(iban, bic)))
    assert message in page
    assert count(Customer) == 0 and count(CustomerBankAccount) == 0


def test_an_iban_belongs_to_one_customer(client, admin):
    assert post_form(client, "/admin/customers/new/", with_account("DE89370400440532013000")).status_code == 302
    page = page_text(post_form(client, "/admin/customers/new/", with_account("DE89370400440532013000", code="OTHER",
                                                                              name="Other GmbH")))
    assert "A customer with this IBAN already exists." in page and "Failed to create record" not in page
    assert count(CustomerBankAccount) == 1
