"""Approved proformas: rendered in the contract's formats, visible to their own customer only, downloadable in
the contract's portal formats (PDF and UBL unless it says otherwise), each with its state in words."""

from __future__ import annotations

import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Contract
from portal.models.billing import PROFORMA_STATES
from portal.services.identity import customer_portal
from tests.support import factories
from tests.support.proforma import complete_steps, deploy_approval_process, draft_for
from tests.support.web import login_as, page_text, post_form, sign_in


@pytest.fixture
def approved(app, make_user):
    deploy_approval_process()
    factories.ExchangeRateFactory()  # the invoice issued after approval converts EUR to the base currency
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


def file_links(html: str, proforma_id: int) -> list[str]:
    """The formats a page links for download."""
    return re.findall(rf'href="/portal/proformas/{proforma_id}/([a-z_]+)"', html)


def test_the_customer_downloads_only_the_contracts_portal_formats(app, client, make_user, approved):
    login_as(app, client, make_user("customer", customer=approved.contract.customer))
    assert file_links(client.get("/portal/").get_data(as_text=True), approved.id) == ["pdf", "ubl"]
    page = client.get(f"/portal/proformas/{approved.id}").get_data(as_text=True)
    assert file_links(page, approved.id) == ["pdf", "ubl"]
    for fmt in ("idoc", "sap_csv", "html"):  # rendered for the SAP channel, not for the customer
        assert client.get(f"/portal/proformas/{approved.id}/{fmt}").status_code == 404, fmt
    assert client.get(f"/portal/proformas/{approved.id}/pdf").status_code == 200


def test_a_contract_may_offer_the_sap_files_in_the_portal_too(app, client, make_user, approved):
    approved.contract.portal_formats = "pdf,idoc,sap_csv"
    sign_in(app, client, make_user("customer", customer=approved.contract.customer))
    assert file_links(client.get("/portal/").get_data(as_text=True), approved.id) == ["idoc", "pdf", "sap_csv"]
    idoc = client.get(f"/portal/proformas/{approved.id}/idoc")
    assert idoc.status_code == 200 and b"INVOIC02" in idoc.data
    assert client.get(f"/portal/proformas/{approved.id}/ubl").status_code == 404


def test_a_portal_format_the_contract_does_not_render_is_not_offered(app, client, make_user, approved):
    approved.contract.document_formats = "pdf"  # as if UBL had never been asked for: no file, no link
    db.session.expire(approved, ["documents"])
    for document in [d for d in approved.documents if d.format != "pdf"]:
        db.session.delete(document)
    sign_in(app, client, make_user("customer", customer=approved.contract.customer))
    assert file_links(client.get("/portal/").get_data(as_text=True), approved.id) == ["pdf"]
    assert client.get(f"/portal/proformas/{approved.id}/ubl").status_code == 404


def test_each_proforma_shows_its_state_in_words(app, client, make_user, approved):
    login_as(app, client, make_user("customer", customer=approved.contract.customer))
    assert '<td class="proforma-state">Approved</td>' in client.get("/portal/").get_data(as_text=True)
    page = client.get(f"/portal/proformas/{approved.id}").get_data(as_text=True)
    assert '<span class="proforma-state">Approved</span>' in page


def test_every_proforma_state_has_words():
    labels = {state: customer_portal.state_label(SimpleNamespace(state=state)) for state in PROFORMA_STATES}
    assert labels == {"draft": "Draft", "in_review": "In review", "approved": "Approved", "rejected": "Rejected",
                      "cancelled": "Cancelled"}


@pytest.mark.parametrize(("formats", "saved"), [("pdf, ubl,idoc", "pdf,ubl,idoc"), ("pdf,xlsx", None)])
def test_the_contract_grid_takes_portal_formats_from_the_known_ones(app, client, make_user, formats, saved):
    customer = factories.CustomerFactory()
    sign_in(app, client, make_user("accountant"))
    form = {"customer": str(customer.id), "number": "K-PORTAL", "currency": "EUR", "payment_terms_days": "30",
            "billing_cycle": "monthly", "tax_rate": "19", "tax_rule": "standard", "document_formats": "pdf",
            "upload_channel": "none", "valid_from": "2026-01-01", "portal_formats": formats}
    response = post_form(client, "/admin/contracts/new/", form)
    contract = db.session.scalar(select(Contract).where(Contract.number == "K-PORTAL"))
    if saved is None:
        assert contract is None and "unknown 'xlsx'; use pdf, html, idoc, sap_csv, ubl" in page_text(response)
    else:
        assert response.status_code == 302 and contract.portal_formats == saved


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
            factories.ExchangeRateFactory()  # the invoice issued after approval converts EUR to the base currency
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


def test_the_customer_reads_amounts_with_separators_and_quantities_in_plain_digits(app, client, make_user):
    """Raw Decimals showed a quantity of 10 as 1E+1, a 20 % rate as 2E+1 and 146913.00 JPY without grouping."""
    deploy_approval_process()
    contract = factories.ContractFactory(customer=factories.CustomerFactory(currency="JPY"), currency="JPY",
                                         tax_rate=Decimal("20"))
    factories.FixedLineFactory(contract=contract, description="Licences", quantity=Decimal("10"),
                               unit_price=Decimal("12243"), tax_rate=Decimal("20"))
    above_threshold = (*approval_steps(make_user), (make_user("finance_manager"), "approved"))
    proforma = complete_steps(draft_for(contract), above_threshold)
    login_as(app, client, make_user("customer", customer=contract.customer))
    home = page_text(client.get("/portal/"))
    assert "146,916 JPY" in home  # 10 x 12,243 = 122,430 + 20 % = 146,916
    shown = page_text(client.get(f"/portal/proformas/{proforma.id}"))
    row = re.search(r"Licences</td>(.*?)</tr>", shown).group(1)
    assert re.findall(r'<td class="text-end[^"]*">([^<]*)</td>', row) == ["10", "12,243", "20", "122,430"]
    assert "Total</th><td class=\"text-end fw-semibold\">146,916 JPY" in shown and "E+" not in shown
    terms = page_text(client.get(f"/portal/contracts/{contract.id}"))
    terms_row = re.search(r"Licences</td>(.*?)</tr>", terms).group(1)
    assert re.findall(r'<td class="text-end">([^<]*)</td>', terms_row) == ["10", "12,243 JPY", "20"]
