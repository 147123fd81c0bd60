"""When things go wrong in a running process: the failure is an incident naming the element, nothing is run
twice, other instances go on, and Retry (after a fixed version, if need be) carries the case forward."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.errors import Conflict, NotFound, ValidationError
from portal.extensions import db
from portal.models import ProcessDefinition, WorkflowTimer
from portal.services.workflow import definitions, migration, operations, service_jobs, steps, tasks, timers
from tests.support.engine import linear, user_task, wrap
from tests.support.workflow import (
    T0,
    commit,
    deploy,
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
from workflows import engine

ANALYST = "analyst@staff.example"
OPS = "ops@staff.example"


def _sign_due(due: str) -> str:
    return wrap(linear(user_task("sign", f'camunda:candidateGroups="accountant" camunda:dueDate="{due}"')),
                process_id="due_sign")


def _note_then_check(output: str) -> str:
    note = ('<bpmn:serviceTask id="note" camunda:type="external" camunda:topic="history.note">'
            '<bpmn:extensionElements><camunda:inputOutput>'
            '<camunda:inputParameter name="text">Case opened</camunda:inputParameter>'
            f'<camunda:outputParameter name="checked">{output}</camunda:outputParameter>'
            '</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>')
    return wrap(linear(note, user_task("check")), process_id="mapped_note")


# ---------------------------------------------------------------------------- tasks that cannot be set up

def test_a_task_that_cannot_be_set_up_is_an_incident_naming_it_and_a_fixed_version_takes_over():
    definitions.deploy(_sign_due("${pay_by}"), ANALYST)
    row = steps.start("due_sign", "D-1", now=T0)  # no pay_by in the case: the due date cannot be worked out
    failed = events(row.id, "failed")
    assert instance(row.id).status == "incident" and tasks_of(row.id) == []
    assert [e.element_id for e in failed] == ["sign"] and "pay_by" in failed[0].details["error"]

    service_jobs.retry_incident(row.id, by=OPS, now=T0)  # same data, same failure: still no task row
    assert instance(row.id).status == "incident" and tasks_of(row.id) == [] and len(events(row.id, "failed")) == 2

    definitions.deploy(_sign_due("P3D"), ANALYST)
    migration.migrate(row.id, by=ANALYST, now=T0)
    assert open_task(row.id, "sign").due_at == T0 + timedelta(days=3)
    service_jobs.retry_incident(row.id, by=OPS, now=T0)
    assert instance(row.id).status == "running" and open_elements(row.id) == ["sign"]


# ---------------------------------------------------------------------------- results that do not fit

def test_a_result_that_does_not_fit_the_case_leaves_the_job_in_incident_and_retry_runs_it_again():
    definitions.deploy(_note_then_check("${1 / 0}"), ANALYST)
    row = steps.start("mapped_note", "M-1", now=T0)
    commit()  # the job runs now (embedded mode, after the commit)
    [job] = jobs_of(row.id)
    assert (job.state, job.attempts) == ("incident", 1) and "division by zero" in job.last_error
    assert instance(row.id).status == "incident" and open_elements(row.id) == []
    assert [e.element_id for e in events(row.id, "failed")] == ["note"]
    assert service_jobs.incidents() == [job]

    definitions.deploy(_note_then_check("${'yes'}"), ANALYST)
    migration.migrate(row.id, by=ANALYST, now=T0)
    assert service_jobs.retry_incident(row.id, by=OPS, now=T0) == 1
    commit()
    assert service_jobs.get(job.id).state == "done" and open_elements(row.id) == ["check"]
    assert instance(row.id).status == "running"
    assert steps.describe(instance(row.id))["variables"]["checked"] == "yes"


def test_inline_a_result_that_does_not_fit_is_a_job_in_incident_that_later_steps_do_not_run(inline, make_user):
    definitions.deploy(_note_then_check("${1 / 0}"), ANALYST)
    row = steps.start("mapped_note", "M-2", now=T0)
    [job] = jobs_of(row.id)
    assert (job.state, job.attempts) == ("incident", 1) and instance(row.id).status == "incident"
    commit()
    assert len(events(row.id, "note")) == 1 and len(events(row.id, "service_task_run")) == 1

    definitions.deploy(_note_then_check("${'yes'}"), ANALYST)
    migration.migrate(row.id, by=ANALYST, now=T0)  # a step on the instance: the job table's task stays its own
    assert len(events(row.id, "service_task_run")) == 1 and jobs_of(row.id) == [job]
    service_jobs.retry_incident(row.id, by=OPS, now=T0)
    commit()
    assert service_jobs.get(job.id).state == "done" and open_elements(row.id) == ["check"]
    assert len(events(row.id, "service_task_run")) == 2


def test_a_job_whose_topic_left_the_registry_becomes_an_incident():
    deploy("note_only.bpmn")
    row = steps.start("note_only", "N-9", now=T0)
    [job] = jobs_of(row.id)
    with operations.REGISTRY.temporarily(without=("history.note",)):
        assert service_jobs.requeue_due(T0 + timedelta(days=1)) == 1  # queued on the default queue, no crash
        assert service_jobs.run(job.id, now=T0) == "incident"
    assert "unknown operation topic 'history.note'" in job.last_error and instance(row.id).status == "incident"


# ---------------------------------------------------------------------------- the timer sweep

def _after_all_timers():
    """Boundary timers are due by SpiffWorkflow's clock (the machine's), not by the `now` given to start."""
    return max(db.session.scalars(select(WorkflowTimer.due_at))) + timedelta(hours=1)


def test_the_sweep_sets_aside_a_timer_whose_firing_raises_and_fires_the_others(monkeypatch):
    deploy("deadline.bpmn")
    broken, fine = (steps.start("deadline", key, now=T0) for key in ("T-1", "T-2"))
    commit()
    real_fire = engine.Instance.fire_timer
    calls = []

    def fire_once_badly(self, guid, now):
        calls.append(guid)
        if len(calls) == 1:
            raise RuntimeError("bug in a timer")
        return real_fire(self, guid, now)

    monkeypatch.setattr(engine.Instance, "fire_timer", fire_once_badly)
    late = _after_all_timers()
    assert timers.sweep(now=late)["timers_fired"] == 1
    commit()
    [parked] = [t for t in timers_of(broken.id) + timers_of(fine.id) if t.failed_at is not None]
    victim = broken if parked.instance_id == broken.id else fine
    other = fine if victim is broken else broken
    assert "bug in a timer" in parked.last_error and instance(victim.id).status == "incident"
    assert events(victim.id, "failed")[-1].element_id == "sign_late"
    assert open_elements(victim.id) == ["sign"] and "timer_fired" not in kinds(victim.id)
    assert instance(other.id).status == "completed"

    assert timers.sweep(now=late + timedelta(minutes=1))["timers_fired"] == 0  # set aside, not retried
    service_jobs.retry_incident(victim.id, by=OPS, now=late)
    assert timers.sweep(now=late + timedelta(minutes=2))["timers_fired"] == 1
    assert instance(victim.id).status == "completed"


def test_timers_of_instances_with_an_incident_fire_and_dead_instances_do_not_use_up_the_batch():
    deploy("deadline.bpmn")
    stuck, live = (steps.start("deadline", key, now=T0) for key in ("S-1", "S-2"))
    instance(stuck.id).status = "incident"  # e.g. a failed mail in another branch
    done = steps.start("deadline", "S-3", now=T0)
    steps.cancel(done.id, by=OPS, now=T0)
    db.session.add(WorkflowTimer(instance_id=done.id, task_guid="0" * 36, element_id="sign_late",
                                 due_at=T0 - timedelta(days=30)))  # a leftover row, oldest of all
    db.session.flush()
    assert timers.fire_due(_after_all_timers(), limit=2) == (2, 0)
    assert "timer_fired" in kinds(stuck.id) and "timer_fired" in kinds(live.id)


# ---------------------------------------------------------------------------- messages

def test_a_message_needs_a_business_key_names_its_element_and_reaches_an_instance_with_an_incident():
    deploy("payment_wait.bpmn")
    waiting = steps.start("payment_wait", "INV-9", now=T0)
    unnamed = steps.start("payment_wait", "", now=T0)
    with pytest.raises(ValidationError) as info:
        steps.correlate_message("payment_received", "  ", now=T0)
    assert info.value.field == "business_key" and "message_received" not in kinds(unnamed.id)

    instance(waiting.id).status = "incident"
    steps.correlate_message("payment_received", "INV-9", {"amount": "1.00"}, now=T0)
    assert [e.element_id for e in events(waiting.id, "message_received")] == ["wait_payment"]
    assert open_elements(waiting.id) == ["book"]


# ---------------------------------------------------------------------------- people's input

def test_numbers_that_are_not_finite_or_not_text_are_refused_by_field():
    fields = [{"id": "amount", "type": "decimal", "label": "Amount", "validation": {"max": "100"}},
              {"id": "pages", "type": "long", "label": "Pages", "validation": {}}]
    for values, field in (({"amount": "NaN"}, "amount"), ({"amount": "Infinity"}, "amount"),
                          ({"amount": "-inf"}, "amount"), ({"pages": ["3"]}, "pages")):
        with pytest.raises(ValidationError) as info:
            tasks.parse_form(fields, values)
        assert info.value.field == field


def test_a_broken_limit_in_an_old_diagram_is_a_clear_error_not_a_crash():
    for rules in ({"min": "one"}, {"max": None}):
        with pytest.raises(ValidationError, match="an analyst must fix the process") as info:
            tasks.parse_form([{"id": "amount", "type": "long", "validation": rules}], {"amount": "5"})
        assert info.value.field == "amount"
    with pytest.raises(ValidationError, match="not a number"):
        tasks.parse_form([{"id": "note", "type": "string", "validation": {"minlength": None}}], {"note": "x"})


def test_a_finished_or_unclaimed_task_cannot_be_handed_back(make_user):
    deploy("deadline.bpmn")
    row = steps.start("deadline", "U-1", now=T0)
    sign, accountant, manager = open_task(row.id, "sign"), make_user("accountant"), make_user("finance_manager")
    with pytest.raises(Conflict, match="nobody has claimed"):
        tasks.unclaim(sign.id, manager)
    tasks.claim(sign.id, accountant)
    tasks.complete(sign.id, accountant, {}, now=T0)
    with pytest.raises(Conflict, match="completed"):
        tasks.unclaim(sign.id, accountant)
    assert [t.assignee for t in tasks_of(row.id)] == [accountant.email] and "unclaimed" not in kinds(row.id)


# ---------------------------------------------------------------------------- deploying

def test_two_deploys_of_one_process_at_the_same_moment_give_a_conflict_not_a_crash(monkeypatch):
    deploy("deadline.bpmn")
    changed = read("deadline.bpmn").replace("PT1H", "PT2H")
    monkeypatch.setattr(definitions, "latest", lambda key, required=True: None)  # both saw no version yet
    with pytest.raises(Conflict, match="deployed at the same moment"):
        definitions.deploy(changed, ANALYST)
    versions = db.session.scalars(select(ProcessDefinition.version).where(ProcessDefinition.key == "deadline"))
    assert list(versions) == [1]  # the transaction is still usable, and nothing was half-written


def test_a_missing_instance_is_not_found_for_messages_too():
    with pytest.raises(NotFound):
        steps.correlate_message("payment_received", "NOPE", now=T0)
