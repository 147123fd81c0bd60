"""Long-running instances keep a bounded state: completed straight-line history is compacted away."""

from __future__ import annotations

import pytest

from tests.support.engine import compile_xml, read
from workflows import engine

pytestmark = pytest.mark.no_db


def run_rounds(rounds: int, compact: bool) -> tuple[engine.Instance, list[int]]:
    definition = compile_xml(read("long_loop.bpmn"))
    instance = engine.Instance.start(definition, {"limit": rounds, "rounds": 0})
    instance.complete_user_task(instance.user_tasks()[0].guid, {}, "alice")
    sizes = []
    for i in range(1, rounds + 1):
        instance = engine.Instance.load(definition, instance.dumps())
        instance.complete_user_task(instance.user_tasks()[0].guid, {"rounds": i}, "bob")
        if compact:
            instance.compact()
        sizes.append(len(instance.dumps()))
    return engine.Instance.load(definition, instance.dumps()), sizes


def test_state_stays_bounded_over_hundreds_of_rounds():
    instance, sizes = run_rounds(300, compact=True)
    assert max(sizes[200:]) < 2 * max(sizes[:100])
    assert len(instance.workflow.tasks) < 100
    assert [t.element_id for t in instance.user_tasks()] == ["approve"]
    assert instance.variables()["rounds"] == 300


def test_without_compaction_the_state_grows_with_every_round():
    _, sizes = run_rounds(150, compact=False)
    assert sizes[-1] > 5 * sizes[10]


def test_compaction_keeps_a_short_history_untouched():
    definition = compile_xml(read("long_loop.bpmn"))
    instance = engine.Instance.start(definition, {"limit": 3, "rounds": 0})
    assert instance.compact() == 0


def test_the_compacted_instance_finishes_like_a_full_one():
    compacted, _ = run_rounds(120, compact=True)
    full, _ = run_rounds(120, compact=False)
    for instance in (compacted, full):
        instance.complete_user_task(instance.user_tasks()[0].guid, {}, "carol")
    assert compacted.is_completed and full.is_completed
    assert compacted.variables() == full.variables()
