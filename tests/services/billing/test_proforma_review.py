"""Reviewing a proforma: the claimed reviewer changes, adds and removes lines; totals, audit, four-eyes and the
approval threshold follow."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.errors import Forbidden, ValidationError
from portal.extensions import db
from portal.models import AuditEvent, Proforma
from portal.services.billing import proforma_review
from portal.services.workflow import tasks
from tests.support import factories
from tests.support.proforma import deploy_approval_process, draft_for, open_task
from tests.support.web import csrf_from, login_as


@pytest.fixture
def review(app, make_user):
    """A drafted 900.00 proforma whose review task a reviewer has claimed."""
    deploy_approval_process()
    contract = factories.ContractFactory(customer=factories.CustomerFactory(), tax_rate=Decimal("0"))
    factories.FixedLineFactory(contract=contract, unit_price=Decimal("900.00"), tax_rate=Decimal("0"))
    proforma = draft_for(contract)
    reviewer = make_user("reviewer")
    task = open_task(proforma)
    tasks.claim(task.id, reviewer)
    db.session.commit()
    return proforma, task, reviewer


def test_changing_a_line_recalculates_audits_and_marks_the_editor(review):
    proforma, task, reviewer = review
    line = proforma.lines[0]
    proforma_review.change_line(task.id, reviewer, line.id, {"description": "Flat fee (corrected)",
                                                             "quantity": "2", "unit_price": "450.50"})
    db.session.commit()
    db.session.refresh(proforma)
    assert proforma.lines[0].net_amount == Decimal("901.00") and proforma.gross_total == Decimal("901.00")
    assert reviewer.email in proforma.editors
    from portal.services.workflow import steps

    assert steps.describe(task.instance)["variables"]["gross_total"] == Decimal("901.00")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "ProformaLine",
                                                       AuditEvent.action == "update").order_by(AuditEvent.id.desc()))
    assert event.actor is not None and event.changes["unit_price"] == ["900.00", "450.50"]


def test_adding_and_removing_lines(review):
    proforma, task, reviewer = review
    added = proforma_review.add_line(task.id, reviewer, {"description": "On-site visit", "quantity": "1",
                                                         "unit_price": "150"})
    assert [line.position for line in proforma.lines] == [1, 2] and proforma.gross_total == Decimal("1050.00")
    proforma_review.remove_line(task.id, reviewer, proforma.lines[0].id)
    assert [line.description for line in proforma.lines] == ["On-site visit"] and added.position == 1
    assert proforma.gross_total == Decimal("150.00")


@pytest.mark.parametrize(("field", "values"), [
    ("quantity", {"description": "x", "quantity": "0", "unit_price": "1"}),
    ("unit_price", {"description": "x", "quantity": "1", "unit_price": "lots"}),
    ("description", {"description": "  ", "quantity": "1", "unit_price": "1"}),
])
def test_bad_input_names_the_field_and_changes_nothing(review, field, values):
    proforma, task, reviewer = review
    with pytest.raises(ValidationError) as info:
        proforma_review.change_line(task.id, reviewer, proforma.lines[0].id, values)
    assert info.value.field == field
    db.session.rollback()
    db.session.refresh(proforma)
    assert proforma.lines[0].unit_price == Decimal("900.00")


def test_only_the_claimed_reviewer_edits(review, make_user):
    _, task, _ = review
    for other in (make_user("reviewer"), make_user("approver")):
        with pytest.raises(Forbidden):
            proforma_review.add_line(task.id, other, {"description": "x", "quantity": "1", "unit_price": "1"})


def test_an_edit_above_the_threshold_needs_the_finance_manager_and_editors_cannot_approve(review, make_user):
    proforma, task, editor = review
    proforma_review.change_line(task.id, editor, proforma.lines[0].id, {"description": "Big", "quantity": "20",
                                                                        "unit_price": "900"})
    tasks.unclaim(task.id, editor)  # the editor hands the review over; someone else submits it
    db.session.commit()
    tasks.complete(open_task(proforma).id, make_user("reviewer"), {}, outcome="submitted")
    db.session.commit()
    approve = open_task(proforma)
    assert editor.email in approve.excluded_users
    editor_as_approver = db.session.merge(editor)
    editor_as_approver.roles = [*editor.roles, factories.role("approver")]
    with pytest.raises(Forbidden, match="four-eyes"):
        tasks.complete(approve.id, editor_as_approver, {}, outcome="approved")
    db.session.rollback()
    tasks.complete(open_task(proforma).id, make_user("approver"), {}, outcome="approved")
    db.session.commit()
    assert open_task(proforma).element_id == "finance_approve"  # 18,000 > the diagram's 10,000


def test_the_review_page_offers_editing_to_the_claimed_reviewer(app, client, review):
    proforma, task, reviewer = review
    login_as(app, client, reviewer)
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert 'id="proforma-lines"' in page and 'id="add-line"' in page
    token = csrf_from(page)
    response = client.post(f"/tasks/{task.id}/proforma/lines/new",
                           data={"csrf_token": token, "description": "Extra", "quantity": "1", "unit_price": "10"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Proforma, proforma.id).gross_total == Decimal("910.00")
    bad = client.post(f"/tasks/{task.id}/proforma/lines/new",
                      data={"csrf_token": token, "description": "Extra", "quantity": "0", "unit_price": "10"})
    assert "quantity: must be greater than zero" in client.get(bad.headers["Location"]).get_data(as_text=True)
