"""The staff receivables pages: documents, credit and cancel, payments with reconciliation, import, the ledger."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Payment, PaymentImport, ReceivableDocument
from portal.services.receivables import rendering
from tests.support import factories
from tests.support.receivables import invoice, pay, rate
from tests.support.web import page_text, post_form, sign_in, upload

TODAY = date.today()
CAMT = b"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
<GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-11-30T18:00:00</CreDtTm></GrpHdr>
<Stmt><Id>S1</Id><CreDtTm>2026-11-30T18:00:00</CreDtTm>
<Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>
<Ntry><Amt Ccy="EUR">119.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2026-11-28</Dt></BookgDt>
<ValDt><Dt>2026-11-28</Dt></ValDt><AcctSvcrRef>REF-WEB-1</AcctSvcrRef><BkTxCd/>
<NtryDtls><TxDtls><Refs><EndToEndId>E2E-1</EndToEndId></Refs>
<RltdPties><Dbtr><Nm>Nobody Known Ltd</Nm></Dbtr></RltdPties>
<RmtInf><Ustrd>Thanks</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>
</Stmt></BkToCstmrStmt></Document>"""


@pytest.fixture(autouse=True)
def _no_files(monkeypatch):
    monkeypatch.setattr(rendering, "render_files", lambda document: [])


@pytest.fixture
def world(app, database):
    rate("EUR", TODAY - timedelta(days=400), "1.10")
    customer = factories.CustomerFactory(name="Acme Logistics GmbH", code="ACME")
    document = invoice(customer, "100.00", "EUR", on=TODAY - timedelta(days=10), tax="19", due_days=60)
    payment = pay(customer, "50.00", "EUR", on=TODAY - timedelta(days=2), text=f"Part of {document.number}")
    return customer, document, payment


def test_a_finance_manager_lists_opens_credits_and_cancels(app, client, make_user, world):
    _customer, document, _payment = world
    sign_in(app, client, make_user("finance_manager"))
    listed = client.get("/receivables/documents?state=issued")
    assert listed.status_code == 200 and document.number in page_text(listed)
    assert client.get("/receivables/documents?state=nonsense").status_code == 400
    detail = page_text(client.get(f"/receivables/documents/{document.id}"))
    assert "119.00 EUR" in detail and "Issue a credit note" in detail
    url = f"/receivables/documents/{document.id}/credit"
    refused = post_form(client, url, {"amount": "abc", "tax_rate": "19", "reason": "x"}, form_page=url[:-7])
    assert refused.status_code == 302
    post_form(client, url, {"amount": "10.00", "tax_rate": "19", "reason": "Goodwill"}, form_page=url[:-7])
    db.session.expire_all()
    assert db.session.get(ReceivableDocument, document.id).open_amount == Decimal("107.10")
    post_form(client, f"/receivables/documents/{document.id}/cancel", {"reason": "Twice"}, form_page=url[:-7])
    db.session.expire_all()
    assert db.session.get(ReceivableDocument, document.id).state == "cancelled"


def test_an_accountant_may_not_credit_or_cancel(app, client, make_user, world):
    _customer, document, _payment = world
    sign_in(app, client, make_user("accountant"))
    page = f"/receivables/documents/{document.id}"
    assert "Issue a credit note" not in page_text(client.get(page))
    answer = post_form(client, f"{page}/cancel", {"reason": "x"}, form_page=page)
    assert answer.status_code == 403


def test_reconciling_a_payment_and_unreconciling_it(app, client, make_user, world):
    _customer, document, payment = world
    sign_in(app, client, make_user("accountant"))
    page = f"/receivables/payments/{payment.id}"
    shown = page_text(client.get(page))
    assert f"{document.number} is named in the payment text" in shown
    post_form(client, f"{page}/allocate", {"document_id": document.id, "amount": "50.00"}, form_page=page)
    db.session.expire_all()
    assert db.session.get(ReceivableDocument, document.id).state == "partially_paid"
    allocation = db.session.get(Payment, payment.id).allocations[0]
    post_form(client, f"/receivables/allocations/{allocation.id}/unreconcile", form_page=page)
    db.session.expire_all()
    assert db.session.get(Payment, payment.id).unapplied == Decimal("50.00")
    too_much = post_form(client, f"{page}/allocate", {"document_id": document.id, "amount": "60.00"},
                         form_page=page, follow_redirects=True)
    assert "unapplied" in page_text(too_much)


