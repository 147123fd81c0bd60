"""The receivables grids end to end: every grid lists real posted rows in words and grouped amounts, nothing posted
is created, changed or deleted through them, an adjustment goes through its use case onto the ledger, bank import
mappings are kept by those who record payments, and each reader sees only the customers it may see."""

from __future__ import annotations

import hashlib
import re
from datetime import date

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    Adjustment,
    AuditEvent,
    BankImportMapping,
    CustomerBalance,
    LedgerEntry,
    PaymentImport,
)
from portal.services.receivables import allocations, corrections, payments, rendering
from portal.services.receivables.invoicing import LineInput
from portal.services.receivables.payments import PaymentInput
from tests.admin.test_words import RAW_NAME, cells
from tests.support import factories as f
from tests.support.receivables import BY, invoice, pay, rate
from tests.support.rows import count
from tests.support.web import filter_groups, page_text, post_form, sign_in
from tests.web.access_probes import snapshot

GRIDS = ("invoices", "credit_notes", "due_notes", "payments", "allocations", "refunds", "adjustments",
         "ledger_entries", "customer_balances", "payment_imports", "bank_import_mappings")
SCOPED = tuple(grid for grid in GRIDS if grid != "bank_import_mappings")  # our own bank accounts: no customer
# Grids where nothing is ever changed or deleted (adjustments are created, through their use case, and that is all).
POSTED = tuple(grid for grid in GRIDS if grid != "bank_import_mappings")
IBAN = "DE89370400440532013000"


def seed(customer, currency: str, tag: str) -> dict:
    """One of everything for `customer`, each row told apart by `tag`: an invoice of 12,500.00 credited by 500.00
    and paid 2,000.00 out of a payment of 3,000.00 (imported from a statement) of which 100.00 is refunded, a due
    note and an adjustment."""
    target = invoice(customer, "12500.00", currency, on=date(2026, 1, 10), description=f"Service desk {tag}",
                     due_days=3650)  # not overdue whenever the test runs
    note = corrections.credit_note(target, [LineInput(f"Goodwill {tag}", "1", "500.00")], f"Goodwill {tag}", BY,
                                   on=date(2026, 1, 12))
    due = corrections.due_note(customer, currency, [LineInput(f"Late fee {tag}", "1", "25.00")],
                               f"Late fee {tag}", BY, on=date(2026, 1, 15))
    statement = PaymentImport(filename=f"statement-{tag}.csv", sha256=hashlib.sha256(tag.encode()).hexdigest(),
                              file_format="csv", account_iban=IBAN, imported_by=BY, payments=1)
    db.session.add(statement)
    db.session.flush()
    payment = payments.record(PaymentInput(amount="3000.00", currency=currency, value_date=date(2026, 1, 20),
                                           bank_reference=f"BANKREF-{tag}", customer_code=customer.code), BY,
                              import_id=statement.id)
    allocation = allocations.allocate(payment, target, "2000.00", BY, on=date(2026, 1, 21))
    refund = payments.refund("100.00", BY, payment=payment, reason=f"Overpaid {tag}", on=date(2026, 1, 22))
    adjustment = corrections.adjust(customer, currency, "debit", "10.00", f"Bank charges {tag}", BY,
                                    on=date(2026, 1, 23))
    return {"invoice": target, "credit_note": note, "due_note": due, "payment": payment, "allocation": allocation,
            "refund": refund, "adjustment": adjustment, "import": statement, "customer": customer}


def known(rows: dict) -> dict[str, str]:
    """What each grid shows of one customer's rows (and no other customer's)."""
    tag = rows["payment"].bank_reference.removeprefix("BANKREF-")
    return {"invoices": rows["invoice"].number, "credit_notes": rows["credit_note"].number,
            "due_notes": rows["due_note"].number, "payments": rows["payment"].bank_reference,
            "allocations": rows["invoice"].number, "refunds": f"Overpaid {tag}",
            "adjustments": f"Bank charges {tag}", "ledger_entries": rows["invoice"].number,
            "customer_balances": rows["customer"].code, "payment_imports": f"statement-{tag}.csv",
            "bank_import_mappings": IBAN}


