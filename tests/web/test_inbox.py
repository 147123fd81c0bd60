"""The task inbox in the browser's terms: queues, claim, form, outcomes, 409, four-eyes, comments."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from portal.extensions import db
from portal.models import HumanTask, ProcessInstance
from portal.models.types import utcnow
from portal.services.workflow import definitions, instances, steps
from tests.support import factories
from tests.support.paths import WORKFLOW_DATA
from tests.support.rows import task_of
from tests.support.web import login_as, post_form, sign_in, text

DATA = WORKFLOW_DATA


@pytest.fixture
def review_task(app):
    definitions.deploy((DATA / "single_review.bpmn").read_text(), "test")
    instance = steps.start("single_review", "INV-0042")
    db.session.commit()
    return task_of(instance.id)


def assert_still_open(task) -> None:
    """The refused request changed nothing: the task is open as before."""
    db.session.expire_all()
    assert db.session.get(HumanTask, task.id).state == "open"


def test_reviewer_claims_from_the_queue_and_completes_with_an_outcome(app, client, make_user, review_task):
    reviewer = make_user("reviewer")
    sign_in(app, client, reviewer)
    assert "Review the document" in text(client.get("/tasks/?view=queue"))
    assert "Nothing assigned to you" in text(client.get("/tasks/?view=mine"))
    post_form(client, f"/tasks/{review_task.id}/claim")
    assert "Review the document" in text(client.get("/tasks/?view=mine"))
    db.session.refresh(review_task)
    response = post_form(client, f"/tasks/{review_task.id}/complete",
                    {"hours": "3", "remark": "fine", "outcome": "approved", "version": review_task.version})
    assert response.status_code == 302
    db.session.expire_all()
    task = db.session.get(HumanTask, review_task.id)
    assert (task.state, task.outcome, task.completed_by) == ("completed", "approved", reviewer.email)
    assert db.session.get(ProcessInstance, task.instance_id).status == "completed"
    assert instances.load(task.instance).variables()["hours"] == 3
    assert "approved" in text(client.get("/tasks/?view=completed"))


def test_a_missing_required_field_is_named_and_nothing_changes(app, client, make_user, review_task):
    sign_in(app, client, make_user("reviewer"))
    response = post_form(client, f"/tasks/{review_task.id}/complete", {"outcome": "approved"})
    assert response.status_code == 400
    assert "Hours spent: is required" in text(response)
    assert_still_open(review_task)


def test_limits_and_types_name_the_field(app, client, make_user, review_task):
    sign_in(app, client, make_user("reviewer"))
    too_long = post_form(client, f"/tasks/{review_task.id}/complete", {"hours": "1", "remark": "x" * 21,
                                                                 "outcome": "approved"})
    assert "Remark: allows at most 20 characters" in text(too_long)
    not_a_number = post_form(client, f"/tasks/{review_task.id}/complete", {"hours": "many", "outcome": "approved"})
    assert "Hours spent: “many” is not a whole number" in text(not_a_number)


def test_an_unknown_outcome_is_refused(app, client, make_user, review_task):
    sign_in(app, client, make_user("reviewer"))
    response = post_form(client, f"/tasks/{review_task.id}/complete", {"hours": "1", "outcome": "shrug"})
    assert response.status_code == 400 and "choose one of approved, rejected" in text(response)


def test_completing_a_task_that_changed_since_it_was_shown_answers_409(app, client, make_user, review_task):
    reviewer, colleague = make_user("reviewer"), make_user("reviewer")
    sign_in(app, client, reviewer)
    shown_version = review_task.version
    other = app.test_client()
    login_as(app, other, colleague)
    post_form(other, f"/tasks/{review_task.id}/comment", {"body": "looking"})  # comments do not change the task
    post_form(other, f"/tasks/{review_task.id}/claim")
    post_form(other, f"/tasks/{review_task.id}/unclaim")
    response = post_form(client, f"/tasks/{review_task.id}/complete",
                    {"hours": "1", "outcome": "approved", "version": shown_version})
    assert response.status_code == 409
    assert "changed since you opened it" in text(response)
    assert_still_open(review_task)


def test_people_outside_the_task_get_404(app, client, make_user, review_task):
    sign_in(app, client, make_user("approver"))
    assert client.get(f"/tasks/{review_task.id}").status_code == 404
    assert "Review the document" not in text(client.get("/tasks/?view=queue"))


def test_overdue_tasks_are_highlighted_and_filterable(app, client, make_user, review_task):
    review_task.due_at = utcnow() - timedelta(hours=1)
    sign_in(app, client, make_user("reviewer"))
    page = text(client.get("/tasks/?view=queue&due=overdue"))
    assert "overdue" in page and "table-danger" in page
    assert "Review the document" in text(client.get("/tasks/?view=queue&business_key=0042"))
    assert "Review the document" not in text(client.get("/tasks/?view=queue&business_key=NOPE"))


def test_comments_are_shown_with_their_author(app, client, make_user, review_task):
    reviewer = make_user("reviewer")
    sign_in(app, client, reviewer)
    post_form(client, f"/tasks/{review_task.id}/comment", {"body": "Numbers check out"})
    page = text(client.get(f"/tasks/{review_task.id}"))
    assert "Numbers check out" in page and reviewer.email in page


def test_finance_manager_reassigns_to_an_eligible_user(app, client, make_user, review_task):
    reviewer, approver = make_user("reviewer"), make_user("approver")
    sign_in(app, client, make_user("finance_manager"))
    refused = post_form(client, f"/tasks/{review_task.id}/reassign", {"assignee": approver.email})
    assert refused.status_code == 302
    db.session.expire_all()
    assert db.session.get(HumanTask, review_task.id).assignee is None
    post_form(client, f"/tasks/{review_task.id}/reassign", {"assignee": reviewer.email})
    db.session.expire_all()
    assert db.session.get(HumanTask, review_task.id).assignee == reviewer.email


def test_reviewers_cannot_reassign(app, client, make_user, review_task):
    reviewer, colleague = make_user("reviewer"), make_user("reviewer")
    sign_in(app, client, reviewer)
    post_form(client, f"/tasks/{review_task.id}/reassign", {"assignee": colleague.email})
    db.session.expire_all()
    assert db.session.get(HumanTask, review_task.id).assignee is None


def test_four_eyes_the_preparer_cannot_review(app, client, make_user):
    preparer = make_user("accountant", "reviewer")
    factories.ExchangeRateFactory(currency="EUR", rate_date=date(2026, 11, 1))
    definitions.deploy((DATA / "approval.bpmn").read_text(), "test")
    instance = steps.start("approval", "PF-7", {"currency": "EUR", "on": date(2026, 11, 2)})
    db.session.commit()
    prepare = task_of(instance.id)
    sign_in(app, client, preparer)
    post_form(client, f"/tasks/{prepare.id}/claim")
    post_form(client, f"/tasks/{prepare.id}/complete", {"amount": "500"})
    db.session.expire_all()
    review = task_of(instance.id, HumanTask.state == "open")
    assert review.element_id == "review"
    page = text(client.get(f"/tasks/{review.id}"))
    assert "four-eyes rule" in page
    assert f"/tasks/{review.id}" not in text(client.get("/tasks/?view=queue"))  # not offered to them at all
    response = post_form(client, f"/tasks/{review.id}/complete", {})
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(HumanTask, review.id).state == "open"


def test_the_dashboard_counts_the_users_tasks(app, client, make_user, review_task):
    sign_in(app, client, make_user("reviewer"))
    page = text(client.get("/dashboard"))
    queue_count = '>1</span><br><span class="small text-body-secondary">in your groups\' queue'
    assert 'id="work"' in page and queue_count in page


# ---------------------------------------------------------------------------- the group queue in SQL

QUEUE_CASES = [  # (candidate roles, candidate users, excluded users) of a task; who sees it in the queue
    (["reviewer"], [], [], {"reviewer"}),
    (["finance_manager"], [], [], {"fm"}),
    ([], ["a_b@queue.example"], [], {"a_b"}),
    ([], ["axb@queue.example"], [], {"axb"}),  # "_" is a LIKE wildcard: a_b must not see it
    ([], ["jimbob@queue.example"], [], set()),  # bob's address is a suffix of it
    ([], ['o"neil\\%@queue.example'], [], set()),  # quotes, backslashes and % in a stored value
    ([], ['x"bob@queue.example'], [], set()),  # bob's quoted address inside another element
    (["Reviewer"], ["Bob@Queue.example"], [], set()),  # exact, case-sensitive, as claiming is
    (["approver"], ["bob@queue.example"], [], {"approver", "bob"}),
    (["reviewer"], [], ["rev@queue.example"], set()),  # four-eyes: the reviewer prepared this case
    (["reviewer"], [], ["xrev@queue.example"], {"reviewer"}),  # someone else is excluded
]


def queue_world(tasks_from):
    """A task per case (same instance), and the users of the cases; returns {user name: user}."""
    for task, (roles, people, excluded, _) in zip(tasks_from, QUEUE_CASES, strict=True):
        task.candidate_roles, task.candidate_users, task.excluded_users, task.assignee = roles, people, excluded, None
    users = {"reviewer": factories.make_user("reviewer", email="rev@queue.example"),
             "fm": factories.make_user("finance_manager", email="fm@queue.example"),
             "approver": factories.make_user("approver", email="appr@queue.example"),
             "a_b": factories.make_user("guest", email="a_b@queue.example"),
             "axb": factories.make_user("guest", email="axb@queue.example"),
             "bob": factories.make_user("guest", email="bob@queue.example")}
    db.session.commit()
    return users


def queue_cases_seen(tasks_from, users) -> dict[str, set[int]]:
    from portal.services.workflow import inbox

    index = {task.id: i for i, task in enumerate(tasks_from)}
    return {name: {index[t.id] for t in inbox.tasks(user, "queue", inbox.Filters(), size=50).items}
            for name, user in users.items()}


def expected_queue() -> dict[str, set[int]]:
    names = ("reviewer", "fm", "approver", "a_b", "axb", "bob")
    return {name: {i for i, (*_, who) in enumerate(QUEUE_CASES) if name in who} for name in names}


def open_review_tasks(count: int) -> list[HumanTask]:
    definitions.deploy((DATA / "single_review.bpmn").read_text(), "test")
    rows = [steps.start("single_review", f"Q-{i}") for i in range(count)]
    db.session.flush()
    return [task_of(row.id) for row in rows]


def test_the_group_queue_matches_whole_elements_exactly_in_sql(app):
    tasks_from = open_review_tasks(len(QUEUE_CASES))
    assert queue_cases_seen(tasks_from, queue_world(tasks_from)) == expected_queue()


# ---------------------------------------------------------------------------- pages and empty states

# The pager's window: tests/web/test_pagination.py

def test_a_filter_that_matches_nothing_says_so_and_offers_to_show_all(app, client, make_user, review_task):
    sign_in(app, client, make_user("reviewer"))
    page = text(client.get("/tasks/?view=queue&business_key=NOPE"))
    assert "No tasks match these filters" in page and "queue is empty" not in page
    assert "No tasks match on page 9" in text(client.get("/tasks/?view=queue&page=9"))


def test_after_an_error_the_form_shows_what_was_sent_and_marks_the_field(app, client, make_user):
    from tests.support.engine import linear, user_task, wrap

    form = ('<bpmn:extensionElements><camunda:formData>'
            '<camunda:formField id="pages" label="Pages" type="long"><camunda:validation>'
            '<camunda:constraint name="required"/></camunda:validation></camunda:formField>'
            '<camunda:formField id="urgent" label="Urgent" type="boolean" defaultValue="true"/>'
            '</camunda:formData></bpmn:extensionElements>')
    definitions.deploy(wrap(linear(user_task("sign", inner=form)), process_id="boxes"), "test")
    row = steps.start("boxes", "B-1")
    db.session.commit()
    sign = task_of(row.id)
    sign_in(app, client, make_user("accountant"))
    assert 'name="urgent" value="true" checked' in text(client.get(f"/tasks/{sign.id}"))  # the default
    response = post_form(client, f"/tasks/{sign.id}/complete", {"pages": "many"})  # urgent left unticked
    page = text(response)
    assert response.status_code == 400 and 'name="urgent" value="true">' in page
    assert 'class="form-control is-invalid" id="f-pages"' in page and "is not a whole number</div>" in page


def test_task_actions_only_send_people_back_within_the_site(app, client, make_user, review_task):
    sign_in(app, client, make_user("reviewer"))
    response = post_form(client, f"/tasks/{review_task.id}/claim", {"next": "//evil.example/phish"})
    assert response.status_code == 302 and response.headers["Location"] == f"/tasks/{review_task.id}"
    response = post_form(client, f"/tasks/{review_task.id}/unclaim", {"next": "/tasks/?view=queue"})
    assert response.headers["Location"] == "/tasks/?view=queue"


def test_every_bad_field_is_named_and_marked(app, client, make_user, review_task):
    sign_in(app, client, make_user("reviewer"))
    response = post_form(client, f"/tasks/{review_task.id}/complete",
                         {"hours": "many", "remark": "x" * 21, "outcome": "approved"})
    page = text(response)
    assert response.status_code == 400
    assert "Hours spent: “many” is not a whole number" in page
    assert "Remark: allows at most 20 characters" in page
    assert page.count("is-invalid") == 2  # both inputs are marked, not only the first
    assert_still_open(review_task)
