"""markers(): element ids by state, for drawing an instance on its diagram."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.engine import APPROVAL_START, compile_xml, complete, only, read, restored
from workflows import engine

pytestmark = pytest.mark.no_db


def _markers(completed=(), active=(), failed=(), cancelled=()) -> dict:
    return {"completed": sorted(completed), "active": sorted(active), "failed": sorted(failed),
            "cancelled": sorted(cancelled)}


@pytest.fixture
def instance() -> engine.Instance:
    return engine.Instance.start(compile_xml(read("approval.bpmn")), dict(APPROVAL_START))


def test_markers_through_a_whole_run(instance):
    assert instance.markers() == _markers(["start"], ["prepare"])
    complete(instance, "prepare", {"amount": Decimal("20000")}, "alice")
    assert restored(instance).markers() == _markers(["start", "prepare"], ["convert"])
    instance.deliver(only(instance.external_tasks()).guid, {"base_amount": Decimal("21690")})
    assert restored(instance).markers() == _markers(["start", "prepare", "convert"], ["review"])
    complete(instance, "review", {}, "bob")
    assert restored(instance).markers() == _markers(["start", "prepare", "convert", "review", "gw_amount"],
                                                    ["approve", "approve_timeout"])
    complete(instance, "approve", {}, "carol")
    assert restored(instance).markers() == _markers(
        ["start", "prepare", "convert", "review", "gw_amount", "approve"], ["note"], cancelled=["approve_timeout"])
    instance.deliver(only(instance.external_tasks()).guid, {})
    assert restored(instance).markers() == _markers(
        ["start", "prepare", "convert", "review", "gw_amount", "approve", "note", "end"],
        cancelled=["approve_timeout"])


def test_small_amounts_skip_approve(instance):
    complete(instance, "prepare", {"amount": Decimal("100")}, "alice")
    instance.deliver(only(instance.external_tasks()).guid, {"base_amount": Decimal("108.45")})
    complete(instance, "review", {}, "bob")
    markers = instance.markers()
    assert markers["active"] == ["note"] and "approve" not in markers["completed"] + markers["cancelled"]


def test_cancel_marks_what_was_active(instance):
    complete(instance, "prepare", {"amount": Decimal("20000")}, "alice")
    instance.cancel()
    instance = restored(instance)
    assert instance.is_completed
    assert instance.markers() == _markers(["start", "prepare"], cancelled=["convert"])
    assert instance.external_tasks() == [] and instance.user_tasks() == []


def test_predicted_tasks_are_not_marked(instance):
    markers = instance.markers()
    drawn = set().union(*markers.values())
    assert drawn == {"start", "prepare"}


def test_an_element_both_done_and_active_is_drawn_active():
    instance = engine.Instance.start(compile_xml(read("loop.bpmn")), {"done": False})
    complete(instance, "work", {"done": False}, "alice")
    markers = restored(instance).markers()
    assert markers["active"] == ["work"]
    assert markers["completed"] == ["gw", "join", "start"]
