"""Who a task is for: who may see it (else it does not exist) and who may be given it, asked of the database."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from portal.errors import NotFound
from portal.extensions import db
from portal.models import HumanTask
from portal.services.workflow import definitions, steps, tasks
from tests.support.factories import make_user
from tests.support.paths import WORKFLOW_DATA


@pytest.fixture
def review_task(app) -> HumanTask:
    definitions.deploy((WORKFLOW_DATA / "single_review.bpmn").read_text(), "test")
    row = steps.start("single_review", "P-1")
    db.session.flush()
    return db.session.scalar(select(HumanTask).where(HumanTask.instance_id == row.id))


def test_eligible_users_are_active_candidates_by_role_or_name_less_the_excluded(review_task):
    make_user("reviewer", email="b.reviewer@people.example")
    make_user("approver", "reviewer", email="a.both@people.example")
    make_user("reviewer", email="gone@people.example", active=False)
    make_user("reviewer", email="earlier@people.example")
    make_user("approver", email="named@people.example")
    make_user("approver", email="other@people.example")
    make_user("guest", email="named@people.example.org")  # a longer address is not the named one
    review_task.candidate_users = ["named@people.example"]
    review_task.excluded_users = ["earlier@people.example"]
    db.session.flush()
    assert tasks.eligible_users(review_task) == ["a.both@people.example", "b.reviewer@people.example",
                                                 "named@people.example"]


def test_eligible_users_is_one_query_however_many_users_there_are(review_task):
    for n in range(20):
        make_user("guest" if n % 2 else "reviewer", email=f"u{n:02}@people.example")
    db.session.flush()
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731 - before_cursor_execute's statement
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        eligible = tasks.eligible_users(review_task)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert eligible == [f"u{n:02}@people.example" for n in range(0, 20, 2)]
    assert len(statements) == 1


def test_a_task_the_user_may_not_see_is_not_found_like_a_missing_one(review_task):
    reviewer, approver = make_user("reviewer"), make_user("approver")
    assert tasks.visible(review_task.id, reviewer) is review_task
    with pytest.raises(NotFound) as hidden:
        tasks.visible(review_task.id, approver)
    with pytest.raises(NotFound) as missing:
        tasks.visible(review_task.id + 1000, approver)
    assert str(hidden.value) == f"no task {review_task.id}" and str(missing.value) == f"no task {review_task.id + 1000}"
