"""steps.py, exactly: found by the mutation run (docs/testing.md, "Mutation run").

Each test pins one outcome the runtime promises: the exact values a task, job or timer row takes, who four-eyes
excludes as people finish steps, which rows a step writes, the clock a step uses, the messages of its errors,
the markers and the history pages of `describe`, and the case data's labels and order.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from portal.errors import Conflict, NotFound, ValidationError
from portal.extensions import db
from portal.infra import outbox
from portal.models import HistoryEvent, WorkflowTimer
from portal.services.workflow import definitions, instances, migration, operations, service_jobs, steps, tasks, timers
from tests.support.engine import linear, user_task, wrap
from tests.support.workflow import (
    T0,
    WRITE_THEN_FAIL,
    commit,
    deploy,
    events,
    instance,
    jobs_of,
    open_task,
    read,
    tasks_of,
    timers_of,
)
from workflows import engine

BY = "analyst@staff.example"


def parallel(*elements: str, process_id: str) -> str:
    """start → split → each element → join → end: every element is ready at once."""
    ids = [e.split('id="', 1)[1].split('"', 1)[0] for e in elements]
    flows = [('start', 'split')] + [("split", i) for i in ids] + [(i, "join") for i in ids] + [("join", "end")]
    body = ('<bpmn:startEvent id="start"/><bpmn:parallelGateway id="split"/><bpmn:parallelGateway id="join"/>'
            '<bpmn:endEvent id="end"/>' + "".join(elements)
            + "".join(f'<bpmn:sequenceFlow id="f_{a}_{b}" sourceRef="{a}" targetRef="{b}"/>' for a, b in flows))
    return wrap(body, process_id=process_id)


def _properties(**values: str) -> str:
    props = "".join(f'<camunda:property name="{name}" value="{value}"/>' for name, value in values.items())
    return f"<bpmn:extensionElements><camunda:properties>{props}</camunda:properties></bpmn:extensionElements>"


def _statements():
    """A list that collects every SQL statement sent while the context is open."""
    seen: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    class Recorder:
        def __enter__(self):
            event.listen(db.engine, "before_cursor_execute", listener)
            return seen

        def __exit__(self, *exc):
            event.remove(db.engine, "before_cursor_execute", listener)

    return Recorder()


# ---------------------------------------------------------------------------- start

def test_start_without_a_business_key_or_a_starter_leaves_them_empty():
    deploy("two_steps.bpmn")
    row = steps.start("two_steps")
    db.session.flush()
    assert (row.business_key, row.started_by) == ("", "")
    assert [(e.kind, e.actor, e.details) for e in events(row.id)] == [("created", "", {"version": 1})]


def test_start_records_who_started_the_instance_on_the_row_and_in_its_history():
    deploy("two_steps.bpmn")
    row = steps.start("two_steps", "S-1", started_by=BY, now=T0)
    assert (instance(row.id).business_key, instance(row.id).started_by) == ("S-1", BY)
    assert [(e.kind, e.actor) for e in events(row.id)] == [("created", BY)]


# ---------------------------------------------------------------------------- inline or as jobs

@pytest.mark.parametrize(("configured", "redis_url", "inline"), [
    (None, None, True), (None, "redis://localhost:6379/0", False),
    (True, "redis://localhost:6379/0", True), (False, None, False),
])
def test_service_tasks_run_inline_by_default_only_without_redis(app, monkeypatch, configured, redis_url, inline):
    monkeypatch.setitem(app.config, "SERVICE_TASKS_INLINE", configured)
    monkeypatch.setitem(app.config, "REDIS_URL", redis_url)
    assert steps.inline_service_tasks() is inline


def test_a_new_job_is_sent_to_the_queue_of_its_operation():
    audited = dataclasses.replace(operations.get("history.note"), queue="audit")
    with operations.REGISTRY.temporarily(audited):
        deploy("note_only.bpmn")
        row = steps.start("note_only", "Q-1", now=T0)
        [job] = jobs_of(row.id)
        assert db.session.info[outbox.KEY] == [(steps.RUN_JOB, (job.id,), "audit")]
        assert job.next_attempt_at == T0 + steps.JOB_LEASE


# ---------------------------------------------------------------------------- what a step writes

def test_the_finished_task_and_job_rows_are_left_to_their_callers(make_user):
    """Completing a task (or running a job) writes its row once; sync sends no UPDATE by task guid for it."""
    deploy("two_steps.bpmn")
    row = steps.start("two_steps", "W-1", now=T0)
    sign = open_task(row.id, "sign")
    with _statements() as sql:
        tasks.complete(sign.id, make_user("accountant"), {"pages": "2"}, now=T0)
        db.session.flush()
    assert [s for s in sql if "task_guid IN" in s] == []
    assert [(t.element_id, t.state, t.version) for t in tasks_of(row.id)] == [("sign", "completed", 2),
                                                                              ("countersign", "open", 1)]

    deploy("note_only.bpmn")
    noted = steps.start("note_only", "W-2", now=T0)
    [job] = jobs_of(noted.id)
    with _statements() as sql:
        assert service_jobs.run(job.id, now=T0) == "done"
        db.session.flush()
    assert [s for s in sql if "task_guid IN" in s] == []
    assert jobs_of(noted.id)[0].state == "done"


USER_TASKS_VARS = {"deputy": "bob@staff.example", "team": "reviewer", "deadline": "2026-11-20T12:00:00",
                   "owner": "olga@staff.example"}


def test_new_task_rows_take_the_people_due_dates_and_outcomes_of_the_step_at_the_steps_clock():
    deploy("user_tasks.bpmn")
    row = steps.start("user_tasks", "U-1", dict(USER_TASKS_VARS), now=T0)
    rows = {t.element_id: (t.name, t.candidate_roles, t.candidate_users, t.assignee, t.due_at, t.outcomes, t.version)
            for t in tasks_of(row.id)}
    assert rows == {
        "by_lane": ("Sign off", ["finance_manager"], [], None, T0 + timedelta(days=2), [], 1),
        "by_groups": ("by_groups", ["approver", "finance_manager"], [], None,
                      T0.replace(day=1, month=12, hour=15), [], 1),
        "by_users": ("by_users", ["reviewer"], ["alice", "bob@staff.example"], None,
                     T0.replace(day=20, hour=12), [], 1),
        "by_assignee": ("by_assignee", [], [], "olga@staff.example", T0 + timedelta(hours=36), [], 1),
        "groups_win": ("groups_win", ["reviewer"], [], "dave", None, [], 1),
        "with_form": ("Enter the invoice", ["accountant"], [], None, None, [], 1),
    }

    definitions.deploy(wrap(linear(user_task("decide", 'name="Decide" camunda:candidateGroups="approver"',
                                             _properties(outcomes="approved,rejected")))), BY)
    decided = steps.start("p", "U-2", now=T0)
    assert open_task(decided.id, "decide").outcomes == ["approved", "rejected"]


# ---------------------------------------------------------------------------- four-eyes while a task is open

FOUR_EYES = parallel(
    user_task("prepare"), user_task("other"),
    user_task("approve", 'camunda:candidateGroups="approver"', _properties(fourEyesExcludes="prepare")),
    process_id="four_eyes")


def test_an_open_task_excludes_who_finished_or_changed_its_four_eyes_steps_as_they_are_done(make_user):
    alice, carol = make_user("accountant", email="alice@staff.example"), make_user("accountant")
    definitions.deploy(FOUR_EYES, BY)
    row = steps.start("four_eyes", "E-1", now=T0)
    approve = open_task(row.id, "approve")
    assert (approve.excluded_users, approve.version) == ([], 1)

    prepare = open_task(row.id, "prepare")
    prepare.contributors = ["dora@staff.example"]  # changed the case during prepare (as a proforma edit does)
    tasks.complete(open_task(row.id, "other").id, carol, {}, now=T0)
    approve = open_task(row.id, "approve")  # prepare is not done yet: nobody is excluded, the row is untouched
    assert (approve.excluded_users, approve.version) == ([], 1)

    tasks.complete(prepare.id, alice, {}, now=T0)
    approve = open_task(row.id, "approve")
    assert (approve.excluded_users, approve.version) == (["alice@staff.example", "dora@staff.example"], 2)
    assert instance(row.id).waiting["tasks"] == {approve.task_guid: ["alice@staff.example", "dora@staff.example"]}

    later = steps.start("four_eyes", "E-2", now=T0)  # the same steps done in another instance count for nothing
    assert open_task(later.id, "approve").excluded_users == []


# ---------------------------------------------------------------------------- jobs and timers

def test_cancelling_an_instance_cancels_its_job_in_incident():
    with operations.REGISTRY.temporarily(WRITE_THEN_FAIL):
        definitions.deploy(read("note_only.bpmn").replace('camunda:topic="history.note"',
                                                          f'camunda:topic="{WRITE_THEN_FAIL.topic}"'), BY)
        row = steps.start("note_only", "J-1", now=T0)
        [job] = jobs_of(row.id)
        assert service_jobs.run(job.id, now=T0) == "retry"
        assert service_jobs.run(job.id, now=T0 + timedelta(seconds=5)) == "incident"
    steps.cancel(row.id, by=BY, now=T0)
    assert [j.state for j in jobs_of(row.id)] == ["cancelled"]


REMINDERS = wrap(linear(user_task("approve", 'camunda:candidateGroups="approver"')) + """
    <bpmn:boundaryEvent id="tick" attachedToRef="approve" cancelActivity="false">
      <bpmn:timerEventDefinition><bpmn:timeCycle>R3/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f_tick" sourceRef="tick" targetRef="remind"/>
    <bpmn:serviceTask id="remind" camunda:type="external" camunda:topic="history.note">
      <bpmn:extensionElements><camunda:inputOutput><camunda:inputParameter name="text">Reminder
      </camunda:inputParameter></camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:sequenceFlow id="f_remind" sourceRef="remind" targetRef="remind_end"/>
    <bpmn:endEvent id="remind_end"/>""", process_id="reminders")


def test_a_cycle_timer_keeps_its_row_which_moves_on_to_the_next_occurrence():
    definitions.deploy(REMINDERS, BY)
    row = steps.start("reminders", "C-1", now=T0)
    [first] = timers_of(row.id)
    first_id, first_guid, first_due = first.id, first.task_guid, first.due_at

    assert timers.sweep(now=first_due + timedelta(minutes=1))["timers_fired"] == 1
    [timer] = timers_of(row.id)
    [view] = instances.load(instance(row.id)).timers()
    assert (timer.id, timer.task_guid, timer.fired_at) == (first_id, first_guid, None)
    assert timer.due_at == view.due_at != first_due  # the next occurrence counts from the firing
    assert instance(row.id).waiting["timers"] == {first_guid: view.due_at.isoformat()}


def test_retry_clears_the_failed_timers_of_that_instance_only(monkeypatch):
    deploy("deadline.bpmn")
    first, second = (steps.start("deadline", key, now=T0) for key in ("T-1", "T-2"))
    commit()
    monkeypatch.setattr(engine.Instance, "fire_timer", lambda self, guid, now: (_ for _ in ()).throw(
        RuntimeError("bug in a timer")))
    late = max(db.session.scalars(select(WorkflowTimer.due_at))) + timedelta(hours=1)
    assert timers.sweep(now=late)["timers_fired"] == 0
    commit()
    failed = {t.instance_id: (t.failed_at, t.last_error) for t in timers_of(first.id) + timers_of(second.id)}
    assert failed == {first.id: (late, "RuntimeError: bug in a timer"),
                      second.id: (late, "RuntimeError: bug in a timer")}

    service_jobs.retry_incident(first.id, by=BY, now=late)
    cleared = {t.instance_id: (t.failed_at, t.last_error) for t in timers_of(first.id) + timers_of(second.id)}
    assert cleared == {first.id: (None, ""), second.id: (late, "RuntimeError: bug in a timer")}


# ---------------------------------------------------------------------------- after a migration

def _migrating(v2_review: str, v2_check: str) -> str:
    return parallel(user_task("review", v2_review), user_task("check", v2_check), process_id="refresh")


V1 = _migrating('name="Review" camunda:candidateGroups="reviewer"', 'name="Check" camunda:candidateGroups="reviewer"')
V2_FORM = ('<bpmn:extensionElements><camunda:formData><camunda:formField id="note" label="Note" type="string"/>'
           '</camunda:formData><camunda:properties><camunda:property name="outcomes" value="ok,redo"/>'
           '</camunda:properties></bpmn:extensionElements>')
V2 = parallel(
    user_task("review", 'name="Review the case" camunda:candidateGroups="approver" camunda:candidateUsers="ann" '
                        'camunda:assignee="dave" camunda:dueDate="P1D"', V2_FORM),
    user_task("check", 'name="Check twice" camunda:candidateGroups="accountant" camunda:assignee="dave"'),
    process_id="refresh")


def test_after_a_migration_open_tasks_take_the_new_versions_people_form_outcomes_and_due_date_but_keep_a_claim(
        make_user):
    reviewer = make_user("reviewer")
    definitions.deploy(V1, BY)
    row = steps.start("refresh", "M-1", now=T0)
    tasks.claim(open_task(row.id, "review").id, reviewer)
    assert open_task(row.id, "review").version == 2
    definitions.deploy(V2, BY)
    moved = T0 + timedelta(hours=3)
    migration.migrate(row.id, by=BY, now=moved)

    review, check = open_task(row.id, "review"), open_task(row.id, "check")
    assert (review.name, review.candidate_roles, review.candidate_users, review.assignee, review.due_at,
            review.outcomes, review.version) == ("Review the case", ["approver"], ["ann"], reviewer.email,
                                                 moved + timedelta(days=1), ["ok", "redo"], 3)
    assert [(f["id"], f["label"]) for f in review.form] == [("note", "Note")]
    assert (check.name, check.candidate_roles, check.candidate_users, check.assignee, check.due_at, check.form,
            check.outcomes, check.version) == ("Check twice", ["accountant"], [], "dave", None, [], [], 2)


def test_a_migration_to_a_version_whose_task_cannot_be_set_up_is_an_incident_and_leaves_the_row():
    definitions.deploy(V1, BY)
    row = steps.start("refresh", "M-2", now=T0)
    definitions.deploy(_migrating('name="Review" camunda:assignee="${nobody}"',
                                  'name="Check again" camunda:candidateGroups="reviewer"'), BY)
    migration.migrate(row.id, by=BY, now=T0)
    assert instance(row.id).status == "incident"
    assert [e.element_id for e in events(row.id, "failed")] == ["review"]
    review, check = open_task(row.id, "review"), open_task(row.id, "check")
    assert (review.name, review.candidate_roles, review.version) == ("Review", ["reviewer"], 1)
    assert (check.name, check.version) == ("Check again", 2)


# ---------------------------------------------------------------------------- messages

WAIT_THEN_BOOK = wrap(linear(
    '<bpmn:intermediateCatchEvent id="wait_payment"><bpmn:messageEventDefinition id="med1" messageRef="msg_paid"/>'
    '</bpmn:intermediateCatchEvent>',
    user_task("book", 'camunda:candidateGroups="accountant" camunda:dueDate="P1D"')),
    process_id="wait_then_book", messages=("paid",))


def test_the_step_a_message_starts_runs_at_the_time_given():
    definitions.deploy(WAIT_THEN_BOOK, BY)
    row = steps.start("wait_then_book", "INV-1", now=T0)
    later = T0 + timedelta(hours=5)
    assert steps.correlate_message("paid", "INV-1", {"amount": "1"}, now=later).id == row.id
    assert open_task(row.id, "book").due_at == later + timedelta(days=1)
    assert [(e.kind, e.element_id, e.details) for e in events(row.id)][1:] == [
        ("message_received", "wait_payment", {"message": "paid"})]


@pytest.mark.parametrize("business_key", ["", "   ", None])
def test_a_message_without_a_business_key_is_refused_with_its_reason(business_key):
    with pytest.raises(ValidationError) as info:
        steps.correlate_message("paid", business_key, now=T0)
    assert (info.value.field, info.value.message) == (
        "business_key", "a message needs the business key of the instance it is for")


def test_a_message_nobody_waits_for_says_which_key_and_message():
    with pytest.raises(NotFound) as info:
        steps.correlate_message("paid", "INV-404", now=T0)
    assert str(info.value) == "no running instance with business key 'INV-404' waits for message 'paid'"


def test_a_message_locks_only_the_live_instances_with_its_key(monkeypatch):
    definitions.deploy(WAIT_THEN_BOOK, BY)
    done = steps.start("wait_then_book", "INV-2", now=T0)
    steps.cancel(done.id, by=BY, now=T0)
    live = steps.start("wait_then_book", "INV-2", now=T0)
    locked = []
    real_lock = steps.lock
    monkeypatch.setattr(steps, "lock", lambda instance_id: locked.append(instance_id) or real_lock(instance_id))
    assert steps.correlate_message("paid", "INV-2", now=T0).id == live.id
    assert locked == [live.id]


# ---------------------------------------------------------------------------- cancel

def test_a_completed_instance_cannot_be_cancelled(make_user):
    definitions.deploy(read("straight_through.bpmn"), BY)
    row = steps.start("straight_through", "X-1", now=T0)
    db.session.flush()
    with pytest.raises(Conflict) as info:
        steps.cancel(row.id, by=BY, now=T0)
    assert str(info.value) == f"instance {row.id} is already completed"
    assert instance(row.id).status == "completed" and events(row.id)[-1].kind == "completed"


# ---------------------------------------------------------------------------- describe: markers

def test_a_step_done_before_and_active_again_is_marked_active_not_completed(make_user):
    deploy("loop.bpmn")
    row = steps.start("loop", "L-1", {"done": False}, now=T0)
    tasks.complete(open_task(row.id, "work").id, make_user("accountant"), {}, now=T0)
    markers = steps.describe(instance(row.id))["markers"]
    assert markers["active"] == ["work"] and "work" not in markers["completed"]


def test_markers_count_only_this_instances_done_steps(make_user):
    accountant = make_user("accountant", "reviewer")
    deploy("two_steps.bpmn")
    done = steps.start("two_steps", "K-1", now=T0)
    tasks.complete(open_task(done.id, "sign").id, accountant, {"pages": "1"}, now=T0)
    tasks.complete(open_task(done.id, "countersign").id, make_user("reviewer"), {}, now=T0)
    fresh = steps.start("two_steps", "K-2", now=T0)
    markers = steps.describe(instance(fresh.id))["markers"]
    assert (markers["active"], markers["failed"]) == (["sign"], [])
    assert "countersign" not in markers["completed"] and "sign" not in markers["completed"]


def test_a_claimed_step_that_was_cancelled_is_not_marked_completed(make_user):
    deploy("two_steps.bpmn")
    row = steps.start("two_steps", "K-3", now=T0)
    tasks.claim(open_task(row.id, "sign").id, make_user("accountant"))
    steps.cancel(row.id, by=BY, now=T0)
    markers = steps.describe(instance(row.id))["markers"]
    assert "sign" not in markers["completed"] and markers["active"] == []


# ---------------------------------------------------------------------------- describe: history

def test_describe_lists_every_event_oldest_first_with_its_fields(make_user):
    accountant = make_user("accountant")
    deploy("two_steps.bpmn")
    row = steps.start("two_steps", "H-1", started_by=BY, now=T0)
    sign = open_task(row.id, "sign")
    tasks.claim(sign.id, accountant)
    tasks.complete(sign.id, accountant, {"pages": "1"}, now=T0)
    data = steps.describe(instance(row.id))
    at = [e.occurred_at.isoformat(timespec="seconds") for e in events(row.id)]
    assert data["history"] == [
        {"at": at[0], "kind": "created", "element": "", "actor": BY, "details": {"version": 1}},
        {"at": at[1], "kind": "claimed", "element": "sign", "actor": accountant.email, "details": {}},
        {"at": at[2], "kind": "task_completed", "element": "sign", "actor": accountant.email, "details": {}},
    ]
    assert "history_page" not in data


def test_describe_pages_the_history_newest_first():
    deploy("two_steps.bpmn")
    row = steps.start("two_steps", "H-2", now=T0)
    for n in range(1, 5):
        instances.history(row, "note", details={"n": n})
    db.session.flush()

    data = steps.describe(instance(row.id), history_page=2, per_page=2)
    assert [(h["kind"], h["details"]) for h in data["history"]] == [("note", {"n": 2}), ("note", {"n": 1})]
    page = data["history_page"]
    assert (page.page, page.per_page, page.total, page.pages) == (2, 2, 5, 3)
    assert [e.id for e in page.items] == [e.id for e in events(row.id)][-4:-2][::-1]

    first = steps.describe(instance(row.id), history_page=1)
    assert [h["details"].get("n") for h in first["history"]] == [4, 3, 2, 1, None]
    beyond = steps.describe(instance(row.id), history_page=9, per_page=2)  # no 404 outside the pages
    assert beyond["history"] == [] and beyond["history_page"].page == 9


def test_a_history_page_may_be_longer_than_a_hundred_events():
    deploy("two_steps.bpmn")
    row = steps.start("two_steps", "H-3", now=T0)
    db.session.add_all(HistoryEvent(instance=row, kind="note", details={"n": n}) for n in range(120))
    db.session.flush()
    assert len(steps.describe(instance(row.id), history_page=1, per_page=150)["history"]) == 121


# ---------------------------------------------------------------------------- describe: case data

LABELLED = wrap(linear(user_task("enter", 'camunda:candidateGroups="accountant"', (
    '<bpmn:extensionElements><camunda:formData>'
    '<camunda:formField id="net" label="Amount [net]" type="long"/>'
    '<camunda:formField id="due" label="Amount due" type="long"/>'
    '</camunda:formData></bpmn:extensionElements>'))), process_id="labelled")


def test_case_data_uses_the_form_labels_and_sorts_them_ignoring_case():
    definitions.deploy(LABELLED, BY)
    row = steps.start("labelled", "D-1", {"net": 100, "due": 119, "grossTotal": 119, "a_b": 1}, now=T0)
    assert steps.describe(instance(row.id))["case_data"] == [
        {"label": "A b", "name": "a_b", "value": 1},
        {"label": "Amount [net]", "name": "net", "value": 100},
        {"label": "Amount due", "name": "due", "value": 119},
        {"label": "Gross total", "name": "grossTotal", "value": 119},
    ]
