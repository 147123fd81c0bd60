"""Discount lines: the one line kind with a negative unit price, from a contract's fixed lines or added in review;
a proforma whose discounts exceed its charges is refused; the documents carry the discount (UBL: a negative
quantity at a positive price, EN 16931 BR-27)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree
from sqlalchemy import func, select

from portal.errors import ValidationError
from portal.exports.sap_csv import render_sap_csv
from portal.exports.sap_idoc import render_idoc, validate_idoc
from portal.exports.ubl import NS_CAC, NS_CBC, render_ubl
from portal.exports.ubl_validate import validate_ubl
from portal.extensions import db
from portal.models import Proforma
from portal.services.billing import documents, drafting, proforma_review, review_changes
from portal.services.workflow import tasks
from tests.support import factories
from tests.support.proforma import complete_steps, deploy_approval_process, draft_for, open_task

NS = {"cac": NS_CAC, "cbc": NS_CBC}
BELOW_ZERO = "must be below zero on a discount line"


@pytest.fixture
def contract(app):
    deploy_approval_process()
    contract = factories.ContractFactory(customer=factories.CustomerFactory(), tax_rate=Decimal("19"),
                                         sap_partner_code="0000100001", sap_company_code="1000")
    factories.FixedLineFactory(contract=contract, description="Managed service", unit_price=Decimal("900.00"),
                               tax_rate=Decimal("19"))
    return contract


@pytest.fixture
def discounted(contract):
    factories.FixedLineFactory(contract=contract, kind="discount", description="Loyalty discount",
                               quantity=Decimal("2"), unit_price=Decimal("-45.50"), tax_rate=Decimal("19"))
    return draft_for(contract)


def test_a_fixed_discount_is_drafted_as_a_discount_line_that_lowers_the_totals(discounted):
    charge, discount = discounted.lines
    assert (charge.kind, discount.kind, discount.source_ref) == ("fixed", "discount", "fixed")
    assert (discount.net_amount, discount.tax_amount) == (Decimal("-91.00"), Decimal("-17.29"))
    assert (discounted.net_total, discounted.tax_total, discounted.gross_total) == \
        (Decimal("809.00"), Decimal("153.71"), Decimal("962.71"))


def test_a_contract_whose_discounts_exceed_its_charges_is_not_drafted_and_the_report_says_why(contract):
    factories.FixedLineFactory(contract=contract, kind="discount", description="Credit", unit_price=Decimal("-1000.00"),
                               tax_rate=Decimal("19"))
    report = drafting.draft_period("2026-11", contract.number)
    assert report.failed == {contract.number: f"lines: proforma PF-{contract.number}-2026-11: the discounts exceed "
                                              "the charges (net -100.00 EUR); a proforma cannot be negative"}
    assert db.session.scalar(select(func.count()).select_from(Proforma)) == 0


def _claimed_review(proforma, reviewer):
    task = open_task(proforma)
    tasks.claim(task.id, reviewer)
    db.session.commit()  # as the claim's request would
    return task


def test_the_reviewer_adds_a_discount_with_a_negative_price(app, make_user, contract):
    proforma = draft_for(contract)
    reviewer = make_user("reviewer")
    task = _claimed_review(proforma, reviewer)
    line = proforma_review.add_line(task.id, reviewer, {"kind": "discount", "description": "Goodwill",
                                                        "quantity": "1", "unit_price": "-50"})
    assert (line.kind, line.source_ref, line.unit_price, line.net_amount) == \
        ("discount", "manual", Decimal("-50.00"), Decimal("-50.00"))
    assert proforma.net_total == Decimal("850.00")
    db.session.commit()
    assert review_changes.review_changes(proforma).added == {line.id}  # marked as added in review, like a charge


@pytest.mark.parametrize(("values", "errors"), [
    ({"kind": "discount", "unit_price": "50"}, {"unit_price": BELOW_ZERO}),
    ({"kind": "discount", "unit_price": "0"}, {"unit_price": BELOW_ZERO}),
    ({"kind": "manual", "unit_price": "-50"},
     {"unit_price": "must not be negative (a discount is a line of the kind Discount)"}),
    ({"kind": "refund", "unit_price": "-50"}, {"kind": "must be manual or discount"}),
])
def test_a_line_added_in_review_is_priced_by_its_kind(app, make_user, contract, values, errors):
    proforma = draft_for(contract)
    reviewer = make_user("reviewer")
    task = _claimed_review(proforma, reviewer)
    with pytest.raises(ValidationError) as refused:
        proforma_review.add_line(task.id, reviewer, {"description": "Goodwill", "quantity": "1", **values})
    assert refused.value.errors == errors
    assert len(proforma.lines) == 1


def test_a_discount_line_stays_a_discount_when_changed(app, make_user, discounted):
    reviewer = make_user("reviewer")
    task = _claimed_review(discounted, reviewer)
    discount = discounted.lines[1]
    with pytest.raises(ValidationError) as refused:
        proforma_review.change_line(task.id, reviewer, discount.id, {"description": "Loyalty discount",
                                                                      "quantity": "2", "unit_price": "45.50"})
    assert refused.value.errors == {"unit_price": BELOW_ZERO}
    db.session.rollback()
    changed = proforma_review.change_line(task.id, reviewer, discount.id, {"description": "Loyalty discount",
                                                                            "quantity": "1", "unit_price": "-45.50"})
    assert (changed.kind, changed.net_amount) == ("discount", Decimal("-45.50"))


def test_removing_the_charge_under_a_discount_is_refused(app, make_user, discounted):
    reviewer = make_user("reviewer")
    task = _claimed_review(discounted, reviewer)
    with pytest.raises(ValidationError) as refused:
        proforma_review.remove_line(task.id, reviewer, discounted.lines[0].id)
    assert refused.value.field == "lines" and "the discounts exceed the charges (net -91.00 EUR)" in str(refused.value)


def test_a_redraft_keeps_the_discount_lines(app, make_user, discounted):
    complete_steps(discounted, [(make_user("reviewer"), "redraft")])
    db.session.refresh(discounted)
    assert [(line.kind, line.description) for line in discounted.lines] == \
        [("fixed", "Managed service"), ("discount", "Loyalty discount")]
    assert discounted.net_total == Decimal("809.00")


def test_the_documents_carry_the_discount(discounted):
    document = documents.document_for(discounted)
    discount = document.lines[1]
    assert (discount.source, discount.unit, discount.quantity, discount.unit_price, discount.net_amount) == \
        ("fixed discount", "C62", Decimal("2.0000"), Decimal("-45.50"), Decimal("-91.00"))
    xml = render_ubl(document)
    assert validate_ubl(xml) == []
    line = etree.fromstring(xml).findall("cac:InvoiceLine", NS)[1]
    assert (line.findtext("cbc:InvoicedQuantity", namespaces=NS), line.findtext("cac:Price/cbc:PriceAmount",
                                                                                namespaces=NS)) == ("-2.00", "45.50")
    assert ";-45.50;-91.00;" in render_sap_csv(document).decode("utf-8").replace(",", ";")
    idoc = render_idoc(document)
    assert validate_idoc(idoc) == []
    item = etree.fromstring(idoc).findall(".//E1EDP01")[1]
    assert (item.findtext("MENGE"), item.findtext("VPREI"), item.findtext("NETWR")) == ("2.0000", "-45.50", "-91.00")


def test_the_line_editor_adds_a_discount_and_marks_it(app, client, make_user, contract):
    from tests.support.web import csrf_from, login_as, page_text

    proforma = draft_for(contract)
    reviewer = make_user("reviewer")
    task = _claimed_review(proforma, reviewer)
    login_as(app, client, reviewer)
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert '<option value="discount">Discount (negative price)</option>' in page
    response = client.post(f"/tasks/{task.id}/proforma/lines/new", data={
        "csrf_token": csrf_from(page), "kind": "discount", "description": "Goodwill", "quantity": "1",
        "unit_price": "-50.00"})
    shown = page_text(client.get(response.headers["Location"]))
    assert "The line is added." in shown
    assert '<span class="badge text-bg-info">discount</span> manual' in shown
    assert "-50.00" in shown and "1,011.50 EUR" in shown  # (900.00 - 50.00) + 19 % VAT
