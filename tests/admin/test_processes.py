"""Process admin: editor check and deploy, versions, instance view and its actions, incidents, migration."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import HumanTask, ProcessDefinition, ProcessInstance, ServiceJob
from portal.services.workflow import definitions, instances, steps, tasks
from tests.support.paths import WORKFLOW_DATA
from tests.support.rows import task_of
from tests.support.web import page_csrf, post_form, sign_in

DATA = WORKFLOW_DATA
APPROVAL = (DATA / "approval.bpmn").read_text()
REVIEW = (DATA / "single_review.bpmn").read_text()


def post_json(client, url, payload):
    return client.post(url, data=json.dumps(payload), content_type="application/json",
                       headers={"X-CSRFToken": page_csrf(client, "/dashboard")})


def test_editor_offers_the_operations_as_element_templates(app, client, make_user):
    sign_in(app, client, make_user("analyst"))
    page = client.get("/admin/processes/editor").get_data(as_text=True)
    assert "camunda-platform-modeler.production.min.js" in page
    assert "Convert an amount to the base currency" in page and '"camunda:topic"' in page
    assert 'isExecutable=\\"true\\"' in page  # the starter diagram is executable


def test_check_lists_problems_by_element(app, client, make_user):
    sign_in(app, client, make_user("analyst"))
    broken = REVIEW.replace('camunda:candidateGroups="reviewer"', 'camunda:candidateGroups="wizard"')
    result = post_json(client, "/admin/processes/validate", {"xml": broken}).get_json()
    assert result["ok"] is False
    assert [p["element_id"] for p in result["problems"]] == ["review"] and "wizard" in result["problems"][0]["message"]
    assert post_json(client, "/admin/processes/validate", {"xml": REVIEW}).get_json() == {"ok": True, "problems": []}


def test_deploy_button_creates_versions_and_refuses_broken_diagrams(app, client, make_user):
    analyst = sign_in(app, client, make_user("analyst"))
    first = post_json(client, "/admin/processes/deploy", {"xml": REVIEW})
    assert first.status_code == 200 and first.get_json()["version"] == 1
    changed = post_json(client, "/admin/processes/deploy", {"xml": REVIEW.replace("Review the document", "Check")})
    assert changed.get_json()["version"] == 2
    not_executable = REVIEW.replace('isExecutable="true"', 'isExecutable="false"')
    broken = post_json(client, "/admin/processes/deploy", {"xml": not_executable})
    assert broken.status_code == 400 and broken.get_json()["problems"][0]["element_id"] == "single_review"
    db.session.expire_all()
    versions = definitions.versions("single_review")
    assert [v.version for v in versions] == [2, 1] and versions[0].deployed_by == analyst.email
    listing = client.get("/admin/processes/").get_data(as_text=True)
    assert "single_review" in listing and "v2" in listing and analyst.email in listing


def test_finance_managers_see_diagrams_but_cannot_deploy(app, client, make_user):
    sign_in(app, client, make_user("finance_manager"))
    assert client.get("/admin/processes/").status_code == 200
    assert post_json(client, "/admin/processes/deploy", {"xml": REVIEW}).status_code == 403
    assert db.session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == "single_review")) is None


def _running_review():
    definitions.deploy(REVIEW, "test")
    row = steps.start("single_review", "INV-9")
    db.session.commit()
    return row


def test_instance_view_shows_diagram_markers_history_and_variables(app, client, make_user):
    row = _running_review()
    sign_in(app, client, make_user("admin"))
    page = client.get(f"/admin/instances/details/?id={row.id}").get_data(as_text=True)
    assert '"active": ["review"]' in page and '"completed": ["start"]' in page
    assert "created" in page and 'id="variables"' in page
    assert client.get(f"/admin/processes/xml/{row.definition_id}").data.startswith(b"<?xml")


def test_cancel_from_the_instance_view(app, client, make_user):
    row = _running_review()
    sign_in(app, client, make_user("finance_manager"))
    post_form(client, f"/admin/instances/{row.id}/cancel")
    db.session.expire_all()
    assert db.session.get(ProcessInstance, row.id).status == "cancelled"
    assert db.session.scalar(select(HumanTask.state).where(HumanTask.instance_id == row.id)) == "cancelled"


def test_analysts_cannot_operate_instances(app, client, make_user):
    row = _running_review()
    sign_in(app, client, make_user("analyst"))
    assert client.get(f"/admin/instances/details/?id={row.id}").status_code == 200
    assert post_form(client, f"/admin/instances/{row.id}/cancel").status_code == 403
    db.session.expire_all()
    assert db.session.get(ProcessInstance, row.id).status == "running"


def test_migrate_to_the_latest_version_when_the_difference_allows_it(app, client, make_user):
    row = _running_review()
    definitions.deploy(REVIEW.replace("Review the document", "Review the invoice"), "test")
    db.session.commit()
    sign_in(app, client, make_user("admin"))
    post_form(client, f"/admin/instances/{row.id}/migrate")
    db.session.expire_all()
    migrated = db.session.get(ProcessInstance, row.id)
    assert migrated.definition.version == 2
    assert steps.describe(migrated)["history"][-1]["kind"] == "migrated"
    open_task = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == row.id)).one()
    assert (open_task.state, open_task.name) == ("open", "Review the invoice")  # the new version's task


def test_migration_is_refused_when_the_waiting_element_is_gone(app, make_user):
    row = _running_review()
    definitions.deploy(REVIEW.replace('id="review"', 'id="check"').replace('targetRef="review"', 'targetRef="check"')
                     .replace('sourceRef="review"', 'sourceRef="check"').replace('bpmnElement="review"',
                                                                                 'bpmnElement="check"'), "test")
    from portal.errors import Conflict
    from portal.services.workflow import migration

    with pytest.raises(Conflict, match="review is not in the new version"):
        migration.migrate(row.id, "admin")


def test_incidents_grid_and_retry(app, client, make_user):
    """fx.convert without a rate fails three times (an incident); Retry after adding the rate completes it."""
    from datetime import timedelta

    from portal.services.workflow import timers
    from tests.support.factories import ExchangeRateFactory

    definitions.deploy(APPROVAL, "test")
    preparer = make_user("accountant")
    row = steps.start("approval", "PF-INC", {"currency": "EUR", "on": date(2026, 11, 2)})
    prepare = task_of(row.id)
    tasks.complete(prepare.id, preparer, {"amount": "100"})
    db.session.commit()  # attempt 1 runs after the commit and fails: no EUR rate
    job = db.session.scalar(select(ServiceJob).where(ServiceJob.instance_id == row.id))
    for _ in range(2):  # the sweep queues the retries once their time has come
        db.session.refresh(job)
        timers.sweep(job.next_attempt_at + timedelta(seconds=1))
        db.session.commit()
    db.session.refresh(job)
    assert job.state == "incident" and job.attempts == 3 and "no EUR exchange rate" in job.last_error
    sign_in(app, client, make_user("finance_manager"))
    assert "no EUR exchange rate" in client.get("/admin/incidents/").get_data(as_text=True)
    ExchangeRateFactory(currency="EUR", rate_date=date(2026, 11, 1))
    db.session.commit()
    post_form(client, "/admin/incidents/action/", {"action": "retry", "rowid": job.id})
    db.session.expire_all()
    assert db.session.get(ServiceJob, job.id).state == "done"
    assert db.session.get(ProcessInstance, row.id).status == "running"
    assert db.session.scalar(select(HumanTask.element_id).where(HumanTask.instance_id == row.id,
                                                                HumanTask.state == "open")) == "review"


def test_the_diagram_file_is_a_download_that_cannot_run_script_on_the_site(app, client, make_user):
    row = _running_review()
    sign_in(app, client, make_user("admin"))
    response = client.get(f"/admin/processes/xml/{row.definition_id}")
    assert response.headers["Content-Disposition"] == 'attachment; filename="single_review-v1.bpmn"'
    assert response.headers["Content-Security-Policy"].startswith("sandbox")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_editor_gets_json_for_every_failure_it_can_meet(app, client, make_user):
    sign_in(app, client, make_user("analyst"))
    empty = post_json(client, "/admin/processes/deploy", {"xml": "  "})
    assert empty.status_code == 400 and "the diagram is empty" in empty.get_json()["error"]
    no_token = client.post("/admin/processes/validate", data=json.dumps({"xml": REVIEW}),
                           content_type="application/json")
    assert no_token.status_code == 400 and no_token.is_json and "security token" in no_token.get_json()["error"]
    page = client.get("/admin/processes/editor").get_data(as_text=True)
    assert 'src="/assets/portal/bpmn-editor.js"' in page
    script = client.get("/assets/portal/bpmn-editor.js").get_data(as_text=True)
    assert "redirect: 'error'" in script and "result.error" in script  # the page shows these messages


def test_a_deploy_that_loses_a_race_answers_409_json(app, client, make_user, monkeypatch):
    definitions.deploy(REVIEW, "test")
    sign_in(app, client, make_user("analyst"))
    monkeypatch.setattr(definitions, "latest", lambda key, required=True: None)
    lost = post_json(client, "/admin/processes/deploy", {"xml": REVIEW.replace("Review the document", "Check")})
    assert lost.status_code == 409 and "deployed at the same moment" in lost.get_json()["error"]


def test_long_histories_are_paged_newest_first(app, client, make_user):
    row = _running_review()
    for i in range(60):
        instances.history(row, "note", details={"text": f"line {i}"})
    db.session.commit()
    sign_in(app, client, make_user("admin"))
    first = client.get(f"/admin/instances/details/?id={row.id}").get_data(as_text=True)
    assert "61 in all" in first and "line 59" in first and "line 9&#34;" not in first
    assert first.count('<tr><td class="text-nowrap">20') == 50 and "history_page=2" in first
    second = client.get(f"/admin/instances/details/?id={row.id}&history_page=2").get_data(as_text=True)
    assert second.count('<tr><td class="text-nowrap">20') == 11 and "line 0" in second and "created" in second


def test_analysts_are_not_offered_the_retry_action_on_incidents(app, client, make_user):
    sign_in(app, client, make_user("analyst"))
    page = client.get("/admin/incidents/").get_data(as_text=True)
    assert client.get("/admin/incidents/").status_code == 200 and 'data-action="retry"' not in page
    sign_in(app, client, make_user("finance_manager"))
    assert 'data-action="retry"' in client.get("/admin/incidents/").get_data(as_text=True)


def test_versions_are_paged_and_filtered_by_process(app, client, make_user):
    for n in range(55):
        definitions.deploy(REVIEW.replace("Review the document", f"Review {n}"), "test")
    definitions.deploy(APPROVAL, "test")
    sign_in(app, client, make_user("analyst"))
    first = client.get("/admin/processes/").get_data(as_text=True)
    assert first.count("<tr><td><code>") == 50 and "page=2" in first and '<option>approval</option>' in first
    only = client.get("/admin/processes/?process=single_review&page=2").get_data(as_text=True)
    assert only.count("<tr><td><code>single_review") == 5 and "<code>approval" not in only
    assert "v1</td>" in only and "v55</td>" not in only
