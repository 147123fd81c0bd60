"""service_jobs.py, exactly: found by the mutation run (docs/testing.md, "Mutation run").

Each test pins one outcome of running, retrying and re-queueing service jobs: the exact answer of `run` for a
job it must not run, the job row's fields after a success and after a result that does not fit, which jobs
Retry queues again (only the instance's, only those in incident), the queue they are sent to, the lease they
get, the `retried` history line, the clock Retry hands to the engine, the order of `incidents()`, the NotFound
message of `get()`, and the sweep passing over a job row another transaction holds (PostgreSQL).
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import text

from portal.errors import NotFound
from portal.extensions import db
from portal.infra import outbox
from portal.models import ServiceJob
from portal.services.workflow import definitions, migration, operations, service_jobs, steps
from tests.support.engine import linear, user_task, wrap
from tests.support.workflow import (
    T0,
    WRITE_THEN_FAIL,
    commit,
    deploy,
    events,
    instance,
    jobs_of,
    libpq,
    migrated_postgres,
    open_task,
)

OPS = "ops@staff.example"
ANALYST = "analyst@staff.example"
# The test operation that always fails, sent to a queue other than the default one.
ON_INTEGRATIONS = dataclasses.replace(WRITE_THEN_FAIL, queue="integrations")


def _service(element_id: str, topic: str, inner: str = "") -> str:
    return (f'<bpmn:serviceTask id="{element_id}" camunda:type="external" camunda:topic="{topic}">'
            f'<bpmn:extensionElements><camunda:inputOutput>'
            f'<camunda:inputParameter name="text">Case opened</camunda:inputParameter>{inner}'
            f'</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>')


def _gateway(condition: str, b_attrs: str = 'camunda:candidateGroups="accountant"') -> str:
    """… → gw → a (when `condition`) | b (the default) → end."""
    return f"""<bpmn:exclusiveGateway id="gw" default="f_b"/>
    <bpmn:sequenceFlow id="f_a" sourceRef="gw" targetRef="a">
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_b" sourceRef="gw" targetRef="b"/>
    {user_task("a")}{user_task("b", b_attrs)}
    <bpmn:sequenceFlow id="f_a_end" sourceRef="a" targetRef="end"/>
    <bpmn:sequenceFlow id="f_b_end" sourceRef="b" targetRef="end"/>
    <bpmn:endEvent id="end"/>"""


def _start_then_gateway(condition: str) -> str:
    return ('<bpmn:startEvent id="start"/><bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="gw"/>'
            + _gateway(condition, 'camunda:candidateGroups="accountant" camunda:dueDate="P3D"'))


def _failing(business_key: str):
    """An instance of `failing` whose one job (test.write_then_fail, 2 attempts) has used both: in incident."""
    row = steps.start("failing", business_key, now=T0)
    [job] = jobs_of(row.id)
    assert service_jobs.run(job.id, now=T0) == "retry"
    assert service_jobs.run(job.id, now=T0 + timedelta(seconds=5)) == "incident"
    return row, job


@pytest.fixture
def failing():
    """Process `failing`: one service task `note` calling ON_INTEGRATIONS, then a check."""
    with operations.REGISTRY.temporarily(ON_INTEGRATIONS):
        definitions.deploy(wrap(linear(_service("note", ON_INTEGRATIONS.topic), user_task("check")),
                                process_id="failing"), ANALYST)
        yield


# ---------------------------------------------------------------------------- run: jobs it must not run

def test_running_a_job_that_does_not_exist_is_skipped():
    assert service_jobs.run(424242, now=T0) == "skipped"  # kills run 5, 6


def test_a_queued_job_whose_task_the_engine_no_longer_waits_for_is_cancelled_not_run():
    deploy("note_only.bpmn")
    row = steps.start("note_only", "L-1", now=T0)
    leftover = ServiceJob(instance_id=row.id, task_guid="0" * 36, element_id="note", topic="history.note")
    db.session.add(leftover)
    db.session.flush()
    assert service_jobs.run(leftover.id, now=T0) == "skipped"  # kills run 17, 19, 27, 28
    assert (leftover.state, leftover.attempts) == ("cancelled", 0)  # kills run 24, 25, 26


def test_a_queued_job_of_a_cancelled_instance_is_cancelled_not_run():
    deploy("note_only.bpmn")
    row = steps.start("note_only", "L-2", now=T0)
    [job] = jobs_of(row.id)
    instance(row.id).status = "cancelled"
    assert (service_jobs.run(job.id, now=T0), job.state, job.attempts) == ("skipped", "cancelled", 0)
    assert events(row.id, "service_task_run") == []  # kills run 22, 23


# ---------------------------------------------------------------------------- run: the job row afterwards

def test_a_job_that_ran_is_done_at_the_clock_with_no_error():
    deploy("note_only.bpmn")
    row = steps.start("note_only", "D-1", now=T0)
    [job] = jobs_of(row.id)
    later = T0 + timedelta(minutes=3)
    assert service_jobs.run(job.id, now=later) == "done"
    assert (job.state, job.attempts, job.finished_at, job.last_error) == ("done", 1, later, "")  # kills run 63


def test_a_job_whose_result_fits_is_done_even_when_a_later_step_fails():
    """The task took its result; the gateway after it fails: an incident there, not at the job."""
    definitions.deploy(wrap(f"""<bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="note"/>{_service("note", "history.note")}
    <bpmn:sequenceFlow id="f1" sourceRef="note" targetRef="gw"/>{_gateway("missing &gt; 1")}""",
                            process_id="note_then_gw"), ANALYST)
    row = steps.start("note_then_gw", "G-1", now=T0)
    [job] = jobs_of(row.id)
    assert service_jobs.run(job.id, now=T0) == "done"
    assert (job.state, job.finished_at, job.last_error) == ("done", T0, "")  # kills run 79
    assert instance(row.id).status == "incident" and [e.element_id for e in events(row.id, "failed")] == ["gw"]


def test_a_job_whose_result_does_not_fit_the_case_answers_incident():
    output = '<camunda:outputParameter name="checked">${1 / 0}</camunda:outputParameter>'
    definitions.deploy(wrap(linear(_service("note", "history.note", output), user_task("check")),
                            process_id="mapped_note"), ANALYST)
    row = steps.start("mapped_note", "M-1", now=T0)
    [job] = jobs_of(row.id)
    assert service_jobs.run(job.id, now=T0) == "incident"  # kills run 88, 89
    assert (job.state, job.attempts, job.finished_at, job.next_attempt_at) == ("incident", 1, None, None)


# ---------------------------------------------------------------------------- retry_incident

def test_retry_queues_again_only_the_jobs_of_that_instance(failing):
    first, first_job = _failing("R-1")
    second, second_job = _failing("R-2")
    assert service_jobs.retry_incident(first.id, by=OPS, now=T0) == 1
    assert (first_job.state, second_job.state) == ("queued", "incident")  # kills retry_incident 14
    assert instance(second.id).status == "incident"


def test_retry_leaves_the_instances_done_jobs_alone():
    with operations.REGISTRY.temporarily(WRITE_THEN_FAIL):
        definitions.deploy(wrap(linear(_service("first", "history.note"), _service("second", WRITE_THEN_FAIL.topic)),
                                process_id="two_jobs"), ANALYST)
        row = steps.start("two_jobs", "R-3", now=T0)
        [first] = jobs_of(row.id)
        assert service_jobs.run(first.id, now=T0) == "done"
        second = jobs_of(row.id, "second")[0]
        assert service_jobs.run(second.id, now=T0) == "retry"
        assert service_jobs.run(second.id, now=T0 + timedelta(seconds=5)) == "incident"
        assert service_jobs.retry_incident(row.id, by=OPS, now=T0) == 1  # kills retry_incident 15
        assert [(j.element_id, j.state, j.attempts) for j in jobs_of(row.id)] == [("first", "done", 1),
                                                                                 ("second", "queued", 0)]


def test_retry_leases_each_job_from_the_clock_and_sends_it_to_its_operations_queue(failing):
    row, job = _failing("R-4")
    outbox.take(db.session)  # what the start deferred
    later = T0 + timedelta(hours=2)
    service_jobs.retry_incident(row.id, by=OPS, now=later)
    assert job.next_attempt_at == later + steps.JOB_LEASE  # kills retry_incident 25
    assert db.session.info[outbox.KEY] == [(steps.RUN_JOB, (job.id,), "integrations")]  # kills retry_incident 31, 32


def test_retry_records_who_retried_which_jobs(failing):
    row, _ = _failing("R-5")
    service_jobs.retry_incident(row.id, by=OPS, now=T0)
    last = events(row.id)[-1]
    # kills retry_incident 40, 44, 45, 46, 47, 48
    assert (last.kind, last.element_id, last.actor, last.details) == ("retried", "", OPS, {"jobs": ["note"]})


def test_retry_runs_a_failed_engine_step_again_at_the_clock_given():
    """A gateway that failed is mended by a new version; Retry re-runs it, and the task it reaches is due
    three days after the Retry's clock."""
    definitions.deploy(wrap(_start_then_gateway("missing &gt; 1")), ANALYST)
    row = steps.start("p", "R-6", now=T0)
    assert instance(row.id).status == "incident"
    definitions.deploy(wrap(_start_then_gateway("1 &gt; 2")), ANALYST)
    migration.migrate(row.id, by=ANALYST, now=T0)
    later = T0 + timedelta(hours=5)
    assert service_jobs.retry_incident(row.id, by=OPS, now=later) == 0
    assert open_task(row.id, "b").due_at == later + timedelta(days=3)  # kills retry_incident 56


