"""`flask workflows ...` in-process: deploy, versions, start with typed --var, tasks/show --json, --as, tick."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.cli.workflows import parse_var
from portal.extensions import db
from portal.models import ProcessInstance, WorkflowTimer
from portal.models.types import utcnow
from portal.services.workflow import instances, service_jobs
from tests.support.factories import ExchangeRateFactory
from tests.support.workflow import (
    eur_rate,
    events,
    instance,
    jobs_of,
    open_elements,
    open_task,
    path,
    read,
    tasks_of,
)


def run(app, *args):
    result = app.test_cli_runner().invoke(args=["workflows", *[str(a) for a in args]])
    db.session.expire_all()  # the command used its own session
    return result


def ok(app, *args) -> str:
    result = run(app, *args)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.stdout


def started_id(output: str) -> int:
    assert output.startswith("Started instance "), output
    return int(output.split()[2])


def test_deploy_and_versions(app, tmp_path):
    assert ok(app, "deploy", path("approval.bpmn"), "--by", "ana@staff.example").strip() == \
        "Deployed approval version 1."
    assert ok(app, "deploy", path("approval.bpmn"), "--by", "bo@staff.example").strip() == \
        "Deployed approval version 1."  # unchanged: no new version
    changed = tmp_path / "approval.bpmn"
    changed.write_text(read("approval.bpmn").replace('name="Review"', 'name="Second look"'), encoding="utf-8")
    assert "Deployed approval version 2." in ok(app, "deploy", changed, "--by", "bo@staff.example")
    ok(app, "deploy", path("two_steps.bpmn"))

    lines = ok(app, "versions").splitlines()
    assert [line.split()[:2] for line in lines] == [["approval", "v2"], ["approval", "v1"], ["two_steps", "v1"]]
    assert lines[0].endswith("bo@staff.example") and lines[1].endswith("ana@staff.example")
    assert lines[2].endswith("cli") and utcnow().strftime("%Y-%m-%d") in lines[0]
    assert [line.split()[0] for line in ok(app, "versions", "two_steps").splitlines()] == ["two_steps"]


def test_an_invalid_diagram_is_refused_with_every_problem(app):
    result = run(app, "deploy", path("invalid_runtime.bpmn"))
    assert result.exit_code != 0
    problems = [line.strip() for line in result.stderr.splitlines() if line.startswith("  ")]
    assert [p.split(":")[0] for p in problems] == ["ping", "stamp", "stamp_late"], result.stderr
    assert "invalid_runtime.bpmn was not deployed: 3 problem(s)" in result.stderr
    assert ok(app, "versions") == ""
    missing = run(app, "deploy", "no-such-file.bpmn")
    assert missing.exit_code != 0 and "does not exist" in missing.stderr


def test_start_with_typed_variables(app):
    ok(app, "deploy", path("two_steps.bpmn"))
    output = ok(app, "start", "two_steps", "--business-key", "B-1", "--var", "count=42", "--var", "price=12.50",
                "--var", "on=2026-11-02", "--var", "urgent=true", "--var", "paid= FALSE", "--var", "who=Ana Lee",
                "--var", "empty=", "--var", "formula=a=b")
    row = instance(started_id(output))
    assert output.strip() == f"Started instance {row.id} (running)."
    assert (row.business_key, row.started_by, row.definition.key) == ("B-1", "cli", "two_steps")
    variables = instances.load(row).variables()
    expected = {"count": 42, "price": Decimal("12.50"), "on": date(2026, 11, 2), "urgent": True, "paid": False,
                "who": "Ana Lee", "empty": "", "formula": "a=b"}
    assert {k: variables[k] for k in expected} == expected
    assert [type(variables[k]) for k in ("count", "price", "on", "urgent")] == [int, Decimal, date, bool]
    assert open_elements(row.id) == ["sign"]

    for bad in ("oops", "=5"):
        refused = run(app, "start", "two_steps", "--var", bad)
        assert refused.exit_code != 0 and "write name=value" in refused.output
    unknown = run(app, "start", "no_such_process")
    assert unknown.exit_code != 0 and "no deployed process 'no_such_process'" in unknown.stderr
    assert len(db.session.scalars(select(ProcessInstance)).all()) == 1


@pytest.mark.parametrize("text", ["code=INF", "code=NaN", "ref=2026_001", "day=2026-02-30", "v=1e3"])
def test_words_that_only_python_reads_as_numbers_stay_text(text):
    _, value = parse_var(text)
    assert value == text.partition("=")[2]


def test_tasks_complete_as_and_show(app, make_user):
    preparer, reviewer = make_user("accountant", "reviewer"), make_user("reviewer")
    eur_rate()
    ok(app, "deploy", path("approval.bpmn"))
    ok(app, "deploy", path("two_steps.bpmn"))
    other = started_id(ok(app, "start", "two_steps"))
    row_id = started_id(ok(app, "start", "approval", "--business-key", "PF-1", "--var", "currency=EUR",
                           "--var", "on=2026-11-02"))

    listed = json.loads(ok(app, "tasks", "--json"))
    assert [(t["instance"], t["element"]) for t in listed] == [(other, "sign"), (row_id, "prepare")]
    [prepare] = json.loads(ok(app, "tasks", "--json", "--instance", row_id))
    assert {k: prepare[k] for k in ("element", "name", "roles", "users", "assignee", "due_at", "version")} == {
        "element": "prepare", "name": "Prepare", "roles": ["accountant"], "users": [], "assignee": None,
        "due_at": None, "version": 1}
    assert f"instance {row_id}" in ok(app, "tasks", "--instance", row_id) and "accountant" in ok(app, "tasks")

    done = ok(app, "complete", prepare["id"], "--as", preparer.email.upper(), "--var", "amount=20000")
    assert done.strip() == f"Completed task {prepare['id']} (prepare) of instance {row_id}."
    assert jobs_of(row_id)[0].state == "done"  # embedded mode: fx.convert ran after the command's commit
    [review] = json.loads(ok(app, "tasks", "--json", "--instance", row_id))
    assert review["element"] == "review" and review["roles"] == ["reviewer"] and review["due_at"].startswith("20")

    refused = run(app, "complete", review["id"], "--as", preparer.email)
    assert refused.exit_code != 0 and "four-eyes" in refused.stderr
    assert "no user ghost@staff.example" in run(app, "complete", review["id"], "--as", "ghost@staff.example").stderr
    assert run(app, "complete", review["id"]).exit_code != 0  # --as is required
    assert open_task(row_id, "review").state == "open"
    ok(app, "complete", review["id"], "--as", reviewer.email, "--outcome", "ok")

    shown = json.loads(ok(app, "show", row_id, "--json"))
    assert {k: shown[k] for k in ("id", "process", "version", "business_key", "status")} == {
        "id": row_id, "process": "approval", "version": 1, "business_key": "PF-1", "status": "running"}
    assert shown["markers"]["active"] == ["approve", "approve_timeout"]
    assert shown["variables"]["base_amount"] == "21690.00" and shown["variables"]["on"] == "2026-11-02"
    history = [(h["kind"], h["element"], h["actor"]) for h in shown["history"]]
    assert history[0] == ("created", "", "cli")
    assert ("task_completed", "prepare", preparer.email) in history
    assert ("task_completed", "review", reviewer.email) in history
    assert ("service_task_run", "convert", "") in history
    assert [t.outcome for t in tasks_of(row_id, "completed")] == [None, "ok"]

    text = ok(app, "show", row_id).splitlines()
    assert text[0] == f"Instance {row_id}: approval v1 [PF-1] running"
    assert text[1] == "Active: approve, approve_timeout" and "task_completed" in text[3]


def test_show_of_an_unknown_instance_is_a_clean_error(app):
    result = run(app, "show", 999)
    assert result.exit_code == 1 and "Error: no process instance 999" in result.stderr


def test_tick_fires_due_timers_and_requeues_due_jobs(app, make_user):
    preparer, reviewer = make_user("accountant"), make_user("reviewer")
    eur_rate()
    ok(app, "deploy", path("approval.bpmn"))
    row_id = started_id(ok(app, "start", "approval", "--var", "currency=EUR", "--var", "on=2026-11-02"))
    ok(app, "complete", open_task(row_id, "prepare").id, "--as", preparer.email, "--var", "amount=50000")
    ok(app, "complete", open_task(row_id, "review").id, "--as", reviewer.email)
    assert ok(app, "tick").strip() == "Fired 0 timer(s); queued 0 job(s) again."
    assert open_elements(row_id) == ["approve"]

    # The command has no clock option: let two days pass by moving the stored due time back.
    timer = db.session.scalars(select(WorkflowTimer).where(WorkflowTimer.instance_id == row_id)).one()
    timer.due_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert ok(app, "tick").strip() == "Fired 1 timer(s); queued 0 job(s) again."
    assert instance(row_id).status == "completed" and open_elements(row_id) == []
    assert [t.state for t in tasks_of(row_id, element_id="approve")] == ["cancelled"]
    assert ok(app, "tick").strip() == "Fired 0 timer(s); queued 0 job(s) again."

    ok(app, "deploy", path("convert_only.bpmn"))  # a job that failed its first try (no GBP rate yet)
    fx_id = started_id(ok(app, "start", "convert_only", "--var", "amount=10", "--var", "currency=GBP",
                          "--var", "on=2026-11-02"))
    [job] = jobs_of(fx_id)
    assert (job.state, job.attempts) == ("queued", 1) and "GBP" in job.last_error
    ExchangeRateFactory(currency="GBP", rate_date=date(2026, 11, 2), rate=Decimal("1.2631"))
    job.next_attempt_at = utcnow() - timedelta(seconds=1)  # its backoff has passed
    db.session.commit()
    assert ok(app, "tick").strip() == "Fired 0 timer(s); queued 1 job(s) again."
    assert service_jobs.get(job.id).state == "done" and open_elements(fx_id) == ["check"]
    assert [e.details["attempt"] for e in events(fx_id, "service_task_run")] == [2]


@pytest.mark.parametrize(("values", "message"), [
    (["fee=1e9"], "fee: “1e9” is not a number (write digits, e.g. 1234.50)"),
    (["fee=0.001"], "fee: allows at most 2 decimal places"),
    (["fee=10", "visits=2.5"], "visits: “2.5” is not a whole number"),
    ([], "fee: is required"),
])
def test_the_cli_refuses_what_the_inbox_refuses_and_names_the_field(app, make_user, values, message):
    clerk = make_user("accountant")
    ok(app, "deploy", path("money_form.bpmn"))
    row_id = started_id(ok(app, "start", "money_form"))
    [record] = json.loads(ok(app, "tasks", "--json", "--instance", row_id))
    refused = run(app, "complete", record["id"], "--as", clerk.email, *[part for v in values for part in ("--var", v)])
    assert refused.exit_code == 1 and refused.stderr.strip() == f"Error: {message}"
    assert open_task(row_id, "record").state == "open"
