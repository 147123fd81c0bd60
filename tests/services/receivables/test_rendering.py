"""An issued document's PDF and UBL: rendered once at issue (the UBL checked against EN 16931, and Peppol BIS 3 when
configured), stored with their SHA-256, served as stored, never rendered again, not even after a template change."""

from __future__ import annotations

import hashlib
import re
from datetime import date

import pytest
from lxml import etree
from sqlalchemy import func, select

from portal.errors import Conflict, NotFound, ValidationError
from portal.exports import pdf
from portal.exports.ubl import NS_CBC
from portal.extensions import db
from portal.models import ReceivableFile
from portal.services.billing import files
from portal.services.receivables import corrections, invoicing, rendering
from portal.services.receivables.invoicing import LineInput
from tests.support import factories
from tests.support.paths import PEPPOL_RULES
from tests.support.receivables import BY, invoice
from tests.support.servers import require_service

ON = date(2026, 11, 30)


def pdf_title(content: bytes) -> str:
    """The PDF's Title (from the template's <title>): the one text a PDF keeps readable, uncompressed."""
    return re.search(rb"/Title \(([^)]*)\)", content).group(1).decode()


def stored(document) -> dict[str, ReceivableFile]:
    return {row.format: row for row in db.session.scalars(
        select(ReceivableFile).where(ReceivableFile.document_id == document.id))}


@pytest.fixture
def customer():
    customer = factories.CustomerFactory(name="Kunde AG", billing_street="Königsallee 2", billing_city="Düsseldorf",
                                         billing_postcode="40212")
    factories.ContactFactory(customer=customer, email="ap@kunde.example")
    return customer


def test_issuing_stores_the_pdf_and_the_ubl_once_with_their_sha256(app, customer):
    issued = invoice(customer, "1000.00", tax="19", on=ON)
    rows = stored(issued)
    assert sorted(rows) == ["pdf", "ubl"]
    assert (rows["pdf"].filename, rows["ubl"].filename) == (f"{issued.number}.pdf", f"{issued.number}.ubl.xml")
    assert (rows["pdf"].content_type, rows["ubl"].content_type) == ("application/pdf", "application/xml")
    for row in rows.values():
        assert row.sha256 == hashlib.sha256(row.content).hexdigest() and row.size == len(row.content)
        assert row.uploaded_by == BY
    assert rows["pdf"].content.startswith(b"%PDF") and pdf_title(rows["pdf"].content) == f"Invoice {issued.number}"
    root = etree.fromstring(rows["ubl"].content)
    assert root.findtext(f"{{{NS_CBC}}}ID") == issued.number
    assert root.findtext(f"{{{NS_CBC}}}InvoiceTypeCode") == "380"


def test_the_files_are_served_as_stored_without_rendering(app, customer, monkeypatch):
    issued = invoice(customer, "250.00", on=ON)
    kept = {fmt: (row.content, row.sha256) for fmt, row in stored(issued).items()}
    db.session.commit()
    db.session.expire_all()

    def refuse(*args, **kwargs):
        raise AssertionError("a stored file was rendered again")

    monkeypatch.setattr(pdf, "render_pdf", refuse)
    monkeypatch.setattr(rendering.ubl, "render_ubl", refuse)
    for fmt, (content, sha256) in kept.items():
        served = rendering.stored_file(issued, fmt)
        assert (served.content, served.sha256) == (content, sha256)
        assert hashlib.sha256(served.content).hexdigest() == sha256
    with pytest.raises(NotFound, match="has no HTML file"):
        rendering.stored_file(issued, "html")


def test_a_template_change_renders_only_documents_issued_after_it(app, customer):
    first = invoice(customer, "100.00", on=ON)
    before = stored(first)["pdf"]
    content, sha256 = before.content, before.sha256
    files.upload_template("Our invoice", "invoice_pdf", "invoice.html",
                          b"<html><head><title>Invoice layout 2 {{ document.number }}</title></head>"
                          b"<body><p>{{ document.number }}: {{ view.gross_total }}</p></body></html>", "admin")
    with pytest.raises(Conflict, match="never rendered again"):
        rendering.render_files(first)
    db.session.expire_all()
    assert (stored(first)["pdf"].content, stored(first)["pdf"].sha256) == (content, sha256)
    assert db.session.scalar(select(func.count()).select_from(ReceivableFile)
                             .where(ReceivableFile.document_id == first.id)) == 2
    second = invoice(customer, "100.00", on=ON)
    assert pdf_title(stored(second)["pdf"].content) == f"Invoice layout 2 {second.number}"
    assert pdf_title(content) == f"Invoice {first.number}"


