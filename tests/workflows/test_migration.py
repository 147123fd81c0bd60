"""Which running instances may move to a new version (engine level: migration_blockers)."""

from __future__ import annotations

import pytest

from tests.support.engine import compile_xml, complete, linear, user_task, wrap
from workflows import engine
from workflows.migration import migration_blockers

pytestmark = pytest.mark.no_db


def _in_subprocess(check: str) -> str:
    inner = linear(user_task("prepare"), check)
    inner = inner.replace('"start"', '"sub_start"').replace('"end"', '"sub_end"').replace('id="flow_', 'id="s_')
    return wrap(linear(f'<bpmn:subProcess id="sub">{inner}</bpmn:subProcess>'))


def _waiting_in_subprocess() -> engine.Instance:
    instance = engine.Instance.start(compile_xml(_in_subprocess(user_task("check"))), {})
    complete(instance, "prepare", {}, "alice")
    return instance


def test_an_instance_inside_an_embedded_subprocess_can_move_to_an_equal_version():
    same = compile_xml(_in_subprocess(user_task("check", 'camunda:candidateGroups="reviewer"')))
    assert migration_blockers(_waiting_in_subprocess().workflow, same) == []


def test_a_waiting_element_gone_from_the_subprocess_blocks_the_move():
    gone = compile_xml(_in_subprocess(user_task("verify")))
    assert "check is not in the new version" in migration_blockers(_waiting_in_subprocess().workflow, gone)


def test_an_element_that_changed_kind_blocks_the_move():
    instance = engine.Instance.start(compile_xml(wrap(linear(user_task("check")))), {})
    manual = compile_xml(wrap(linear('<bpmn:manualTask id="check"/>')))
    assert migration_blockers(instance.workflow, manual) == ["check is a different kind of element in the new version"]
