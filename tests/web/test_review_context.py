"""Context carries from review to approval: comments of the whole case, lines marked where the review changed
them (with the drafted value), case data in words, and completing only a claimed task."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from portal.extensions import db
from portal.infra import audit
from portal.services.billing import proforma_review, review_changes
from portal.services.workflow import tasks
from tests.support import factories
from tests.support.proforma import deploy_approval_process, draft_for, open_task
from tests.support.web import page_text, post_form, sign_in, text


@pytest.fixture
def drafted(app):
    """A drafted proforma with two fixed lines (900.00 and 100.00, no VAT), its review task open."""
    deploy_approval_process()
    contract = factories.ContractFactory(customer=factories.CustomerFactory(), tax_rate=Decimal("0"))
    for price in ("900.00", "100.00"):
        factories.FixedLineFactory(contract=contract, unit_price=Decimal(price), tax_rate=Decimal("0"),
                                   description=f"Flat fee {price}")
    proforma = draft_for(contract)
    return proforma


def reviewed(proforma, reviewer):
    """The reviewer claims the review, changes line 1, removes line 2, adds one, comments, and approves."""
    with audit.acting_as(audit.Actor(reviewer.email, reviewer.id)):  # as the web request would
        return _review(proforma, reviewer)


def _review(proforma, reviewer):
    task = open_task(proforma)
    tasks.claim(task.id, reviewer)
    first, second = proforma.lines
    proforma_review.change_line(task.id, reviewer, first.id, {"description": "Flat fee (agreed)", "quantity": "2",
                                                              "unit_price": "450.50"})
    proforma_review.remove_line(task.id, reviewer, second.id)
    proforma_review.add_line(task.id, reviewer, {"description": "On-site visit", "quantity": "1",
                                                 "unit_price": "150"})
    tasks.comment(task.id, reviewer, "Customer agreed to 2 x 450.50 on the phone.")
    db.session.commit()
    tasks.complete(task.id, reviewer, {}, outcome=task.outcomes[0])
    db.session.commit()
    return task


def test_the_approver_sees_the_reviewers_comment_and_the_lines_it_changed(app, client, make_user, drafted):
    reviewer, approver = make_user("reviewer"), make_user("approver")
    review = reviewed(drafted, reviewer)
    approval = open_task(drafted)
    assert approval.element_id != review.element_id
    sign_in(app, client, approver)
    page = text(client.get(f"/tasks/{approval.id}"))
    readable = page_text(client.get(f"/tasks/{approval.id}"))
    assert "Customer agreed to 2 x 450.50 on the phone." in readable
    assert f"on “{review.name}”" in readable and "No comments" not in readable
    changed = re.search(r'<tr class="table-warning" data-changed="description quantity unit_price">(.*?)</tr>',
                        page, re.S)
    assert changed and "Flat fee (agreed)" in changed.group(1)
    assert "drafted description: <span class=\"text-decoration-line-through\">Flat fee 900.00</span>" in \
        changed.group(1)
    assert "drafted unit price: <span class=\"text-decoration-line-through\">900.00</span>" in changed.group(1)
    assert re.search(r'data-changed="added">.*?On-site visit.*?added in review', page, re.S)
    assert re.search(r'data-changed="removed">.*?<del>Flat fee 100.00</del>', page, re.S)
    assert "1,051.00 " in readable  # 2 x 450.50 + 150.00, with the thousands separator


def test_review_changes_name_each_changed_field_and_nothing_for_an_untouched_draft(app, make_user, drafted):
    assert not review_changes.review_changes(drafted)
    reviewed(drafted, make_user("reviewer"))
    db.session.refresh(drafted)
    changes = review_changes.review_changes(drafted)
    first, added = drafted.lines
    assert changes.changed == {first.id: {"description": "Flat fee 900.00", "quantity": Decimal("1"),
                                          "unit_price": Decimal("900.00")}}
    assert changes.added == {added.id}
    assert [(gone["description"], gone["unit_price"]) for gone in changes.removed] == [("Flat fee 100.00", "100.00")]


def test_case_data_is_shown_in_words(app, client, make_user, drafted):
    reviewer = make_user("reviewer")
    task = open_task(drafted)
    sign_in(app, client, reviewer)
    page = text(client.get(f"/tasks/{task.id}"))
    case = page[page.index('id="case-data"'):]
    case = case[:case.index("</table>")]
    assert 'title="gross_total">Gross total</th><td>1,000.00</td>' in case
    assert 'title="proforma_id">Proforma ID</th>' in case
    assert ">gross_total<" not in case and ">proforma_id<" not in case


def test_complete_on_an_unclaimed_task_claims_it_and_waits_for_a_confirmation(app, client, make_user, drafted):
    reviewer = make_user("reviewer")
    task = open_task(drafted)
    sign_in(app, client, reviewer)
    outcome = task.outcomes[0]
    first = post_form(client, f"/tasks/{task.id}/complete", {"outcome": outcome, "version": task.version},
                      form_page=f"/tasks/{task.id}")
    assert first.status_code == 200
    assert "You have claimed the task." in page_text(first) and 'id="confirm-complete"' in text(first)
    db.session.expire_all()
    task = open_task(drafted)
    assert (task.element_id, task.state, task.assignee) == ("review", "open", reviewer.email)
    second = post_form(client, f"/tasks/{task.id}/complete", {"outcome": outcome, "version": task.version},
                       form_page=f"/tasks/{task.id}")
    assert second.status_code == 302
    db.session.expire_all()
    assert tasks.get(task.id).state == "completed" and tasks.get(task.id).completed_by == reviewer.email


def test_the_claim_before_completing_still_honours_four_eyes(app, client, make_user, drafted):
    reviewer = make_user("reviewer", "approver")
    reviewed(drafted, reviewer)
    approval = open_task(drafted)
    sign_in(app, client, reviewer)
    response = post_form(client, f"/tasks/{approval.id}/complete", {"outcome": approval.outcomes[0]},
                         form_page="/dashboard")
    assert response.status_code == 403 and "four-eyes" in page_text(response)
    db.session.expire_all()
    assert tasks.get(approval.id).assignee is None and tasks.get(approval.id).state == "open"


def test_bad_values_on_an_unclaimed_task_are_named_and_nothing_is_claimed(app, client, make_user, drafted):
    task = open_task(drafted)
    sign_in(app, client, make_user("reviewer"))
    response = post_form(client, f"/tasks/{task.id}/complete", {"outcome": "no such outcome"})
    assert response.status_code == 400 and "choose one of" in page_text(response)
    db.session.expire_all()
    assert tasks.get(task.id).assignee is None


def test_the_line_editor_spans_the_page(app, client, make_user, drafted):
    reviewer = make_user("reviewer")
    task = open_task(drafted)
    tasks.claim(task.id, reviewer)
    sign_in(app, client, reviewer)
    page = text(client.get(f"/tasks/{task.id}"))
    editor = page.rindex('<div class="col-12">', 0, page.index('id="proforma"'))
    assert page.index('id="proforma-lines"') > editor and 'col-lg-7">\n    <div class="card mb-3" id="proforma"' \
        not in page


def test_lines_the_system_replaced_are_not_shown_as_removed_in_review(app, make_user, drafted):
    with audit.acting_as(audit.SYSTEM):  # as the re-draft does when it rebuilds the record lines
        drafted.lines.remove(drafted.lines[1])
        db.session.flush()
    assert review_changes.review_changes(drafted).removed == []
    reviewer = make_user("reviewer")
    with audit.acting_as(audit.Actor(reviewer.email, reviewer.id)):
        drafted.lines.remove(drafted.lines[0])
        db.session.flush()
    assert [gone["description"] for gone in review_changes.review_changes(drafted).removed] == ["Flat fee 900.00"]


def _task_history(page: str) -> str:
    found = page[page.index('id="task-history"'):]
    return found[:found.index("</ol> </div>")]


def test_the_task_pages_history_shows_the_reviewers_line_edits_with_before_and_after(app, client, make_user,
                                                                                    drafted):
    reviewer, approver = make_user("reviewer"), make_user("approver")
    review = reviewed(drafted, reviewer)
    sign_in(app, client, approver)
    history = _task_history(page_text(client.get(f"/tasks/{open_task(drafted).id}")))
    changed = re.search(r'data-kind="line_changed">(.*?)</li> </ul>', history)
    assert changed and "Line changed: 1. Flat fee (agreed)" in changed.group(1)
    assert '<del class="before text-break">Flat fee 900.00</del> → <ins class="after text-decoration-none ' \
           'text-break">Flat fee (agreed)</ins>' in changed.group(1)
    assert '<del class="before text-break">900.00 EUR</del> → <ins class="after text-decoration-none ' \
           'text-break">450.50 EUR</ins>' in changed.group(1)  # the unit price, through the money filter
    assert "Line removed: 2. Flat fee 100.00" in history and "Line added: 2. On-site visit" in history
    assert f"{review.name}: completed" in history and f"{review.name}: claimed" in history
    assert "Customer agreed to 2 x 450.50 on the phone." not in history  # shown once, in the comments card
    assert f"{reviewer.email}" in history
    # element ids and raw event kinds of the engine's history are not what a reader sees
    assert "task_completed" not in history and f" {review.element_id} " not in history


def test_the_task_page_links_the_whole_case_for_those_who_may_see_proformas(app, client, make_user, drafted):
    reviewer = make_user("reviewer")
    sign_in(app, client, reviewer)
    page = text(client.get(f"/tasks/{open_task(drafted).id}"))
    assert f'href="/proformas/{drafted.id}">The whole case' in page
