"""Workflow runtime through the services: deploy versions, a full approval run, tasks, timers, messages, cancel."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.errors import Conflict, Forbidden, InvalidDiagramError, NotFound, ValidationError
from portal.extensions import db
from portal.models import ProcessDefinition
from portal.models.types import utcnow
from portal.services.workflow import definitions, steps, tasks, timers
from tests.support.workflow import (
    APPROVAL_VARS,
    T0,
    commit,
    deploy,
    eur_rate,
    events,
    instance,
    jobs_of,
    kinds,
    open_elements,
    open_task,
    read,
    tasks_of,
    timers_of,
)
from workflows import compiler


@pytest.fixture
def people(make_user):
    """Preparer and reviewer hold every role of the later steps, so only four-eyes stops them."""
    return {
        "preparer": make_user("accountant", "reviewer", "approver"),
        "reviewer": make_user("reviewer", "approver"),
        "approver": make_user("approver"),
        "manager": make_user("finance_manager"),
        "admin": make_user("admin"),
        "guest": make_user("guest"),
        "accountant": make_user("accountant"),
    }


def start_approval(people, business_key="PF-1"):
    deploy("approval.bpmn")
    return steps.start("approval", business_key, dict(APPROVAL_VARS), started_by=people["preparer"].email, now=T0)


def to_review(people, amount="20000"):
    """Start, prepare with `amount`, and let fx.convert run after the commit (in-process in embedded mode)."""
    eur_rate()
    row = start_approval(people)
    tasks.complete(open_task(row.id, "prepare").id, people["preparer"], {"amount": amount}, now=T0)
    commit()
    return instance(row.id)


def to_approve(people):
    row = to_review(people)
    tasks.complete(open_task(row.id, "review").id, people["reviewer"], {}, outcome="ok", now=T0)
    commit()
    return instance(row.id)


# ---------------------------------------------------------------------------- deploy and versions

def test_deploy_counts_versions_and_running_instances_keep_theirs(people):
    v1 = deploy("approval.bpmn", by="ana@staff.example")
    assert (v1.key, v1.version, v1.name) == ("approval", 1, "Three-step approval")
    old = steps.start("approval", "OLD", dict(APPROVAL_VARS), now=T0)

    changed = read("approval.bpmn").replace('name="Prepare"', 'name="Prepare the case"')
    v2 = definitions.deploy(changed, "bo@staff.example")
    assert v2.version == 2 and v2.id != v1.id
    assert [d.version for d in definitions.versions("approval")] == [2, 1]
    assert definitions.latest("approval").id == v2.id
    new = steps.start("approval", "NEW", dict(APPROVAL_VARS), now=T0)
    assert new.definition.version == 2 and open_task(new.id, "prepare").name == "Prepare the case"
    assert instance(old.id).definition.version == 1 and open_task(old.id, "prepare").name == "Prepare"

    eur_rate()
    tasks.complete(open_task(old.id, "prepare").id, people["preparer"], {"amount": "5"}, now=T0)
    commit()
    assert instance(old.id).definition.version == 1 and open_elements(old.id) == ["review"]


def test_an_unchanged_diagram_is_not_a_new_version():
    first = deploy("approval.bpmn", by="ana@staff.example")
    again = deploy("approval.bpmn", by="bo@staff.example")
    assert again.id == first.id and again.deployed_by == "ana@staff.example"
    assert [d.version for d in definitions.versions("approval")] == [1]


def test_an_invalid_diagram_lists_every_problem_and_writes_nothing():
    with pytest.raises(InvalidDiagramError) as info:
        deploy("invalid_runtime.bpmn")
    by_element = dict(info.value.problems)
    assert set(by_element) == {"ping", "stamp", "stamp_late"}
    assert "crm.ping" in by_element["ping"] and "wizard" in by_element["stamp"] and "soon" in by_element["stamp_late"]
    assert db.session.scalar(select(func.count()).select_from(ProcessDefinition)) == 0
    with pytest.raises(NotFound):
        steps.start("invalid_runtime")


def test_versions_say_who_deployed_and_when():
    before = utcnow()
    deploy("approval.bpmn", by="ana@staff.example")
    deploy("two_steps.bpmn", by="bo@staff.example")
    listed = [(d.key, d.version, d.deployed_by) for d in definitions.versions()]
    assert listed == [("approval", 1, "ana@staff.example"), ("two_steps", 1, "bo@staff.example")]
    assert all(before - timedelta(seconds=1) <= d.deployed_at <= utcnow() for d in definitions.versions())
    assert [d.key for d in definitions.versions("two_steps")] == ["two_steps"]


# ---------------------------------------------------------------------------- a full run of approval.bpmn

def test_full_approval_run_as_different_people(people):
    eur_rate()
    row = start_approval(people)
    assert row.status == "running" and row.definition.version == 1
    prepare = open_task(row.id, "prepare")
    assert prepare.candidate_roles == ["accountant"] and prepare.due_at is None
    assert [f["id"] for f in prepare.form] == ["amount", "note"] and "required" in prepare.form[0]["validation"]

    tasks.complete(prepare.id, people["preparer"], {"amount": "20000", "note": "big one"}, now=T0)
    job = jobs_of(row.id, "convert")[0]
    assert job.state == "queued" and "base_amount" not in steps.describe(row)["variables"]
    commit()  # the deferred fx.convert job runs now, in this process
    assert jobs_of(row.id, "convert")[0].state == "done"
    variables = steps.describe(instance(row.id))["variables"]
    assert variables["base_amount"] == Decimal("21690.00") and variables["rate"] == Decimal("1.0845")
    assert variables["rate_date"] == date(2026, 11, 2) and variables["rate_source"] == "manual"

    review = open_task(row.id, "review")
    assert review.candidate_roles == ["reviewer"] and review.excluded_users == [people["preparer"].email]
    assert abs(review.due_at - (utcnow() + timedelta(days=2))) < timedelta(minutes=1)
    with pytest.raises(Forbidden, match="four-eyes"):
        tasks.complete(review.id, people["preparer"], {}, now=T0)
    tasks.complete(review.id, people["reviewer"], {}, outcome="ok", now=T0)
    commit()

    approve = open_task(row.id, "approve")  # 21690 USD > 10000: the large path
    assert approve.candidate_roles == ["approver", "finance_manager"]
    assert set(approve.excluded_users) == {people["preparer"].email, people["reviewer"].email}
    for person in ("preparer", "reviewer"):
        with pytest.raises(Forbidden, match="four-eyes"):
            tasks.complete(approve.id, people[person], {}, now=T0)
    tasks.complete(approve.id, people["approver"], {}, outcome="approved", now=T0)
    commit()  # history.note runs

    done = instance(row.id)
    assert done.status == "completed" and done.ended_at is not None
    assert tasks_of(row.id, "open") == [] and [t.completed_by for t in tasks_of(row.id)] == [
        people["preparer"].email, people["reviewer"].email, people["approver"].email]
    actors = [(e.kind, e.element_id, e.actor) for e in events(row.id)]
    assert actors[0] == ("created", "", people["preparer"].email)
    assert ("task_completed", "prepare", people["preparer"].email) in actors
    assert ("task_completed", "review", people["reviewer"].email) in actors
    assert ("task_completed", "approve", people["approver"].email) in actors
    assert [e.element_id for e in events(row.id, "service_task_run")] == ["convert", "note"]
    assert [e.details["text"] for e in events(row.id, "note")] == ["Approval finished"]
    assert kinds(row.id)[-1] == "completed"


def test_small_amounts_skip_approve(people):
    row = to_review(people, amount="100")
    tasks.complete(open_task(row.id, "review").id, people["reviewer"], {}, now=T0)
    commit()
    assert instance(row.id).status == "completed"
    assert "approve" not in [t.element_id for t in tasks_of(row.id)] and timers_of(row.id) == []


def test_a_stale_expected_version_is_a_conflict_and_changes_nothing(people):
    row = to_review(people)
    review = open_task(row.id, "review")
    shown = review.version
    tasks.claim(review.id, people["reviewer"])
    state, history_length = instance(row.id).state, len(events(row.id))
    with pytest.raises(Conflict, match="changed since you opened it"):
        tasks.complete(review.id, people["reviewer"], {}, expected_version=shown, now=T0)
    assert open_task(row.id, "review").state == "open" and instance(row.id).state == state
    assert len(events(row.id)) == history_length
    tasks.complete(review.id, people["reviewer"], {}, expected_version=shown + 1, now=T0)
    with pytest.raises(Conflict, match="completed"):
        tasks.complete(review.id, people["reviewer"], {}, now=T0)


def test_claim_unclaim_and_reassign_rules(people, make_user):
    row = to_review(people)
    review, other_reviewer = open_task(row.id, "review"), make_user("reviewer")
    with pytest.raises(Forbidden):
        tasks.claim(review.id, people["guest"])
    with pytest.raises(Forbidden, match="four-eyes"):
        tasks.claim(review.id, people["preparer"])
    assert tasks.claim(review.id, people["reviewer"]).assignee == people["reviewer"].email
    assert tasks.claim(review.id, people["reviewer"]).assignee == people["reviewer"].email  # again: no-op
    with pytest.raises(Conflict, match="already claimed"):
        tasks.claim(review.id, other_reviewer)
    with pytest.raises(Forbidden, match="assigned to"):
        tasks.complete(review.id, other_reviewer, {}, now=T0)
    with pytest.raises(Forbidden):
        tasks.unclaim(review.id, other_reviewer)
    assert tasks.unclaim(review.id, people["reviewer"]).assignee is None

    for not_a_manager in (people["reviewer"], people["approver"]):
        with pytest.raises(Forbidden, match="finance managers"):
            tasks.reassign(review.id, not_a_manager, other_reviewer.email)
    for target, reason in ((people["guest"], "other roles"), (people["preparer"], "four-eyes")):
        with pytest.raises(ValidationError, match=reason) as info:
            tasks.reassign(review.id, people["manager"], target.email)
        assert info.value.field == "assignee" and open_task(row.id, "review").assignee is None
    with pytest.raises(ValidationError, match="no active user"):
        tasks.reassign(review.id, people["manager"], "ghost@staff.example")
    tasks.reassign(review.id, people["manager"], other_reviewer.email.upper())
    assert open_task(row.id, "review").assignee == other_reviewer.email
    tasks.reassign(review.id, people["admin"], people["reviewer"].email)
    assert tasks.unclaim(review.id, people["manager"]).assignee is None  # managers may hand back
    moves = [(e.actor, e.details) for e in events(row.id, "reassigned")]
    assert moves == [(people["manager"].email, {"from": None, "to": other_reviewer.email}),
                     (people["admin"].email, {"from": other_reviewer.email, "to": people["reviewer"].email})]
    assert [e.actor for e in events(row.id, "claimed")] == [people["reviewer"].email]


def test_comments(people):
    row = to_review(people)
    review = open_task(row.id, "review")
    tasks.comment(review.id, people["reviewer"], "  Looks fine, checking the rate  ")
    tasks.comment(review.id, people["manager"], "Thanks")
    assert [(c.author, c.body) for c in open_task(row.id, "review").comments] == [
        (people["reviewer"].email, "Looks fine, checking the rate"), (people["manager"].email, "Thanks")]
    with pytest.raises(ValidationError) as info:
        tasks.comment(review.id, people["reviewer"], "   ")
    assert info.value.field == "comment"
    with pytest.raises(NotFound):
        tasks.comment(review.id, people["guest"], "let me in")


def test_form_values_are_typed_and_errors_name_the_field(people):
    deploy("two_steps.bpmn")
    row = steps.start("two_steps", "F-1", now=T0)
    sign = open_task(row.id, "sign")
    form = sign.form
    assert tasks.parse_form(form, {"pages": " 3 ", "signed_on": "2026-11-02", "urgent": "on"}) == {
        "pages": 3, "signed_on": date(2026, 11, 2), "urgent": True}
    assert tasks.parse_form(form, {"pages": "3"}) == {"pages": 3, "urgent": False}
    bad = [({}, "pages", "required"), ({"pages": "three"}, "pages", "three"),
           ({"pages": "0"}, "pages", "at least 1"), ({"pages": "51"}, "pages", "at most 50"),
           ({"pages": "2", "signed_on": "2026-13-01"}, "signed_on", "2026-13-01")]
    for values, field, message in bad:
        with pytest.raises(ValidationError, match=message) as info:
            tasks.parse_form(form, values)
        assert info.value.field == field
    with pytest.raises(ValidationError) as info:
        tasks.complete(sign.id, people["accountant"], {"pages": "x"}, now=T0)
    assert info.value.field == "pages" and open_task(row.id, "sign").state == "open"
    tasks.complete(sign.id, people["accountant"], {"pages": "7", "signed_on": "2026-11-03"}, now=T0)
    variables = steps.describe(instance(row.id))["variables"]
    assert variables["pages"] == 7 and variables["signed_on"] == date(2026, 11, 3)


def test_the_preparer_form_requires_the_amount(people):
    row = start_approval(people)
    with pytest.raises(ValidationError, match="required") as info:
        tasks.complete(open_task(row.id, "prepare").id, people["preparer"], {"amount": "  "}, now=T0)
    assert info.value.field == "amount" and jobs_of(row.id) == [] and "task_completed" not in kinds(row.id)


# ---------------------------------------------------------------------------- timers

def test_the_approve_timer_fires_once_from_the_database(people):
    row = to_approve(people)
    [timer] = timers_of(row.id)
    assert timer.element_id == "approve_timeout" and timer.fired_at is None
    assert abs(timer.due_at - (utcnow() + timedelta(days=2))) < timedelta(minutes=1)
    due = timer.due_at

    assert timers.sweep(now=due - timedelta(minutes=1)) == {"timers_fired": 0, "timers_waiting_for_busy_instances": 0,
                                                           "jobs_queued": 0}
    assert open_elements(row.id) == ["approve"] and "timer_fired" not in kinds(row.id)

    late = due + timedelta(days=9)  # the sweep was down for days: it catches up by state
    assert timers.sweep(now=late)["timers_fired"] == 1
    commit()
    assert [t.state for t in tasks_of(row.id, element_id="approve")] == ["cancelled"]
    assert instance(row.id).status == "completed" and timers_of(row.id) == []
    assert "escalated" in steps.describe(instance(row.id))["markers"]["completed"]
    assert timers.sweep(now=late + timedelta(days=1))["timers_fired"] == 0
    assert [e.element_id for e in events(row.id, "timer_fired")] == ["approve_timeout"]


def test_completing_approve_in_time_removes_the_timer(people):
    row = to_approve(people)
    due = timers_of(row.id)[0].due_at
    tasks.complete(open_task(row.id, "approve").id, people["manager"], {}, now=T0)
    assert timers_of(row.id) == []
    assert timers.sweep(now=due + timedelta(days=1))["timers_fired"] == 0


STALE_TIMER_BUG = ("BUG: timers.fire_due keeps the timer rows it selected before locking each instance; when firing "
                   "one timer removes another (two boundary timers on one task, or a completion in between), it fires "
                   "the removed one: ValueError, the whole sweep rolls back and fails again at every later sweep")


def test_a_late_sweep_fires_the_first_of_two_boundary_timers_and_goes_on():
    deploy("two_deadlines.bpmn")
    deploy("deadline.bpmn")
    both = steps.start("two_deadlines", "D-1", now=T0)
    other = steps.start("deadline", "D-2", now=T0)
    very_late = max(t.due_at for t in timers_of(both.id))
    assert timers.sweep(now=very_late + timedelta(hours=1))["timers_fired"] == 2
    assert open_elements(both.id) == ["remind"] and timers_of(both.id) == []  # the 1-hour timer won
    assert instance(other.id).status == "completed"


# ---------------------------------------------------------------------------- messages

def test_a_message_reaches_the_instance_waiting_for_it(people):
    deploy("payment_wait.bpmn")
    waiting = steps.start("payment_wait", "INV-7", now=T0)
    other = steps.start("payment_wait", "INV-8", now=T0)
    assert open_elements(waiting.id) == [] and steps.describe(waiting)["markers"]["active"] == ["wait_payment"]

    got = steps.correlate_message("payment_received", "INV-7", {"amount": "120.00"}, now=T0)
    assert got.id == waiting.id and open_elements(waiting.id) == ["book"] and open_elements(other.id) == []
    assert [e.details for e in events(waiting.id, "message_received")] == [{"message": "payment_received"}]
    assert "120.00" in repr(steps.describe(instance(waiting.id))["variables"])

    with pytest.raises(NotFound):  # it no longer waits
        steps.correlate_message("payment_received", "INV-7", now=T0)
    with pytest.raises(NotFound):
        steps.correlate_message("payment_received", "INV-404", now=T0)
    with pytest.raises(NotFound):
        steps.correlate_message("invoice_voided", "INV-8", now=T0)


# ---------------------------------------------------------------------------- cancel and describe

def test_cancel_removes_tasks_jobs_and_timers(people):
    row = to_approve(people)
    steps.cancel(row.id, by=people["manager"].email, now=T0)
    assert [(t.element_id, t.state) for t in tasks_of(row.id)][-1] == ("approve", "cancelled")
    assert tasks_of(row.id, "open") == [] and timers_of(row.id) == []
    assert instance(row.id).status == "cancelled" and instance(row.id).ended_at == T0
    assert events(row.id)[-1].kind == "cancelled" and events(row.id)[-1].actor == people["manager"].email
    with pytest.raises(Conflict, match="already cancelled"):
        steps.cancel(row.id, by="x", now=T0)

    queued = start_approval(people, "PF-2")
    tasks.complete(open_task(queued.id, "prepare").id, people["preparer"], {"amount": "1"}, now=T0)
    assert jobs_of(queued.id)[0].state == "queued"  # not committed: the worker has not run it
    steps.cancel(queued.id, by="ops", now=T0)
    assert [j.state for j in jobs_of(queued.id)] == ["cancelled"]
    commit()  # the run deferred by the completion finds the job cancelled
    assert "service_task_run" not in kinds(queued.id) and jobs_of(queued.id)[0].state == "cancelled"


def test_describe(people):
    row = to_approve(people)
    data = steps.describe(instance(row.id))
    assert {k: data[k] for k in ("id", "process", "version", "business_key", "status")} == {
        "id": row.id, "process": "approval", "version": 1, "business_key": "PF-1", "status": "running"}
    assert data["markers"]["active"] == ["approve", "approve_timeout"]
    assert {"prepare", "convert", "review", "gw_amount"} <= set(data["markers"]["completed"])
    assert data["variables"]["amount"] == "20000" and data["variables"]["currency"] == "EUR"
    first = data["history"][0]
    assert first["kind"] == "created" and first["details"] == {"version": 1} and "T" in first["at"]
    assert [h["kind"] for h in data["history"]].count("task_completed") == 2


def test_case_data_labels_variables_from_the_diagrams_form_fields_else_in_words(people):
    row = to_approve(people)
    rows = steps.describe(instance(row.id))["case_data"]
    by_name = {item["name"]: item for item in rows}
    assert by_name["amount"]["label"] == "Amount" and by_name["amount"]["value"] == "20000"  # the form's label
    assert by_name["currency"]["label"] == "Currency"
    assert [item["label"] for item in rows] == sorted((item["label"] for item in rows), key=str.lower)
    assert set(by_name) == set(steps.describe(instance(row.id))["variables"])


@pytest.mark.parametrize(("name", "words"), [
    ("gross_total", "Gross total"), ("proforma_id", "Proforma ID"), ("approvedBy", "Approved by"),
    ("needsFinanceManager", "Needs finance manager"), ("id", "ID"), ("vat2Id", "Vat2 ID"), ("x", "X"),
    ("__private__", "Private"), ("ID", "ID"), ("", ""),
])
def test_a_variable_without_a_form_label_is_written_out(name, words):
    assert steps._written_out(name) == words


def test_the_labels_of_a_diagram_are_those_of_its_form_fields():
    assert compiler.field_labels(compiler.compile_definition(read("approval.bpmn"))) == {"amount": "Amount",
                                                                                        "note": "Note"}


def test_an_instance_that_ends_in_its_first_step_is_completed_every_time():
    """The second start uses the cached compiled definition, so nothing flushes the new row before the step."""
    definitions.deploy(read("straight_through.bpmn"), "test")
    for key in ("S-1", "S-2"):
        row = steps.start("straight_through", key)
        db.session.flush()
        assert (row.status, row.ended_at is not None) == ("completed", True), key
        assert [e["kind"] for e in steps.describe(row)["history"]] == ["created", "completed"]


def test_the_form_parser_names_every_bad_field_at_once():
    form = [{"id": "pages", "type": "long", "validation": {"required": None}},
            {"id": "amount", "type": "money"},
            {"id": "signed_on", "type": "date"},
            {"id": "kind", "type": "enum", "options": [{"id": "a", "name": "A"}]},
            {"id": "note", "type": "string", "validation": {"maxlength": "3"}}]
    with pytest.raises(ValidationError) as info:
        tasks.parse_form(form, {"amount": "1e3", "signed_on": "2026-13-01", "kind": "b", "note": "ok"})
    assert list(info.value.errors) == ["pages", "amount", "signed_on", "kind"]
    assert info.value.errors["pages"] == "is required"
    assert "not a number" in info.value.errors["amount"]
    assert tasks.parse_form(form, {"pages": "2", "amount": "1 234,50"}) == {"pages": 2, "amount": Decimal("1234.50")}
