"""Messages: send_message reaches intermediate catch events, boundary events and receive tasks by name."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.engine import compile_xml, complete, linear, read, ready_ids, restored, user_task, wrap
from workflows import engine

pytestmark = pytest.mark.no_db

PAYMENT = {"amount": Decimal("120.50"), "reference": "INV-7"}


def _started() -> engine.Instance:
    return restored(engine.Instance.start(compile_xml(read("messages.bpmn")), {"invoice": 7}))


def _at_approve() -> engine.Instance:
    instance = _started()
    assert instance.send_message("payment", PAYMENT) is True
    return restored(instance)


def test_instance_waits_at_the_intermediate_catch_event():
    instance = _started()
    assert ready_ids(instance) == [] and instance.markers()["active"] == ["wait_payment"]


def test_message_to_an_intermediate_catch_event_continues_with_its_payload():
    instance = _at_approve()
    assert ready_ids(instance) == ["approve"]
    assert instance.variables()["payment"] == PAYMENT
    assert instance.variables()["invoice"] == 7
    assert "wait_payment" in instance.markers()["completed"]


def test_nothing_waits_for_an_unknown_message():
    instance = _started()
    before = instance.dumps()
    assert instance.send_message("refund", PAYMENT) is False
    assert instance.dumps() == before


def test_boundary_message_is_not_caught_before_its_task_is_active():
    instance = _started()
    assert instance.send_message("withdrawn", {}) is False
    assert instance.markers()["active"] == ["wait_payment"]


def test_interrupting_boundary_message_cancels_the_user_task():
    instance = _at_approve()
    assert instance.send_message("withdrawn", {"by": "customer"}) is True
    instance = restored(instance)
    assert ready_ids(instance) == ["archive"]
    markers = instance.markers()
    assert "approve" in markers["cancelled"] and "withdrawn" in markers["completed"]
    complete(instance, "archive")
    assert instance.is_completed


def test_non_interrupting_boundary_message_keeps_the_user_task():
    instance = _at_approve()
    assert instance.send_message("query", {"question": "Which cost centre?"}) is True
    instance = restored(instance)
    assert ready_ids(instance) == ["answer", "approve"]
    complete(instance, "answer", {"reply": "CC-12"})
    complete(instance, "approve")
    assert restored(instance).is_completed


def test_boundary_message_after_the_task_is_done_finds_nobody():
    instance = _at_approve()
    complete(instance, "approve", {}, "carol")
    instance = restored(instance)
    assert instance.is_completed
    assert instance.send_message("withdrawn", {}) is False


def test_message_is_caught_only_once():
    instance = _started()
    assert instance.send_message("payment", PAYMENT) is True
    assert instance.send_message("payment", PAYMENT) is False
    assert ready_ids(instance) == ["approve"]


def test_receive_task_merges_the_payload_into_data():
    body = linear('<bpmn:receiveTask id="receive" messageRef="msg_signed"/>', user_task("after"))
    instance = restored(engine.Instance.start(compile_xml(wrap(body, messages=("signed",))), {}))
    assert instance.send_message("signed", {"signed_by": "dora"}) is True
    instance = restored(instance)
    assert ready_ids(instance) == ["after"] and instance.variables()["signed_by"] == "dora"