@pytest.fixture
def books(app, monkeypatch):
    """Alpha (USD, the base currency) and Bravo (EUR at 1.10), one of everything each, an unidentified payment
    and a bank import mapping; issued without rendering their files (test_rendering.py covers those)."""
    monkeypatch.setattr(rendering, "render_files", lambda document: [])
    rate("EUR", date(2026, 1, 1), "1.10")
    alpha = seed(f.CustomerFactory(code="ALPHA", name="Alpha Ltd", currency="USD"), "USD", "ALPHA")
    bravo = seed(f.CustomerFactory(code="BRAVO", name="Bravo GmbH", currency="EUR"), "EUR", "BRAVO")
    unidentified = pay(None, "77.00", text="who is this", payer_name="Mystery Payer")
    db.session.add(BankImportMapping(account_iban=IBAN, settings={"amount": "Betrag", "date": "Buchungstag"}))
    db.session.commit()
    return {"alpha": alpha, "bravo": bravo, "unidentified": unidentified}


def column(page: str, name: str) -> list[str]:
    """The cells of one list column, in order."""
    return [" ".join(cell.split()) for cell in re.findall(rf'<td class="col-{name}">(.*?)</td>', page, re.S)]


def signed_in(app, client, role: str, **fields):
    return sign_in(app, client, f.make_user(role, **fields))


# ---------------------------------------------------------------- 1. every grid lists its rows, in words

@pytest.mark.parametrize("grid", GRIDS)
def test_each_grid_lists_the_seeded_rows_for_a_finance_manager(app, client, books, grid):
    signed_in(app, client, "finance_manager")
    page = page_text(client.get(f"/admin/{grid}/"))
    assert known(books["alpha"])[grid] in page and known(books["bravo"])[grid] in page


@pytest.mark.parametrize("grid", GRIDS)
def test_each_grid_searches_sorts_filters_and_exports(app, client, books, grid):
    signed_in(app, client, "finance_manager")
    value = known(books["alpha"])[grid]
    assert value in page_text(client.get(f"/admin/{grid}/?search={value}"))
    assert value not in page_text(client.get(f"/admin/{grid}/?search=zzz-no-match"))
    for query in ("?sort=0", "?sort=1&desc=1", "?page_size=20&page=0"):
        response = client.get(f"/admin/{grid}/{query}")
        assert response.status_code == 200 and value in page_text(response), query
    groups = filter_groups(client.get(f"/admin/{grid}/"))
    assert groups, f"{grid} offers no filters"
    for entries in groups.values():
        assert client.get(f"/admin/{grid}/?flt0_{entries[0]['arg']}=x").status_code == 200
    exported = client.get(f"/admin/{grid}/export/csv/")
    assert exported.status_code == 200 and value in exported.get_data(as_text=True)


def test_each_kind_of_document_has_its_own_grid(app, client, books):
    signed_in(app, client, "finance_manager")
    alpha = books["alpha"]
    listed = {grid: column(client.get(f"/admin/{grid}/").get_data(as_text=True), "number")
              for grid in ("invoices", "credit_notes", "due_notes")}
    numbers = {grid: {alpha[kind].number, books["bravo"][kind].number}
               for grid, kind in (("invoices", "invoice"), ("credit_notes", "credit_note"), ("due_notes", "due_note"))}
    assert {grid: set(found) for grid, found in listed.items()} == numbers


