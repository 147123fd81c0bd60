"""Admin grids end to end: real forms with CSRF tokens, real rows, real exports."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import openpyxl
import pytest
from sqlalchemy import select, text
from werkzeug.security import check_password_hash

from portal.extensions import db
from portal.models import AuditEvent, Contract, Customer, CustomerContact, ExchangeRate, User
from portal.services.billing import files
from tests.support import factories as f
from tests.support.rows import count
from tests.support.web import filter_groups, page_text, post_form, sign_in

GRIDS = ("customers", "contracts", "projects", "fixed_lines", "rate_cards", "exchange_rates", "document_templates",
         "project_documents", "users", "roles", "audit")
# A value each grid shows (and searches) for the rows made by the `everything` fixture.
KNOWN = {"customers": "ZEBRA1", "contracts": "K-ZEBRA", "projects": "PRJ-ZEBRA", "fixed_lines": "Zebra support fee",
         "rate_cards": "Zebra card", "exchange_rates": "JPY", "document_templates": "Zebra proforma",
         "project_documents": "zebra-sow.pdf", "users": "zebra.clerk@staff.example", "roles": "responsible_manager",
         "audit": "ZEBRA1"}
HEADER = {"customers": "Code", "contracts": "Number", "projects": "Code", "fixed_lines": "Description",
          "rate_cards": "Name", "exchange_rates": "Currency", "document_templates": "Version",
          "project_documents": "Filename", "users": "Email", "roles": "Code", "audit": "Entity type"}
UPLOAD_SECRET = "s3cret-upload-token"
TOTP_SECRET = "JBSWY3DPEHPK3PXP"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# ---------------------------------------------------------------- helpers

def customer_form(**overrides) -> dict:
    return {"code": "ACME", "name": "Acme GmbH", "currency": "EUR", "billing_country": "DE", "active": "y",
            **overrides}


def contract_form(customer, **overrides) -> dict:
    return {"customer": str(customer.id), "number": "K-NEW", "currency": "EUR", "payment_terms_days": "30",
            "billing_cycle": "monthly", "tax_rate": "19", "tax_rule": "standard", "document_formats": "pdf",
            "upload_channel": "none", "valid_from": "2026-01-01", **overrides}


def xlsx_rows(response) -> list[list]:
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


@pytest.fixture
def everything(app, make_user):
    """One row in every grid, each with the KNOWN value; the contract has an upload secret."""
    customer = f.CustomerFactory(code="ZEBRA1", name="Zebra Ltd")
    contract = f.ContractFactory(customer=customer, number="K-ZEBRA", upload_secret=UPLOAD_SECRET)
    project = f.ProjectFactory(contract=contract, code="PRJ-ZEBRA")
    f.FixedLineFactory(contract=contract, description="Zebra support fee")
    f.RateCardFactory(name="Zebra card")
    f.ExchangeRateFactory(currency="JPY")
    files.upload_template("Zebra proforma", "proforma_html", "zebra.html", b"<h1>zebra</h1>", "seed")
    files.attach_project_document(project, "zebra-sow.pdf", b"%PDF-1.4 zebra", "seed")
    clerk = make_user("accountant", email="zebra.clerk@staff.example", totp_secret=TOTP_SECRET)
    db.session.commit()
    return {"contract": contract, "clerk": clerk}


# ---------------------------------------------------------------- 1. create and edit

def test_accountant_creates_customer_and_admin_edits_it(app, client, make_user):
    accountant, admin_user = make_user("accountant"), make_user("admin")
    sign_in(app, client, accountant)
    response = post_form(client, "/admin/customers/new/", customer_form())
    assert response.status_code == 302
    customer = db.session.scalar(select(Customer).where(Customer.code == "ACME"))
    assert customer is not None and customer.name == "Acme GmbH"

    sign_in(app, client, admin_user)
    response = post_form(client, f"/admin/customers/edit/?id={customer.id}", customer_form(name="Acme AG"))
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).name == "Acme AG"


# ---------------------------------------------------------------- 2. field-named errors, nothing half-saved

def test_contract_ending_before_it_starts_names_valid_to(client, admin):
    customer = f.CustomerFactory()
    db.session.commit()
    response = post_form(client, "/admin/contracts/new/", contract_form(customer, valid_to="2025-12-31"))
    assert "Valid to: must not be before the start date (Valid from)" in page_text(response)
    assert count(Contract) == 0


@pytest.mark.parametrize(("channel", "url", "field", "value", "message"), [
    ("https", "https://portal.example.com/upload", "upload_ca_certificates",
     "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
     "HTTPS: CA certificate(s) to trust, PEM (blank: the system's): contract K-NEW: CA certificates are not usable"),
    ("sftp", "sftp://files.example.com/inbox", "upload_host_key", "ssh-ed25519 not-a-key",
     "SFTP server key(s) to trust (OpenSSH public key lines): contract K-NEW: not an SSH public key"),
])
def test_unusable_upload_trust_settings_name_their_field(client, admin, channel, url, field, value, message):
    customer = f.CustomerFactory()
    db.session.commit()
    form = contract_form(customer, upload_channel=channel, upload_url=url, upload_username="ledgerflow",
                         **{field: value})
    assert message in page_text(post_form(client, "/admin/contracts/new/", form))
    assert count(Contract) == 0


def test_https_contract_keeps_the_ca_certificates_it_trusts(client, admin, tmp_path):
    from tests.support.upload_servers import make_tls_files

    pem = make_tls_files(tmp_path)[0].read_text()
    customer = f.CustomerFactory()
    db.session.commit()
    form = contract_form(customer, upload_channel="https", upload_url="https://portal.example.com/upload",
                         upload_ca_certificates=pem)
    assert post_form(client, "/admin/contracts/new/", form).status_code == 302
    contract = db.session.scalar(select(Contract).where(Contract.number == "K-NEW"))
    assert contract.upload_ca_certificates.strip() == pem.strip()


def test_lower_case_currency_names_currency(client, admin):
    response = post_form(client, "/admin/customers/new/", customer_form(currency="eur"))
    assert "Currency: use a three-letter ISO 4217 code" in page_text(response)
    assert count(Customer) == 0


def test_zero_exchange_rate_names_rate(client, admin):
    response = post_form(client, "/admin/exchange_rates/new/",
                    {"currency": "USD", "rate_date": "2026-01-05", "rate": "0", "source": "manual"})
    assert "Rate (base currency per unit): must be greater than zero" in page_text(response)
    assert count(ExchangeRate) == 0


def test_duplicate_customer_code_is_refused_with_one_row_left(client, admin):
    assert post_form(client, "/admin/customers/new/", customer_form()).status_code == 302
    response = post_form(client, "/admin/customers/new/", customer_form(name="Other Acme"))
    assert response.status_code == 200 and "Already exists." in page_text(response)
    assert count(Customer, Customer.code == "ACME") == 1


def test_invalid_inline_contact_email_saves_neither_customer_nor_contact(client, admin):
    contact = {"contacts-0-kind": "billing", "contacts-0-name": "Bob", "contacts-0-email": "not-an-address"}
    response = post_form(client, "/admin/customers/new/", customer_form(**contact))
    assert "Email: not an e-mail address" in page_text(response)
    assert count(Customer) == 0 and count(CustomerContact) == 0


# ---------------------------------------------------------------- 3. search, filters, sorting, pagination

@pytest.mark.parametrize("grid", GRIDS)
def test_grid_search_finds_and_hides_rows(client, admin, everything, grid):
    found = client.get(f"/admin/{grid}/?search={KNOWN[grid]}")
    assert found.status_code == 200 and KNOWN[grid] in page_text(found)
    missed = client.get(f"/admin/{grid}/?search=zzz-no-match")
    assert missed.status_code == 200 and KNOWN[grid] not in page_text(missed)


@pytest.mark.parametrize("grid", GRIDS)
def test_grid_sorts_pages_and_filters(client, admin, everything, grid):
    for query in ("?sort=0", "?sort=0&desc=1", "?page_size=20&page=0"):
        response = client.get(f"/admin/{grid}/{query}")
        assert response.status_code == 200 and KNOWN[grid] in page_text(response), query
    groups = filter_groups(client.get(f"/admin/{grid}/"))
    assert groups, f"{grid} offers no filters"
    first = next(iter(groups.values()))[0]
    assert client.get(f"/admin/{grid}/?flt0_{first['arg']}=x").status_code == 200


def test_customer_filter_and_sort_select_the_right_rows(client, admin):
    f.CustomerFactory(code="AAA", currency="USD")
    f.CustomerFactory(code="ZZZ", currency="EUR")
    db.session.commit()
    equals = next(flt for flt in filter_groups(client.get("/admin/customers/"))["Currency"]
                  if flt["operation"] == "equals")
    filtered = page_text(client.get(f"/admin/customers/?flt0_{equals['arg']}=USD"))
    assert "AAA" in filtered and "ZZZ" not in filtered
    descending = page_text(client.get("/admin/customers/?sort=0&desc=1"))
    assert descending.index("ZZZ") < descending.index("AAA")


def test_exchange_rate_list_paginates_25_rows(client, admin):
    for day in range(25):
        f.ExchangeRateFactory(rate_date=date(2026, 1, 1) + timedelta(days=day))
    db.session.commit()
    first = client.get("/admin/exchange_rates/").get_data(as_text=True)
    assert re.search(r'<a class="page-link" href="[^"]*page=1[^"]*">2</a>', first)
    second = client.get("/admin/exchange_rates/?page=1").get_data(as_text=True)
    assert second.count("/admin/exchange_rates/details/?id=") == 5


# ---------------------------------------------------------------- 4. exports

FORBIDDEN = {"contracts": ("Upload Secret", "upload_secret", UPLOAD_SECRET, "gAAAA"),
             "users": ("Password Hash", "password_hash", "Totp Secret", "totp_secret", TOTP_SECRET,
                       "pbkdf2:", "scrypt:")}


def _assert_export(grid: str, body: str) -> None:
    assert HEADER[grid] in body.splitlines()[0] and KNOWN[grid] in body
    for secret in FORBIDDEN.get(grid, ()):
        assert secret not in body, f"{grid} export leaks {secret}"


@pytest.mark.parametrize("grid", GRIDS)
def test_csv_export(client, admin, everything, grid):
    response = client.get(f"/admin/{grid}/export/csv/")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    _assert_export(grid, response.get_data(as_text=True))


@pytest.mark.parametrize("grid", GRIDS)
def test_xlsx_export_opens_with_header_and_known_row(client, admin, everything, grid):
    response = client.get(f"/admin/{grid}/export/xlsx/")
    assert response.status_code == 200 and response.mimetype == XLSX
    rows = xlsx_rows(response)
    _assert_export(grid, "\n".join(",".join("" if v is None else str(v) for v in row) for row in rows))


def test_contract_upload_secret_ciphertext_is_not_exported(client, admin, everything):
    stored = db.session.execute(text("select upload_secret from contracts")).scalar_one()
    assert stored.startswith("gAAAA")  # what FORBIDDEN looks for: a Fernet token
    body = str(xlsx_rows(client.get("/admin/contracts/export/xlsx/")))
    assert stored not in body and UPLOAD_SECRET not in body


FORMULA = '=HYPERLINK("http://x")'


def test_csv_export_neutralises_formulas(client, admin):
    f.CustomerFactory(name=FORMULA)
    db.session.commit()
    rows = list(csv.reader(io.StringIO(client.get("/admin/customers/export/csv/").get_data(as_text=True))))
    assert "'" + FORMULA in rows[1] and FORMULA not in rows[1]


def test_xlsx_export_neutralises_formulas(client, admin):
    f.CustomerFactory(name=FORMULA)
    db.session.commit()
    row = xlsx_rows(client.get("/admin/customers/export/xlsx/"))[1]
    assert "'" + FORMULA in row and FORMULA not in row


# ---------------------------------------------------------------- 6. users and secrets

def user_form(*roles, **overrides) -> dict:
    return {"email": "New.Person@Example.com", "name": "New Person", "active": "y",
            "roles": [str(f.role(code).id) for code in roles], **overrides}


def test_admin_creates_user_with_roles_and_password(client, admin):
    password = "a long enough password"
    response = post_form(client, "/admin/users/new/", user_form("accountant", "guest", new_password=password))
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "new.person@example.com"))
    assert user.role_codes == {"accountant", "guest"}
    assert check_password_hash(user.password_hash, password)


def test_new_user_without_password_names_new_password(client, admin):
    response = post_form(client, "/admin/users/new/", user_form("accountant"))
    assert "New password: a new user needs a password" in page_text(response)
    assert count(User) == 1


def test_customer_role_without_customer_names_customer(client, admin):
    response = post_form(client, "/admin/users/new/", user_form("customer", new_password="a long enough password"))
    assert "Customer: a user with the customer role must belong to a customer" in page_text(response)
    assert count(User) == 1


def test_reset_2fa_action_clears_selected_users_only(client, admin, make_user):
    chosen, other = (make_user("guest", totp_secret=TOTP_SECRET) for _ in range(2))
    db.session.commit()
    post_form(client, "/admin/users/action/", {"action": "reset_2fa", "rowid": [str(chosen.id)]})
    db.session.expire_all()
    assert (chosen.totp_secret, chosen.totp_confirmed_at) == (None, None)
    assert other.totp_secret == TOTP_SECRET and other.totp_confirmed_at is not None


def test_users_grid_is_for_admins_only(app, client, make_user):
    sign_in(app, client, make_user("accountant"))
    assert client.get("/admin/users/").status_code == 403


def test_contract_upload_secret_is_stored_encrypted(client, admin):
    customer = f.CustomerFactory()
    db.session.commit()
    response = post_form(client, "/admin/contracts/new/", contract_form(customer, new_upload_secret=UPLOAD_SECRET))
    assert response.status_code == 302
    raw = db.session.execute(text("select upload_secret from contracts")).scalar_one()
    assert raw and UPLOAD_SECRET not in raw
    assert db.session.scalar(select(Contract)).upload_secret == UPLOAD_SECRET


# ---------------------------------------------------------------- 7. read-only access

def test_guest_reads_customers_but_cannot_change_them(app, client, make_user):
    customer = f.CustomerFactory(name="Kept Ltd")
    sign_in(app, client, make_user("guest"))
    assert client.get("/admin/customers/").status_code == 200
    new_form = client.get("/admin/customers/new/")
    assert new_form.status_code == 302 and 'name="code"' not in new_form.get_data(as_text=True)
    post_form(client, "/admin/customers/new/", customer_form())
    post_form(client, f"/admin/customers/edit/?id={customer.id}", customer_form(code=customer.code, name="Hacked"))
    post_form(client, "/admin/customers/delete/", {"id": str(customer.id)})
    post_form(client, "/admin/customers/action/", {"action": "delete", "rowid": [str(customer.id)]})
    assert count(Customer) == 1
    assert db.session.get(Customer, customer.id).name == "Kept Ltd"


def test_audit_grid_is_read_only_even_for_admin(client, admin):
    f.CustomerFactory()
    db.session.commit()
    event_id = db.session.execute(text("select max(id) from audit_events")).scalar_one()
    before = db.session.execute(text("select count(*), max(actor) from audit_events")).one()
    assert client.get("/admin/audit/new/").status_code == 302
    assert client.get(f"/admin/audit/edit/?id={event_id}").status_code == 302
    post_form(client, "/admin/audit/new/", {"actor": "forged"})
    post_form(client, f"/admin/audit/edit/?id={event_id}", {"actor": "forged"})
    post_form(client, "/admin/audit/delete/", {"id": str(event_id)})
    post_form(client, "/admin/audit/action/", {"action": "delete", "rowid": [str(event_id)]})
    assert db.session.execute(text("select count(*), max(actor) from audit_events")).one() == before
    assert client.get(f"/admin/audit/details/?id={event_id}").status_code == 200


def test_the_audit_grid_names_sign_ins_in_words(client, admin):
    db.session.add_all([AuditEvent(actor="a@staff.example", action="sign_in", entity_type="User", entity_id="1",
                                   summary="first"),
                        AuditEvent(actor="b@staff.example", action="refused", entity_type="User", entity_id="",
                                   summary="second")])
    db.session.commit()
    page = page_text(client.get("/admin/audit/"))
    assert "Signed in" in page and "Sign-in refused" in page and " sign_in " not in page
