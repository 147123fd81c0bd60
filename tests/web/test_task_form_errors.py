"""A task form with several bad fields names all of them at once and changes nothing."""

from __future__ import annotations

import pytest

from portal.extensions import db
from portal.models import HumanTask
from portal.services.workflow import definitions, steps
from tests.support.paths import WORKFLOW_DATA
from tests.support.rows import task_of
from tests.support.web import post_form, sign_in, text


@pytest.fixture
def review_task(app):
    definitions.deploy((WORKFLOW_DATA / "single_review.bpmn").read_text(), "test")
    instance = steps.start("single_review", "INV-0043")
    db.session.commit()
    return task_of(instance.id)


def test_every_bad_field_is_named_and_marked(app, client, make_user, review_task):
    sign_in(app, client, make_user("reviewer"))
    response = post_form(client, f"/tasks/{review_task.id}/complete",
                         {"hours": "many", "remark": "x" * 21, "outcome": "approved"})
    page = text(response)
    assert response.status_code == 400
    assert "Hours spent: “many” is not a whole number" in page
    assert "Remark: allows at most 20 characters" in page
    assert page.count("is-invalid") >= 2  # both inputs are marked, not only the first
    db.session.expire_all()
    assert db.session.get(HumanTask, review_task.id).state == "open"