def test_invoice_list_shows_states_in_words_and_amounts_grouped_in_their_currency(app, client, books):
    signed_in(app, client, "finance_manager")
    page = client.get("/admin/invoices/?sort=0").get_data(as_text=True)  # by number: Alpha's first
    assert column(page, "state") == ["Partially paid", "Partially paid"]
    assert column(page, "gross_total") == ["12,500.00", "12,500.00"]
    assert column(page, "open_amount") == ["10,000.00", "10,000.00"]  # less 2,000.00 paid and 500.00 credited
    assert column(page, "base_amount") == ["12,500.00", "13,750.00"]  # EUR at 1.10
    state = next(flt for flt in filter_groups(client.get("/admin/invoices/"))["State"] if flt["operation"] == "equals")
    assert ["partially_paid", "Partially paid"] in state["options"]


def test_invoice_details_list_its_lines(app, client, books):
    signed_in(app, client, "finance_manager")
    details = page_text(client.get(f"/admin/invoices/details/?id={books['bravo']['invoice'].id}"))
    assert "Service desk BRAVO" in details and "12,500.00" in details and "13,750.00" in details
    assert "Exchange rate (base currency per unit)" in details and "12500.00" not in details


def test_the_other_grids_group_amounts_in_their_currency(app, client, books):
    signed_in(app, client, "finance_manager")
    payments_page = client.get("/admin/payments/?sort=0").get_data(as_text=True)  # by reference: PAY-1 first
    assert column(payments_page, "amount") == ["3,000.00", "3,000.00", "77.00"]
    assert column(payments_page, "unapplied") == ["900.00", "900.00", "77.00"]  # less 2,000.00 and 100.00 refunded
    assert column(payments_page, "base_amount") == ["3,000.00", "3,300.00", "77.00"]
    assert column(payments_page, "id")[0] == f"PAY-{books['alpha']['payment'].id}"
    allocated = client.get("/admin/allocations/").get_data(as_text=True)
    assert "Realized FX (base currency)" in page_text(client.get("/admin/allocations/"))
    assert sorted(column(allocated, "amount")) == ["2,000.00", "2,000.00"]
    alpha = books["alpha"]["payment"]
    assert f"PAY-{alpha.id} (3,000.00 USD, 2026-01-20)" in column(allocated, "payment")
    ledger = client.get("/admin/ledger_entries/?search=ALPHA").get_data(as_text=True)
    assert "12,500.00" in column(ledger, "debit") and "3,000.00" in column(ledger, "credit")
    assert "Balance after" in page_text(client.get("/admin/ledger_entries/"))
    balances = client.get("/admin/customer_balances/?search=BRAVO").get_data(as_text=True)
    # 12,500 − 500 + 25 − 3,000 + 100 + 10 in EUR; in USD at 1.10.
    assert column(balances, "balance") == ["9,135.00"] and column(balances, "base_balance") == ["10,048.50"]


def test_unidentified_filter_shows_payments_without_a_customer(app, client, books):
    signed_in(app, client, "finance_manager")
    arg = filter_groups(client.get("/admin/payments/"))["Unidentified"][0]["arg"]
    only = page_text(client.get(f"/admin/payments/?flt0_{arg}=1"))
    assert "Mystery Payer" in only and "Unidentified" in only and "BANKREF-ALPHA" not in only
    identified = page_text(client.get(f"/admin/payments/?flt0_{arg}=0"))
    assert "Mystery Payer" not in identified and "BANKREF-ALPHA" in identified and "BANKREF-BRAVO" in identified


@pytest.mark.parametrize("grid", GRIDS)
def test_each_grids_headers_filters_and_details_are_words(app, client, books, grid):
    signed_in(app, client, "admin")
    response = client.get(f"/admin/{grid}/")
    headers = [text for text in cells(response.get_data(as_text=True), "th") if text]
    assert headers and not [text for text in headers if RAW_NAME.search(text) or text[0].islower()], headers
    filters = list(filter_groups(response))
    assert filters and not [name for name in filters if RAW_NAME.search(name)], filters
    link = re.search(rf'href="(/admin/{grid}/details/\?id=[^"]+)"', response.get_data(as_text=True)).group(1)
    details = client.get(link.replace("&amp;", "&"))
    labels = [text for text in cells(details.get_data(as_text=True), "td") if text][::2]
    assert details.status_code == 200 and labels and not [text for text in labels if RAW_NAME.search(text)], labels