# ---------------------------------------------------------------------------- incidents, get

def test_incidents_lists_the_newest_job_first(failing):
    _, older = _failing("I-1")
    _, newer = _failing("I-2")
    assert service_jobs.incidents() == [newer, older]  # kills incidents 3


def test_getting_a_job_that_does_not_exist_names_it():
    with pytest.raises(NotFound) as info:
        service_jobs.get(424242)
    assert str(info.value) == "no job 424242"  # kills get 3, 7, 8


# ---------------------------------------------------------------------------- requeue_due

def test_a_due_retry_is_queued_again_on_its_operations_queue(failing):
    row = steps.start("failing", "Q-1", now=T0)
    [job] = jobs_of(row.id)
    assert service_jobs.run(job.id, now=T0) == "retry"
    outbox.take(db.session)
    assert service_jobs.requeue_due(T0 + timedelta(seconds=5)) == 1
    assert db.session.info[outbox.KEY] == [(steps.RUN_JOB, (job.id,), "integrations")]  # kills requeue_due 22, 23


@pytest.mark.postgres
@pytest.mark.no_db
def test_the_sweep_passes_over_a_job_row_another_transaction_holds():
    """SKIP LOCKED: the sweep neither waits (a lock timeout would end it) nor queues the held job."""
    with migrated_postgres() as app:
        deploy("note_only.bpmn")
        row = steps.start("note_only", "P-1", now=T0)
        [job] = jobs_of(row.id)
        outbox.take(db.session)  # as if Redis lost the enqueue: the job stays queued in the database
        commit()
        job_id, due = job.id, job.next_attempt_at
        with psycopg.connect(libpq(app.config["SQLALCHEMY_DATABASE_URI"])[0]) as holder:
            holder.execute("SELECT id FROM service_jobs WHERE id = %s FOR UPDATE", (job_id,))
            db.session.execute(text("SET LOCAL lock_timeout = '200ms'"))
            assert service_jobs.requeue_due(due) == 0  # kills requeue_due 4, 14
            db.session.rollback()
        assert service_jobs.requeue_due(due) == 1
        db.session.rollback()