def test_a_draft_has_no_files_to_render(app, customer):
    draft = invoicing.create_draft("invoice", customer, "USD", [LineInput("Support", "1", "10.00")],
                                   issue_date=ON, created_by=BY)
    with pytest.raises(Conflict, match="not issued"):
        rendering.render_files(draft)
    assert stored(draft) == {}


def test_credit_and_due_notes_get_their_own_layout_and_ubl_root(app, customer):
    target = invoice(customer, "500.00", tax="19", on=ON)
    files.upload_template("Credit layout", "credit_note_pdf", "credit.html",
                          b"<html><head><title>Credit {{ document.number }} for {{ document.billing_reference.number }}"
                          b"</title></head><body><p>x</p></body></html>", "admin")
    note = corrections.credit_note(target, [LineInput("Goodwill", "1", "100.00", "19")], "Outage", BY, on=ON)
    rows = stored(note)
    assert pdf_title(rows["pdf"].content) == f"Credit {note.number} for {target.number}"
    root = etree.fromstring(rows["ubl"].content)
    assert root.tag.endswith("}CreditNote") and root.findtext(f"{{{NS_CBC}}}CreditNoteTypeCode") == "381"
    due = corrections.due_note(customer, "USD", [LineInput("Late fee", "1", "40.00")], "Paid late", BY, on=ON,
                               corrects=target)
    due_rows = stored(due)
    assert pdf_title(due_rows["pdf"].content) == f"Due Note {due.number}"  # the shipped layout: none uploaded
    assert etree.fromstring(due_rows["ubl"].content).findtext(f"{{{NS_CBC}}}InvoiceTypeCode") == "383"


def test_a_ubl_file_that_breaks_en16931_refuses_the_issue(app):
    nowhere = factories.CustomerFactory(billing_country="", vat_id="")  # EN 16931 wants the buyer's country
    draft = invoicing.create_draft("invoice", nowhere, "USD", [LineInput("Support", "1", "10.00")],
                                   issue_date=ON, created_by=BY)
    with pytest.raises(ValidationError) as refused:
        invoicing.issue(draft, BY)
    assert set(refused.value.errors) == {"ubl"}
    assert "breaks EN 16931" in refused.value.errors["ubl"] and "BR-11" in refused.value.errors["ubl"]
    assert stored(draft) == {}


@pytest.fixture
def peppol(app, monkeypatch):
    """The Peppol rules configured, with the seller's telephone the German rules want."""
    require_service("the Peppol BIS 3 rules", PEPPOL_RULES.is_file(), f"{PEPPOL_RULES} is missing")
    monkeypatch.setitem(app.config, rendering.PEPPOL_RULES_SETTING, str(PEPPOL_RULES))
    monkeypatch.setitem(app.config, rendering.PHONE_SETTING, "+49 30 1234567")


def test_configured_peppol_rules_check_peppol_files_too(app, customer, peppol):
    issued = invoice(customer, "1000.00", tax="19", on=ON)
    root = etree.fromstring(stored(issued)["ubl"].content)
    assert root.findtext(f"{{{NS_CBC}}}CustomizationID").endswith("poacc:billing:3.0")
    assert [(e.get("schemeID"), e.text) for e in root.iter(f"{{{NS_CBC}}}EndpointID")] == [
        ("9930", app.config["SELLER_VAT_ID"]), ("9930", customer.vat_id)]
    cityless = factories.CustomerFactory()  # a German buyer without a city breaks the German Peppol rules
    with pytest.raises(ValidationError, match=r"Peppol BIS Billing 3\.0: .*DE-R-008"):
        invoice(cityless, "10.00", on=ON)


def test_without_the_setting_only_en16931_is_checked(app):
    cityless = factories.CustomerFactory()
    assert rendering.peppol_rules() == []
    assert sorted(stored(invoice(cityless, "10.00", on=ON))) == ["pdf", "ubl"]
