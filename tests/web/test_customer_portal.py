"""Approved proformas: rendered in the contract's formats, visible to their own customer only."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support import factories
from tests.support.proforma import complete_steps, deploy_approval_process, draft_for
from tests.support.web import login_as


@pytest.fixture
def approved(app, make_user):
    deploy_approval_process()
    customer = factories.CustomerFactory(name="Acme Logistics GmbH")
    contract = factories.ContractFactory(customer=customer, document_formats="pdf,html,idoc,sap_csv,ubl",
                                         sap_partner_code="0000100001", sap_company_code="1000")
    factories.FixedLineFactory(contract=contract, unit_price=Decimal("900.00"))
    return complete_steps(draft_for(contract), approval_steps(make_user))


def approval_steps(make_user):
    return ((make_user("reviewer"), "submitted"), (make_user("approver"), "approved"))


def test_approval_renders_every_format_the_contract_asks_for(approved):
    assert approved.state == "approved"
    files = {d.format: d for d in approved.documents}
    assert sorted(files) == ["html", "idoc", "pdf", "sap_csv", "ubl"]
    assert files["pdf"].content.startswith(b"%PDF") and files["pdf"].filename == f"{approved.number}.pdf"
    assert approved.number.encode() in files["ubl"].content and b"INVOIC02" in files["idoc"].content


def test_the_customer_sees_and_downloads_its_own_proforma(app, client, make_user, approved):
    login_as(app, client, make_user("customer", customer=approved.contract.customer))
    home = client.get("/portal/").get_data(as_text=True)
    assert approved.number in home
    assert client.get(f"/portal/proformas/{approved.id}").status_code == 200
    pdf = client.get(f"/portal/proformas/{approved.id}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and pdf.mimetype == "application/pdf"
    assert client.get(f"/portal/proformas/{approved.id}/ubl").data.startswith(b"<?xml")


def test_another_customer_gets_404(app, client, make_user, approved):
    login_as(app, client, make_user("customer"))
    assert approved.number not in client.get("/portal/").get_data(as_text=True)
    assert client.get(f"/portal/proformas/{approved.id}").status_code == 404
    assert client.get(f"/portal/proformas/{approved.id}/pdf").status_code == 404


def test_proformas_still_in_review_are_not_shown(app, client, make_user):
    deploy_approval_process()
    contract = factories.ContractFactory(customer=factories.CustomerFactory())
    factories.FixedLineFactory(contract=contract)
    proforma = draft_for(contract)
    login_as(app, client, make_user("customer", customer=contract.customer))
    assert client.get(f"/portal/proformas/{proforma.id}").status_code == 404


def test_approval_e_mails_the_pdf_to_the_billing_contact(app, make_user):
    from tests.support.smtp_server import SmtpServer

    with SmtpServer() as server:
        app.config["SMTP_URL"] = f"smtp://127.0.0.1:{server.port}"
        try:
            deploy_approval_process()
            customer = factories.CustomerFactory()
            factories.ContactFactory(customer=customer, email="ap@customer.example")
            contract = factories.ContractFactory(customer=customer)
            factories.FixedLineFactory(contract=contract)
            proforma = complete_steps(draft_for(contract), approval_steps(make_user))
        finally:
            app.config["SMTP_URL"] = None
        received = server.received
    assert len(received) == 1
    message = received[0].message
    assert received[0].rcpt_tos == ["ap@customer.example"] and proforma.number in message["Subject"]
    attachment = next(message.iter_attachments())
    assert attachment.get_filename() == f"{proforma.number}.pdf"
    assert attachment.get_content().startswith(b"%PDF")
