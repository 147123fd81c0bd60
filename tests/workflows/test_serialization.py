"""Instance state ↔ JSON: typed values survive, the spec stays out, and save/restore never changes a run."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tests.support.engine import (
    APPROVAL_START,
    RULES,
    compile_xml,
    complete,
    linear,
    read,
    restored,
    run_approval,
    task_for,
    user_task,
    wrap,
)
from workflows import engine

pytestmark = pytest.mark.no_db

TYPED = {
    "amount": Decimal("12500.50"),
    "tiny": Decimal("0.000001"),
    "on": date(2026, 11, 2),
    "at": datetime(2026, 11, 2, 9, 30, 15, 123456),
    "at_utc": datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
    "at_plus2": datetime(2026, 11, 2, 9, 30, tzinfo=timezone(timedelta(hours=2))),
    "lines": [{"qty": 3, "price": Decimal("1.10"), "due": date(2026, 12, 1)}],
    "nested": {"limits": {"eur": Decimal("1E+4")}},
}


def _two_steps() -> engine.Definition:
    return compile_xml(wrap(linear(user_task("first"), user_task("second"))))


def _same_typed(value, expected):
    assert value == expected and type(value) is type(expected), (value, expected)
    if isinstance(expected, datetime):
        assert value.tzinfo == expected.tzinfo or value.utcoffset() == expected.utcoffset()


def test_typed_start_variables_survive_dumps_and_loads():
    variables = restored(engine.Instance.start(_two_steps(), dict(TYPED))).variables()
    for name, expected in TYPED.items():
        if name in ("lines", "nested"):
            continue
        _same_typed(variables[name], expected)
    _same_typed(variables["lines"][0]["price"], Decimal("1.10"))
    _same_typed(variables["lines"][0]["due"], date(2026, 12, 1))
    _same_typed(variables["nested"]["limits"]["eur"], Decimal("1E+4"))


def test_typed_values_from_a_completed_task_survive():
    instance = restored(engine.Instance.start(_two_steps(), {}))
    complete(instance, "first", {"paid": Decimal("99.99"), "paid_on": date(2026, 1, 31),
                                 "stamp": datetime(2026, 1, 31, 23, 59, 59)})
    variables = restored(restored(instance)).variables()
    _same_typed(variables["paid"], Decimal("99.99"))
    _same_typed(variables["paid_on"], date(2026, 1, 31))
    _same_typed(variables["stamp"], datetime(2026, 1, 31, 23, 59, 59))


def test_decimal_keeps_its_exact_digits_in_the_json():
    state = engine.Instance.start(_two_steps(), {"amount": Decimal("0.10")}).dumps()
    assert "0.10" in state
    assert restored(engine.Instance.start(_two_steps(), {"amount": Decimal("0.10")})).variables()["amount"] \
        .as_tuple() == Decimal("0.10").as_tuple()


def _keys(node) -> set:
    if isinstance(node, dict):
        return set(node) | set().union(*(_keys(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(set(), *(_keys(v) for v in node))
    return set()


def test_dumped_state_holds_no_spec():
    instance = engine.Instance.start(compile_xml(read("approval.bpmn")), dict(APPROVAL_START))
    complete(instance, "prepare", {"amount": Decimal("20000")}, "alice")
    state = instance.dumps()
    keys = _keys(json.loads(state))
    assert "task_specs" not in keys and "spec" not in keys and "subprocess_specs" not in keys
    for fragment in ("<bpmn", "base_amount > 10000", "Three-step approval", "candidateGroups", "fourEyesExcludes"):
        assert fragment not in state


def test_state_loads_into_a_freshly_compiled_definition():
    """Another worker compiles the same XML again; the state must not depend on the spec objects in memory."""
    xml = read("approval.bpmn")
    instance = engine.Instance.start(compile_xml(xml), dict(APPROVAL_START))
    complete(instance, "prepare", {"amount": Decimal("20000")}, "alice")
    other = engine.compile_definition(xml, RULES)
    assert other.spec is not instance.definition.spec
    loaded = engine.Instance.load(other, instance.dumps())
    job = loaded.external_tasks()[0]
    assert job.params == {"amount": Decimal("20000"), "currency": "EUR", "on": date(2026, 11, 2)}
    loaded.deliver(job.guid, {"base_amount": Decimal("21690"), "rate": Decimal("1.0845")})
    assert task_for(loaded, "review").excluded_users == ["alice"]


def test_task_guids_survive_dumps_and_loads():
    instance = engine.Instance.start(_two_steps(), {})
    guid = task_for(instance, "first").guid
    loaded = restored(instance)
    assert task_for(loaded, "first").guid == guid
    loaded.complete_user_task(guid, {}, "alice")
    assert [t.element_id for t in loaded.user_tasks()] == ["second"]


def test_dumps_is_stable_across_a_round_trip():
    instance = engine.Instance.start(compile_xml(read("approval.bpmn")), dict(APPROVAL_START))
    once = restored(instance)
    assert json.loads(once.dumps()) == json.loads(restored(once).dumps())


@pytest.mark.parametrize("amount", [Decimal("20000"), Decimal("500")])
def test_save_and_restore_at_every_step_changes_nothing(amount):
    with_restore = run_approval(amount, save_restore=True)
    without = run_approval(amount, save_restore=False)
    assert with_restore == without
    assert with_restore[-1]["completed"] is True
    assert with_restore[-1]["variables"]["base_amount"] == amount * Decimal("1.0845")


def test_large_amount_run_goes_through_approve_and_note():
    final = run_approval(Decimal("20000"), save_restore=True)[-1]
    assert final["markers"]["completed"] == ["approve", "convert", "end", "gw_amount", "note", "prepare",
                                             "review", "start"]
    assert final["markers"]["cancelled"] == ["approve_timeout"]
