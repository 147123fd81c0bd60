"""The proforma approval process: drafted → review (or re-draft) → approve (four-eyes) → finance manager above
the diagram's threshold → approved; rejections loop back to review."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portal.errors import Forbidden
from portal.extensions import db
from portal.models import Proforma
from portal.services.workflow import steps, tasks
from tests.support import factories
from tests.support.proforma import complete_steps, deploy_approval_process, draft_for, open_task


@pytest.fixture(autouse=True)
def deployed(app):
    deploy_approval_process()


def draft(amount: str) -> Proforma:
    contract = factories.ContractFactory(customer=factories.CustomerFactory())
    factories.FixedLineFactory(contract=contract, unit_price=Decimal(amount), tax_rate=Decimal("0"))
    return draft_for(contract)


def do(proforma, user, outcome) -> None:
    complete_steps(proforma, [(user, outcome)])


def test_a_draft_starts_its_approval_process_with_the_proforma_as_business_key(app):
    proforma = draft("900.00")
    assert proforma.process_instance_id is not None and proforma.state == "in_review"
    task = open_task(proforma)
    assert task.element_id == "review" and task.instance.business_key == proforma.number
    assert task.outcomes == ["submitted", "redraft"]


def test_small_amounts_need_one_approval_and_the_reviewer_cannot_approve(app, make_user):
    reviewer, approver = make_user("reviewer", "approver"), make_user("approver")
    proforma = draft("900.00")
    do(proforma, reviewer, "submitted")
    approve = open_task(proforma)
    assert approve.element_id == "approve" and approve.excluded_users == [reviewer.email]
    with pytest.raises(Forbidden, match="four-eyes"):
        tasks.complete(approve.id, reviewer, {}, outcome="approved")
    db.session.rollback()
    do(proforma, approver, "approved")
    db.session.refresh(proforma)
    assert proforma.state == "approved" and open_task(proforma) is None


def test_above_the_threshold_a_finance_manager_approves_as_well(app, make_user):
    proforma = draft("12000.00")
    do(proforma, make_user("reviewer"), "submitted")
    do(proforma, make_user("approver"), "approved")
    final = open_task(proforma)
    assert final.element_id == "finance_approve" and final.candidate_roles == ["finance_manager"]
    do(proforma, make_user("finance_manager"), "approved")
    db.session.refresh(proforma)
    assert proforma.state == "approved"


def test_a_rejection_goes_back_to_review(app, make_user):
    proforma = draft("900.00")
    do(proforma, make_user("reviewer"), "submitted")
    do(proforma, make_user("approver"), "rejected")
    assert open_task(proforma).element_id == "review"
    db.session.refresh(proforma)
    assert proforma.state == "in_review"


def test_redraft_fetches_again_and_returns_to_review(app, make_user):
    proforma = draft("900.00")
    do(proforma, make_user("reviewer"), "redraft")
    task = open_task(proforma)
    assert task.element_id == "review"
    history = [event["kind"] for event in steps.describe(task.instance)["history"]]
    assert history.count("service_task_run") >= 2  # mark in review, then the re-draft
