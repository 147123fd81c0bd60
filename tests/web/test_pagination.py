"""Pages of rows (Flask-SQLAlchemy's db.paginate) and the windowed pager every list shows them with."""

from __future__ import annotations

import re

import pytest
from flask import render_template_string
from sqlalchemy import select

from portal.extensions import db
from portal.models import HumanTask
from portal.services.workflow import definitions, inbox, steps
from portal.services.workflow import tasks as workflow_tasks
from tests.support.paths import WORKFLOW_DATA
from tests.support.web import login_as

PAGER = ('{% from "_pagination.html" import pager %}'
         '{{ pager(page, "tasks.inbox", {"view": "queue", "due": "week"}) }}')


def open_review_tasks(count: int) -> list[HumanTask]:
    """`count` open review tasks in the reviewers' queue, one per case Q-0, Q-1, …"""
    definitions.deploy((WORKFLOW_DATA / "single_review.bpmn").read_text(), "test")
    rows = [steps.start("single_review", f"Q-{i}") for i in range(count)]
    db.session.flush()
    return [db.session.scalar(select(HumanTask).where(HumanTask.instance_id == row.id)) for row in rows]


@pytest.fixture
def thirty(app, make_user):
    """A reviewer whose queue holds 30 tasks: 30 pages of one."""
    open_review_tasks(30)
    return make_user("reviewer")


def pager_html(app, page) -> str:
    with app.test_request_context("/tasks/"):
        return render_template_string(PAGER, page=page)


def linked_pages(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'[?;]page=(\d+)"', html)]


def test_the_pager_shows_first_a_window_around_the_current_page_and_last(app, thirty):
    page = inbox.tasks(thirty, "queue", inbox.Filters(), page=15, size=1)
    assert (page.page, page.pages, page.total, len(page.items)) == (15, 30, 30, 1)
    html = pager_html(app, page)
    # previous, first, …, 13 to 17, …, last, next
    assert linked_pages(html) == [14, 1, 13, 14, 15, 16, 17, 30, 16]
    assert html.count("…") == 2
    assert re.search(r'class="page-item active" aria-current="page"><a class="page-link" [^>]*page=15"', html)
    assert 'aria-label="Previous"' in html and 'aria-label="Next"' in html
    assert all("view=queue" in href and "due=week" in href for href in re.findall(r'href="([^"]+)"', html))


def test_at_the_edges_the_window_has_no_gap_and_the_arrow_is_disabled(app, thirty):
    first = pager_html(app, inbox.tasks(thirty, "queue", inbox.Filters(), page=1, size=1))
    assert linked_pages(first) == [1, 2, 3, 30, 2]  # no previous link; 1..3, …, 30, next
    assert first.count("…") == 1
    assert re.search(r'<li class="page-item disabled"><span class="page-link" aria-label="Previous"', first)
    last = pager_html(app, inbox.tasks(thirty, "queue", inbox.Filters(), page=30, size=1))
    assert linked_pages(last) == [29, 1, 28, 29, 30]  # previous; 1, …, 28..30; no next link
    assert re.search(r'<li class="page-item disabled"><span class="page-link" aria-label="Next"', last)


def test_one_page_shows_no_pager(app, make_user):
    open_review_tasks(2)
    page = inbox.tasks(make_user("reviewer"), "queue", inbox.Filters())
    assert (page.pages, page.total) == (1, 2)
    assert pager_html(app, page).strip() == ""


def test_page_numbers_out_of_range_give_the_first_or_an_empty_page(app, make_user):
    open_review_tasks(3)
    reviewer = make_user("reviewer")
    below = inbox.tasks(reviewer, "queue", inbox.Filters(), page=0, size=2)
    assert (below.page, len(below.items), below.total) == (1, 2, 3)
    past = inbox.tasks(reviewer, "queue", inbox.Filters(), page=9, size=2)
    assert (past.page, past.items, past.total, past.pages) == (9, [], 3, 2)


def test_a_page_is_as_long_as_the_caller_asks_even_past_the_library_default_cap(app, make_user):
    open_review_tasks(101)
    assert len(inbox.tasks(make_user("reviewer"), "queue", inbox.Filters(), size=101).items) == 101


def test_the_inbox_pages_its_queue_and_keeps_the_filters_in_the_links(app, client, make_user):
    tasks = open_review_tasks(27)
    reviewer = make_user("reviewer")
    db.session.commit()
    login_as(app, client, reviewer)
    first = client.get("/tasks/?view=queue&due=&process=single_review").get_data(as_text=True)
    assert first.count("/claim") == 25 and ">27<" in first.replace(" ", "")  # the tab counts all 27
    assert linked_pages(first) == [1, 2, 2]  # 1, 2 and next
    assert "process=single_review" in re.search(r'href="([^"]+page=2)"', first).group(1)
    second = client.get("/tasks/?view=queue&process=single_review&page=2").get_data(as_text=True)
    assert second.count("/claim") == 2
    assert {f"/tasks/{t.id}/claim" for t in tasks[25:]} <= set(re.findall(r"/tasks/\d+/claim", second))


def test_process_versions_and_instance_history_page_the_same_way(app, make_user):
    diagram = (WORKFLOW_DATA / "single_review.bpmn").read_text()
    for n in range(3):  # a changed diagram is a new version
        definitions.deploy(f"{diagram}<!-- {n} -->", "test")
    versions = definitions.versions_page("single_review", page=2, size=2)
    assert (versions.total, versions.pages, [d.version for d in versions.items]) == (3, 2, [1])
    assert definitions.versions_page("single_review", page=3, size=2).items == []
    row = steps.start("single_review", "H-1")
    db.session.flush()
    task = db.session.scalar(select(HumanTask).where(HumanTask.instance_id == row.id))
    reviewer = make_user("reviewer")
    workflow_tasks.claim(task.id, reviewer)
    workflow_tasks.unclaim(task.id, reviewer)
    described = steps.describe(row, history_page=1, per_page=2)
    history = described["history_page"]
    assert (history.total, history.pages) == (3, 2)
    assert [e["kind"] for e in described["history"]] == ["unclaimed", "claimed"]  # newest first
    past = steps.describe(row, history_page=3, per_page=2)
    assert past["history"] == [] and past["history_page"].total == 3