@pytest.mark.parametrize("grid", ["adjustments", "bank_import_mappings"])
def test_the_forms_labels_are_words(app, client, grid):
    signed_in(app, client, "admin")
    labels = [re.sub(r"\(.*?\)", "", text) for text in cells(client.get(f"/admin/{grid}/new/").get_data(as_text=True),
                                                              "label")]
    assert labels and not [text for text in labels if RAW_NAME.search(text)], labels


# ---------------------------------------------------------------- 2. posted rows are never changed here

def _row_id(app, client, grid: str) -> str:
    page = client.get(f"/admin/{grid}/").get_data(as_text=True)
    return re.search(rf'/admin/{grid}/details/\?id=([^"&]+)', page).group(1)


@pytest.mark.parametrize("grid", POSTED)
def test_posted_rows_cannot_be_created_edited_or_deleted_even_by_the_admin(app, client, books, grid):
    signed_in(app, client, "admin")
    row_id = _row_id(app, client, grid)
    before = snapshot()
    if grid != "adjustments":
        assert client.get(f"/admin/{grid}/new/").status_code == 302
        post_form(client, f"/admin/{grid}/new/", {"currency": "USD", "amount": "1.00"})
    assert client.get(f"/admin/{grid}/edit/?id={row_id}").status_code == 302
    for url, data in ((f"/admin/{grid}/edit/?id={row_id}", {"currency": "EUR", "reason": "forged"}),
                      (f"/admin/{grid}/delete/", {"id": row_id}),
                      (f"/admin/{grid}/action/", {"action": "delete", "rowid": [row_id]})):
        assert post_form(client, url, data).status_code == 302, url
    assert snapshot() == before
    page = client.get(f"/admin/{grid}/").get_data(as_text=True)
    assert f"/admin/{grid}/delete/" not in page and f"/admin/{grid}/edit/" not in page
    assert f"/admin/{grid}/new/" not in page or grid == "adjustments"


def test_a_ledger_entry_cannot_be_deleted_through_the_admin(app, client, books):
    signed_in(app, client, "admin")
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.reference == books["alpha"]["invoice"].number))
    entries = count(LedgerEntry)
    assert post_form(client, "/admin/ledger_entries/delete/", {"id": str(entry.id)}).status_code == 302
    assert post_form(client, "/admin/ledger_entries/action/",
                     {"action": "delete", "rowid": [str(entry.id)]}).status_code == 302
    assert count(LedgerEntry) == entries and db.session.get(LedgerEntry, entry.id) is not None
    page = client.get("/admin/ledger_entries/").get_data(as_text=True)
    assert 'value="delete"' not in page and "Delete" not in page_text(client.get("/admin/ledger_entries/"))
    assert client.get(f"/admin/ledger_entries/details/?id={entry.id}").status_code == 200


# ---------------------------------------------------------------- 3. adjustments through their use case

def adjustment_form(customer, **overrides) -> dict:
    return {"customer": str(customer.id), "side": "credit", "amount": "1250.50", "currency": "", "reason": "Goodwill",
            "entry_date": "2026-02-03", **overrides}


