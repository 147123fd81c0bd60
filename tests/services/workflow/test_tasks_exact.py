"""tasks.py, exactly: who may take, hand back, be given and complete a task; found by the mutation run.

Each test pins one outcome (docs/testing.md, "Mutation run"): the exact refusal (error class, field, message), the
history line a move writes (kind, element, actor, details), the version check of a claim, the claim that
`claim_to_complete` makes, the order of a case's comments, and what completing with an outcome hands the process.
The typed form fields are in test_tasks_exact_2.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.errors import Conflict, Forbidden, ValidationError
from portal.extensions import db
from portal.models import HumanTask
from portal.services.workflow import definitions, steps, tasks
from tests.support.engine import user_task, wrap
from tests.support.workflow import T0, deploy, events, open_task

FOUR_EYES = "four-eyes rule: you worked on an earlier step of this case, so someone else must do this one"


@pytest.fixture
def review() -> HumanTask:
    """The open `review` task of single_review.bpmn: for reviewers, outcomes approved/rejected, `hours` required."""
    deploy("single_review.bpmn")
    row = steps.start("single_review", "R-1", now=T0)
    return open_task(row.id, "review")


def _moves(task: HumanTask, kind: str) -> list[tuple]:
    return [(e.kind, e.element_id, e.actor, e.details) for e in events(task.instance_id, kind)]


# ---------------------------------------------------------------------------- who may do it

def test_a_user_named_on_the_task_is_a_candidate_without_holding_any_of_its_roles(review, make_user):
    # kills is_candidate 3
    named = make_user("guest")
    review.candidate_users = [named.email]
    assert tasks.is_candidate(review, named) is True


def test_the_refusals_say_exactly_why_the_user_may_not_complete_the_task(review, make_user):
    # kills refusal 6, 17
    reviewer, other, guest = make_user("reviewer"), make_user("reviewer"), make_user("guest")
    review.excluded_users = [other.email]
    refused = [tasks.refusal(review, guest), tasks.refusal(review, other)]
    review.assignee = reviewer.email
    refused.append(tasks.refusal(review, make_user("reviewer")))
    review.state = "cancelled"
    refused.append(tasks.refusal(review, reviewer))
    assert refused == ["the task is for other roles", FOUR_EYES, f"the task is assigned to {reviewer.email}",
                       "the task is cancelled"]


# ---------------------------------------------------------------------------- claim

def test_a_claim_with_the_version_shown_before_a_change_is_refused_and_claims_nothing(review, make_user):
    # kills claim 3, 4; _check_version 5
    first, second = make_user("reviewer"), make_user("reviewer")
    shown = review.version
    tasks.claim(review.id, first)
    tasks.unclaim(review.id, first)
    with pytest.raises(Conflict) as info:
        tasks.claim(review.id, second, expected_version=shown)
    assert (str(info.value), open_task(review.instance_id, "review").assignee) == (
        "the task changed since you opened it; reload and try again", None)


def test_claim_to_complete_with_good_values_and_an_offered_outcome_claims_the_task_for_the_user(review, make_user):
    # kills claim_to_complete 21, 25, 26, 27, 28
    reviewer = make_user("reviewer")
    claimed = tasks.claim_to_complete(review.id, reviewer, {"hours": "2"}, "approved")
    assert (claimed.id, claimed.state, claimed.assignee) == (review.id, "open", reviewer.email)
    assert _moves(review, "claimed") == [("claimed", "review", reviewer.email, {})]


def test_claim_to_complete_by_someone_who_may_not_do_the_task_is_forbidden_before_the_values_are_read(
        review, make_user):
    # kills claim_to_complete 7, 18 (the values lack the required hours: read first, they would be a ValidationError)
    with pytest.raises(Forbidden) as info:
        tasks.claim_to_complete(review.id, make_user("guest"), {}, None)
    assert (str(info.value), open_task(review.instance_id, "review").assignee) == ("the task is for other roles", None)


def test_claim_to_complete_of_a_completed_task_is_a_conflict_naming_its_state(review, make_user):
    # kills claim_to_complete 7, 12, 14
    reviewer = make_user("reviewer")
    tasks.claim(review.id, reviewer)
    tasks.complete(review.id, reviewer, {"hours": "2"}, outcome="approved", now=T0)
    with pytest.raises(Conflict) as info:
        tasks.claim_to_complete(review.id, reviewer, {"hours": "2"}, "approved")
    assert str(info.value) == "the task is completed"


# ---------------------------------------------------------------------------- unclaim

def test_handing_back_a_task_nobody_claimed_is_a_conflict_with_the_exact_message(review, make_user):
    # kills unclaim 9
    with pytest.raises(Conflict) as info:
        tasks.unclaim(review.id, make_user("finance_manager"))
    assert str(info.value) == "nobody has claimed this task"


def test_someone_else_than_the_assignee_or_a_manager_cannot_hand_the_task_back(review, make_user):
    # kills unclaim 20, 21, 22
    reviewer = make_user("reviewer")
    tasks.claim(review.id, reviewer)
    with pytest.raises(Forbidden) as info:
        tasks.unclaim(review.id, make_user("reviewer"))
    assert (str(info.value), open_task(review.instance_id, "review").assignee) == (
        "only the assignee or a finance manager can hand a task back", reviewer.email)


def test_handing_back_records_the_step_who_did_it_and_from_whom(review, make_user):
    # kills unclaim 25, 26, 27, 32, 33, 34, 35, 36
    reviewer, manager = make_user("reviewer"), make_user("finance_manager")
    tasks.claim(review.id, reviewer)
    tasks.unclaim(review.id, manager)
    assert _moves(review, "unclaimed") == [("unclaimed", "review", manager.email, {"from": reviewer.email})]


# ---------------------------------------------------------------------------- reassign

def test_someone_who_is_not_a_manager_cannot_reassign_with_the_exact_message(review, make_user):
    # kills reassign 9
    with pytest.raises(Forbidden) as info:
        tasks.reassign(review.id, make_user("reviewer"), make_user("reviewer").email)
    assert str(info.value) == "only finance managers and admins reassign tasks"


def test_reassigning_to_an_unknown_user_is_refused_naming_the_assignee_field(review, make_user):
    # kills reassign 24, 28, 29
    with pytest.raises(ValidationError) as info:
        tasks.reassign(review.id, make_user("finance_manager"), "ghost@staff.example")
    assert (info.value.field, info.value.message) == ("assignee", "no active user ghost@staff.example")


def test_a_refused_reassignment_leaves_the_task_with_the_user_who_held_it(review, make_user):
    # kills reassign 36
    reviewer, guest = make_user("reviewer"), make_user("guest")
    tasks.claim(review.id, reviewer)
    with pytest.raises(ValidationError) as info:
        tasks.reassign(review.id, make_user("finance_manager"), guest.email)
    db.session.flush()
    assert (info.value.message, open_task(review.instance_id, "review").assignee) == (
        f"{guest.email} cannot do this task: the task is for other roles", reviewer.email)


def test_a_reassignment_records_the_step_the_manager_and_both_people(review, make_user):
    # kills reassign 46
    reviewer, other, manager = make_user("reviewer"), make_user("reviewer"), make_user("finance_manager")
    tasks.claim(review.id, reviewer)
    tasks.reassign(review.id, manager, other.email)
    assert _moves(review, "reassigned") == [
        ("reassigned", "review", manager.email, {"from": reviewer.email, "to": other.email})]


# ---------------------------------------------------------------------------- comments

@pytest.mark.parametrize("body", ["", "   ", None])
def test_an_empty_comment_is_refused_with_the_exact_field_and_message(review, make_user, body):
    # kills comment 8 (None), 10, 15, 16
    with pytest.raises(ValidationError) as info:
        tasks.comment(review.id, make_user("reviewer"), body)
    assert (info.value.field, info.value.message) == ("comment", "write something first")


def test_a_cases_comments_are_in_the_order_they_were_written_not_by_id(review, make_user):
    # kills case_comments 3, 5
    reviewer = make_user("reviewer")
    later, earlier = tasks.comment(review.id, reviewer, "later"), tasks.comment(review.id, reviewer, "earlier")
    later.created_at, earlier.created_at = T0 + timedelta(minutes=5), T0
    db.session.flush()
    assert [c.body for c in tasks.case_comments(review)] == ["earlier", "later"]


PAIR = wrap('<bpmn:startEvent id="start"/><bpmn:parallelGateway id="split"/><bpmn:parallelGateway id="join"/>'
            '<bpmn:endEvent id="end"/>' + user_task("first", 'camunda:candidateGroups="reviewer"')
            + user_task("second", 'camunda:candidateGroups="reviewer"')
            + "".join(f'<bpmn:sequenceFlow id="f_{a}_{b}" sourceRef="{a}" targetRef="{b}"/>'
                      for a, b in (("start", "split"), ("split", "first"), ("split", "second"),
                                   ("first", "join"), ("second", "join"), ("join", "end"))),
            process_id="pair")


def test_comments_written_at_the_same_moment_on_two_tasks_of_a_case_are_in_the_order_written(make_user):
    # kills case_comments 4, 6 (on SQLite, which reads the comments task by task without the id order)
    definitions.deploy(PAIR, "analyst@staff.example")
    row = steps.start("pair", "C-1", now=T0)
    first, second, reviewer = open_task(row.id, "first"), open_task(row.id, "second"), make_user("reviewer")
    written = [tasks.comment(second.id, reviewer, "on second"), tasks.comment(first.id, reviewer, "on first")]
    for note in written:
        note.created_at = T0
    db.session.flush()
    assert [c.body for c in tasks.case_comments(first)] == ["on second", "on first"]


# ---------------------------------------------------------------------------- complete with an outcome

def test_completing_with_an_outcome_records_the_outcome_in_the_history(review, make_user):
    # kills complete 37, 42, 45, 47, 48
    reviewer = make_user("reviewer")
    tasks.claim(review.id, reviewer)
    tasks.complete(review.id, reviewer, {"hours": "2"}, outcome="rejected", now=T0)
    assert _moves(review, "task_completed") == [("task_completed", "review", reviewer.email, {"outcome": "rejected"})]


def test_an_outcome_the_task_does_not_offer_is_refused_naming_the_outcome_field(review):
    # kills completion_values 13, 14
    with pytest.raises(ValidationError) as info:
        tasks.completion_values(review, {"hours": "2"}, "maybe")
    assert (info.value.field, info.value.message) == ("outcome", "choose one of approved, rejected")


def test_the_outcome_chosen_is_handed_to_the_process_with_the_typed_form_values(review):
    # kills completion_values 17, 18, 19
    assert tasks.completion_values(review, {"hours": "2"}, "approved") == {"hours": 2, "outcome": "approved"}


def test_a_comment_longer_than_the_limit_is_refused_whole(review, make_user):
    from portal.models import TaskComment

    reviewer = make_user("reviewer")
    with pytest.raises(ValidationError) as refused:
        tasks.comment(review.id, reviewer, "x" * 4001)
    assert refused.value.errors == {"comment": "allows at most 4,000 characters"}
    assert tasks.comment(review.id, reviewer, "y" * 4000).body == "y" * 4000
    assert db.session.query(TaskComment).count() == 1