def test_recording_a_payment_names_the_bad_field(app, client, make_user, world):
    sign_in(app, client, make_user("accountant"))
    answer = post_form(client, "/receivables/payments/new", {"amount": "12,34.5x", "currency": "EUR",
                                                             "value_date": TODAY.isoformat()},
                       form_page="/receivables/payments/new")
    assert answer.status_code == 400 and "Amount:" in page_text(answer)
    recorded = post_form(client, "/receivables/payments/new", {"amount": "20.00", "currency": "EUR",
                                                               "value_date": TODAY.isoformat(),
                                                               "payer_name": "Acme Logistics"},
                         form_page="/receivables/payments/new")
    assert recorded.status_code == 302


def test_import_preview_then_confirm_once(app, client, make_user, world):
    sign_in(app, client, make_user("accountant"))
    preview = upload(client, "/receivables/imports", {}, CAMT, "statement.xml")
    assert preview.status_code == 200
    shown = page_text(preview)
    assert "Preview of statement.xml" in shown and "Unidentified" in shown
    pending = shown.split("/receivables/imports/")[1].split("/confirm")[0]
    post_form(client, f"/receivables/imports/{pending}/confirm", form_page="/receivables/imports")
    assert db.session.scalar(select(func.count(PaymentImport.id))) == 1
    again = upload(client, "/receivables/imports", {}, CAMT, "statement.xml")
    assert "confirming again creates nothing" in page_text(again)


def test_a_broken_bank_file_is_an_error_on_the_page_not_a_500(app, client, make_user, world):
    sign_in(app, client, make_user("accountant"))
    answer = upload(client, "/receivables/imports", {}, CAMT[:300], "truncated.xml")
    assert answer.status_code == 400 and "truncated.xml" in page_text(answer)


def test_the_ledger_page_and_its_exports(app, client, make_user, world):
    sign_in(app, client, make_user("guest"))
    args = f"customer=ACME&currency=EUR&from={TODAY.replace(month=1, day=1)}&to={TODAY}"
    shown = page_text(client.get(f"/receivables/ledger?{args}"))
    assert "Closing balance" in shown and "69.00 EUR" in shown
    for fmt, kind in (("csv", "text/csv"), ("xlsx", "spreadsheet"), ("pdf", "application/pdf")):
        answer = client.get(f"/receivables/ledger?{args}&format={fmt}")
        assert answer.status_code == 200 and kind in answer.mimetype
    bad = client.get(f"/receivables/ledger?customer=ACME&from=2026-13-01&to={TODAY}")
    assert bad.status_code == 400


def test_an_account_manager_sees_only_the_customers_of_their_projects(app, client, make_user, world):
    customer, document, payment = world
    manager = make_user("account_manager")
    other = factories.CustomerFactory(name="Other Co")
    foreign = invoice(other, "5.00", "EUR", on=TODAY)
    contract = factories.ContractFactory(customer=customer)
    factories.ProjectFactory(contract=contract, account_manager=manager)
    sign_in(app, client, manager)
    listed = page_text(client.get("/receivables/documents"))
    assert document.number in listed and foreign.number not in listed
    assert client.get(f"/receivables/documents/{foreign.id}").status_code == 404
    assert client.get(f"/receivables/payments/{payment.id}").status_code == 200
    assert client.get("/receivables/ledger?customer=" + other.code).status_code == 404


def test_a_customer_sees_its_own_invoices_paid_or_not_and_its_statement(app, client, make_user, world):
    customer, document, payment = world
    other = invoice(factories.CustomerFactory(), "7.00", "EUR", on=TODAY)
    from portal.services.receivables import allocations
    allocations.allocate(payment, document, "50.00", "accountant@example.test")
    sign_in(app, client, make_user("customer", customer=customer))
    home = page_text(client.get("/portal/"))
    assert document.number in home and "Partially paid" in home and other.number not in home
    assert "69.00 EUR" in page_text(client.get(f"/portal/documents/{document.id}"))
    assert client.get(f"/portal/documents/{other.id}").status_code == 404
    statement = page_text(client.get(f"/portal/statement?currency=EUR&from={TODAY.replace(month=1, day=1)}"))
    assert "Closing balance" in statement and "69.00 EUR" in statement
    assert client.get("/portal/statement?currency=E1").status_code == 400
    assert client.get("/receivables/documents").status_code == 403