def test_finance_manager_adjusts_an_account_onto_the_ledger(app, client, books):
    customer = books["bravo"]["customer"]
    balance_before = db.session.get(CustomerBalance, (customer.id, "EUR")).balance
    user = signed_in(app, client, "finance_manager")
    response = post_form(client, "/admin/adjustments/new/", adjustment_form(customer))
    assert response.status_code == 302
    made = db.session.scalar(select(Adjustment).where(Adjustment.reason == "Goodwill"))
    assert (made.customer_id, made.currency, made.side, str(made.amount)) == (customer.id, "EUR", "credit", "1250.50")
    assert (made.entry_date, made.created_by, str(made.base_amount)) == (date(2026, 2, 3), user.email, "1375.55")
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.adjustment_id == made.id))
    assert (entry.kind, entry.reference, str(entry.credit)) == ("adjustment", f"ADJ-{made.id}", "1250.50")
    db.session.expire_all()
    assert db.session.get(CustomerBalance, (customer.id, "EUR")).balance == balance_before - made.amount
    assert count(AuditEvent, AuditEvent.entity_type == "Adjustment", AuditEvent.entity_id == str(made.id)) == 1
    assert f"ADJ-{made.id}" in page_text(client.get("/admin/adjustments/"))


@pytest.mark.parametrize(("overrides", "message"), [
    ({"amount": "12.345"}, "Amount: allows at most 2 decimal places"),
    ({"amount": "-5"}, "Amount: must be greater than zero"),
    ({"amount": "1e3"}, "Amount: “1e3” is not a number"),
    ({"currency": "JPY", "amount": "1250"}, "Currency: no JPY exchange rate on or before 2026-02-03"),
    ({"currency": "XYZ"}, "Currency: “XYZ” is not an ISO 4217 currency code"),
    ({"reason": ""}, "Reason: This field is required."),
])
def test_a_refused_adjustment_names_its_field_and_posts_nothing(app, client, books, overrides, message):
    signed_in(app, client, "finance_manager")
    before = (count(Adjustment), count(LedgerEntry))
    response = post_form(client, "/admin/adjustments/new/", adjustment_form(books["alpha"]["customer"], **overrides))
    assert response.status_code == 200 and message in page_text(response)
    assert (count(Adjustment), count(LedgerEntry)) == before


@pytest.mark.parametrize("role", ["accountant", "guest", "account_manager"])
def test_only_correctors_adjust_accounts(app, client, books, role):
    signed_in(app, client, role)
    assert client.get("/admin/adjustments/new/").status_code == 302
    post_form(client, "/admin/adjustments/new/", adjustment_form(books["alpha"]["customer"]))
    assert count(Adjustment) == 2  # the seeded ones


# ---------------------------------------------------------------- 4. bank import mappings

def test_accountant_keeps_bank_import_mappings(app, client, books):
    user = signed_in(app, client, "accountant")
    settings = '{"delimiter": ";", "amount": "Betrag", "payer_name": "Auftraggeber / Empfänger"}'
    response = post_form(client, "/admin/bank_import_mappings/new/",
                         {"account_iban": "de44 5001 0517 5407 3249 31", "settings": settings})
    assert response.status_code == 302
    mapping = db.session.scalar(select(BankImportMapping).where(
        BankImportMapping.account_iban == "DE44500105175407324931"))
    assert mapping.settings["payer_name"] == "Auftraggeber / Empfänger" and mapping.updated_by == user.email
    form = client.get(f"/admin/bank_import_mappings/edit/?id={mapping.id}").get_data(as_text=True)
    assert '\n  &#34;amount&#34;: &#34;Betrag&#34;' in form or '\n  "amount": "Betrag"' in form  # indented JSON
    response = post_form(client, f"/admin/bank_import_mappings/edit/?id={mapping.id}",
                         {"account_iban": mapping.account_iban, "settings": '{"amount": "Umsatz"}'})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(BankImportMapping, mapping.id).settings == {"amount": "Umsatz"}
    listed = page_text(client.get("/admin/bank_import_mappings/?search=DE44"))
    assert '"amount": "Umsatz"' in listed


@pytest.mark.parametrize(("settings", "message"), [
    ("{not json", "Column mapping (JSON): Invalid JSON"),
    ('["amount"]', "Column mapping (JSON): must be a JSON object"),
])
def test_a_mapping_that_is_not_a_json_object_is_refused(app, client, settings, message):
    signed_in(app, client, "accountant")
    response = post_form(client, "/admin/bank_import_mappings/new/", {"account_iban": IBAN, "settings": settings})
    assert response.status_code == 200 and message in page_text(response)
    assert count(BankImportMapping) == 0


