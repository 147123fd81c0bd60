"""Reviewing a proforma: the claimed reviewer changes, adds and removes lines; totals, audit, four-eyes and the
approval threshold follow."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.errors import Forbidden, NotFound, ValidationError
from portal.extensions import db
from portal.models import AuditEvent, HumanTask, Proforma, ProformaLine
from portal.services.billing import proforma_review
from portal.services.workflow import tasks
from tests.support import factories, workflow
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
    assert "Quantity: must be greater than zero" in client.get(bad.headers["Location"]).get_data(as_text=True)
    negative = client.post(f"/tasks/{task.id}/proforma/lines/new",
                           data={"csrf_token": token, "description": "", "quantity": "1", "unit_price": "-1"})
    shown = client.get(negative.headers["Location"]).get_data(as_text=True)
    assert "Description: is required; Unit price: must not be negative" in shown  # the fields in words
    assert "unit_price:" not in shown


# ---- found by the mutation run ---------------------------------------------------------------------------------------

ONLY_THE_CLAIMED_REVIEWER = "only the reviewer who has claimed the open review task can change the proforma"
LINE = {"description": "On-site visit", "quantity": "1", "unit_price": "150"}


def test_an_unclaimed_review_task_is_not_edited_even_by_a_reviewer_who_could_claim_it(review):
    _, task, reviewer = review
    tasks.unclaim(task.id, reviewer)
    assert tasks.refusal(task, reviewer) is None  # they may claim and complete it, but not edit it unclaimed
    with pytest.raises(Forbidden) as refused:
        proforma_review.add_line(task.id, reviewer, LINE)
    assert str(refused.value) == ONLY_THE_CLAIMED_REVIEWER


def test_the_claimed_approve_task_does_not_edit_the_proforma(review, make_user):
    proforma, task, reviewer = review
    tasks.complete(task.id, reviewer, {}, outcome="submitted")
    db.session.commit()
    approver = make_user("approver")
    approve = tasks.claim(open_task(proforma).id, approver)
    assert approve.element_id == "approve" and tasks.refusal(approve, approver) is None
    with pytest.raises(Forbidden) as refused:
        proforma_review.change_line(approve.id, approver, proforma.lines[0].id, LINE)
    assert str(refused.value) == ONLY_THE_CLAIMED_REVIEWER


def test_a_task_of_another_process_is_not_about_a_proforma(review, make_user):
    from portal.services.workflow import steps

    proforma, _, _ = review
    workflow.deploy("single_review.bpmn")  # its user task is called "review" too; the business key is the proforma's
    instance = steps.start("single_review", business_key=proforma.number)
    db.session.flush()
    other = workflow.open_task(instance.id, "review")
    reviewer = make_user("reviewer")
    tasks.claim(other.id, reviewer)
    with pytest.raises(NotFound) as missing:
        proforma_review.add_line(other.id, reviewer, LINE)
    assert str(missing.value) == f"task {other.id} is not about a proforma"


@pytest.mark.parametrize("edit", ["change", "remove"])
def test_a_line_the_proforma_does_not_have_is_named(review, edit):
    proforma, task, reviewer = review
    with pytest.raises(NotFound) as missing:
        if edit == "change":
            proforma_review.change_line(task.id, reviewer, 424242, LINE)
        else:
            proforma_review.remove_line(task.id, reviewer, 424242)
    assert str(missing.value) == f"proforma {proforma.number} has no line 424242"


def test_an_added_line_is_manual_and_comes_last(review):
    _, task, reviewer = review
    added = proforma_review.add_line(task.id, reviewer, LINE)
    db.session.commit()
    db.session.expire_all()
    line = db.session.get(ProformaLine, added.id)
    assert (line.kind, line.source_ref, line.position, line.description, line.quantity, line.unit_price,
            line.tax_rate) == ("manual", "manual", 2, "On-site visit", Decimal("1"), Decimal("150.00"), Decimal("0"))


def test_every_editor_is_kept_and_none_of_them_may_approve(review, make_user):
    """The preparer stays among the proforma's editors; each reviewer who changed it during the task is a
    contributor, so four-eyes keeps all of them off the approval."""
    proforma, task, first = review
    proforma_review.change_line(task.id, first, proforma.lines[0].id, {**LINE, "unit_price": "901"})
    tasks.unclaim(task.id, first)
    second = make_user("reviewer")
    tasks.claim(task.id, second)
    proforma_review.add_line(task.id, second, LINE)
    db.session.commit()
    db.session.expire_all()
    task = db.session.get(HumanTask, task.id)
    assert task.contributors == sorted([first.email, second.email])
    assert db.session.get(Proforma, proforma.id).editors == sorted(["system", first.email, second.email])
    tasks.complete(task.id, second, {}, outcome="submitted")
    db.session.commit()
    assert open_task(proforma).excluded_users == sorted([first.email, second.email])


@pytest.mark.parametrize("values", [{"quantity": "1", "unit_price": "1"}, {**LINE, "description": ""},
                                    {**LINE, "description": None}])
def test_a_missing_description_is_required(review, values):
    proforma, task, reviewer = review
    with pytest.raises(ValidationError) as refused:
        proforma_review.change_line(task.id, reviewer, proforma.lines[0].id, values)
    assert refused.value.errors == {"description": "is required"}


def test_a_description_of_300_characters_is_kept_and_one_of_301_refused(review):
    proforma, task, reviewer = review
    line = proforma.lines[0]
    assert proforma_review.change_line(task.id, reviewer, line.id, {**LINE, "description": "x" * 300}).description \
        == "x" * 300
    with pytest.raises(ValidationError) as refused:
        proforma_review.change_line(task.id, reviewer, line.id, {**LINE, "description": "x" * 301})
    assert refused.value.errors == {"description": "allows at most 300 characters"}


def test_quantities_keep_four_decimals_and_unit_prices_two(review):
    proforma, task, reviewer = review
    line = proforma.lines[0]
    changed = proforma_review.change_line(task.id, reviewer, line.id,
                                          {**LINE, "quantity": "1.2345", "unit_price": "12.500"})
    assert (changed.quantity, str(changed.unit_price)) == (Decimal("1.2345"), "12.50")
    for field, value, places in (("quantity", "1.23456", 4), ("unit_price", "1.234", 2)):
        with pytest.raises(ValidationError) as refused:
            proforma_review.change_line(task.id, reviewer, line.id, {**LINE, field: value})
        assert refused.value.errors == {field: f"allows at most {places} decimal places"}


# ---- strict input and local times (issue 10, acceptance item 3) -----------------------------------------------------

@pytest.mark.parametrize("edit", ["change", "add"])
def test_a_negative_unit_price_on_a_task_line_is_refused(review, edit):
    proforma, task, reviewer = review
    values = {**LINE, "unit_price": "-150"}
    with pytest.raises(ValidationError) as refused:
        if edit == "change":
            proforma_review.change_line(task.id, reviewer, proforma.lines[0].id, values)
        else:
            proforma_review.add_line(task.id, reviewer, values)
    assert refused.value.errors == {"unit_price": "must not be negative (a discount is a line of the kind Discount)"}


@pytest.mark.parametrize(("field", "value", "message"), [
    ("quantity", "1000000000", "must be at most 1,000,000"),
    ("quantity", "1e9", "“1e9” is not a number (write digits, e.g. 1234.50)"),
    ("unit_price", "0.001", "allows at most 2 decimal places"),
])
def test_task_line_amounts_are_refused_never_rounded(review, field, value, message):
    proforma, task, reviewer = review
    with pytest.raises(ValidationError) as refused:
        proforma_review.change_line(task.id, reviewer, proforma.lines[0].id, {**LINE, field: value})
    assert refused.value.errors == {field: message}


def test_a_million_is_the_largest_quantity_and_a_free_line_is_allowed(review):
    proforma, task, reviewer = review
    changed = proforma_review.change_line(task.id, reviewer, proforma.lines[0].id,
                                          {**LINE, "quantity": "1000000", "unit_price": "0"})
    assert (changed.quantity, changed.unit_price, proforma.gross_total) == (Decimal("1000000"), 0, Decimal("0.00"))


def test_every_bad_field_of_a_line_is_reported_at_once(review):
    proforma, task, reviewer = review
    with pytest.raises(ValidationError) as refused:
        proforma_review.add_line(task.id, reviewer, {"description": "", "quantity": "1e9", "unit_price": "-1"})
    assert refused.value.errors == {"description": "is required",
                                    "quantity": "“1e9” is not a number (write digits, e.g. 1234.50)",
                                    "unit_price": "must not be negative (a discount is a line of the kind Discount)"}
    assert len(proforma.lines) == 1


def test_a_round_quantity_is_offered_in_plain_digits_and_saves_again(app, client, review):
    """normalize() writes 10 as "1E+1", which the parser refuses: the editor could not save a line of 10."""
    proforma, task, reviewer = review
    proforma_review.change_line(task.id, reviewer, proforma.lines[0].id, {**LINE, "quantity": "10"})
    db.session.commit()
    login_as(app, client, reviewer)
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    line_id = proforma.lines[0].id
    assert 'name="quantity" value="10"' in page and "1E+1" not in page
    response = client.post(f"/tasks/{task.id}/proforma/lines/{line_id}",
                           data={"csrf_token": csrf_from(page), "description": "On-site visit", "quantity": "10",
                                 "unit_price": "150.00"})
    assert "The line is changed." in client.get(response.headers["Location"]).get_data(as_text=True)


def test_due_and_history_times_are_shown_in_the_users_time_zone(app, client, review):
    import re
    from datetime import datetime

    from tests.support.web import page_text

    _, task, reviewer = review
    task = db.session.get(HumanTask, task.id)
    task.due_at = datetime(2026, 11, 5, 14, 7, 33)  # UTC, as stored
    db.session.commit()
    login_as(app, client, reviewer)
    assert "2026-11-05 15:07" in page_text(client.get(f"/tasks/{task.id}"))  # Europe/Berlin, the default
    assert "2026-11-05 15:07" in page_text(client.get("/tasks/?view=mine"))
    db.session.merge(reviewer).time_zone = "Asia/Tokyo"
    db.session.commit()
    detail = page_text(client.get(f"/tasks/{task.id}"))
    assert "2026-11-05 23:07" in detail and "2026-11-05 15:07" not in detail
    history = re.sub(r"<[^>]+>", " ", detail.split('id="task-history"')[1].split("</ol>")[0])  # what a reader sees
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", history)  # to the minute, not the stored ISO text
    assert not re.search(r"\d\dT\d\d:", history)