def test_mappings_are_not_deleted_and_readers_do_not_change_them(app, client, books):
    mapping = db.session.scalar(select(BankImportMapping))
    signed_in(app, client, "accountant")
    post_form(client, "/admin/bank_import_mappings/delete/", {"id": str(mapping.id)})
    signed_in(app, client, "guest")
    assert client.get("/admin/bank_import_mappings/").status_code == 200
    assert client.get(f"/admin/bank_import_mappings/edit/?id={mapping.id}").status_code == 302
    post_form(client, f"/admin/bank_import_mappings/edit/?id={mapping.id}",
              {"account_iban": IBAN, "settings": '{"forged": true}'})
    db.session.expire_all()
    assert db.session.get(BankImportMapping, mapping.id).settings == {"amount": "Betrag", "date": "Buchungstag"}


# ---------------------------------------------------------------- 5. who reads what

@pytest.mark.parametrize("manager", ["account_manager", "responsible_manager"])
def test_a_manager_sees_only_the_customers_of_its_projects(app, client, books, manager):
    user = f.make_user(manager)
    f.ProjectFactory(contract=f.ContractFactory(customer=books["alpha"]["customer"]), **{manager: user})
    sign_in(app, client, user)
    own, other = known(books["alpha"]), known(books["bravo"])
    for grid in SCOPED:
        page = page_text(client.get(f"/admin/{grid}/"))
        assert own[grid] in page and other[grid] not in page, grid
        exported = client.get(f"/admin/{grid}/export/csv/").get_data(as_text=True)
        assert own[grid] in exported and other[grid] not in exported, grid
    assert "Mystery Payer" not in page_text(client.get("/admin/payments/"))
    bravo, alpha = books["bravo"]["invoice"], books["alpha"]["invoice"]
    assert client.get(f"/admin/invoices/details/?id={alpha.id}").status_code == 200
    refused = client.get(f"/admin/invoices/details/?id={bravo.id}")
    assert refused.status_code == 302 and bravo.number not in page_text(client.get("/admin/invoices/"))
    balance = f"{books['bravo']['customer'].id},EUR"
    assert client.get(f"/admin/customer_balances/details/?id={balance}").status_code == 302
    assert IBAN in page_text(client.get("/admin/bank_import_mappings/"))  # our own accounts' settings


def test_a_manager_of_no_project_sees_no_rows(app, client, books):
    signed_in(app, client, "account_manager")
    for grid in SCOPED:
        page = page_text(client.get(f"/admin/{grid}/"))
        assert known(books["alpha"])[grid] not in page and known(books["bravo"])[grid] not in page, grid


def test_an_invoice_id_of_another_kind_is_not_found_in_the_invoice_grid(app, client, books):
    signed_in(app, client, "finance_manager")
    note = books["alpha"]["credit_note"]
    assert client.get(f"/admin/invoices/details/?id={note.id}").status_code == 302
    assert client.get(f"/admin/credit_notes/details/?id={note.id}").status_code == 200


@pytest.mark.parametrize("grid", GRIDS)
def test_guest_reads_every_grid_and_changes_none(app, client, books, grid):
    signed_in(app, client, "guest")
    assert known(books["bravo"])[grid] in page_text(client.get(f"/admin/{grid}/"))
    assert client.get(f"/admin/{grid}/new/").status_code == 302


@pytest.mark.parametrize("role", ["customer", "analyst", "approver"])
def test_who_does_not_read_receivables_gets_403(app, client, books, role):
    signed_in(app, client, role, **({"customer": books["alpha"]["customer"]} if role == "customer" else {}))
    for grid in GRIDS:
        assert client.get(f"/admin/{grid}/").status_code == 403, grid
        assert client.get(f"/admin/{grid}/export/csv/").status_code == 403, grid

