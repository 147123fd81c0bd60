"""External service tasks: parameters evaluated on arrival, results delivered by a job, output mapping."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.support.engine import compile_xml, linear, only, read, ready_ids, restored, task_for, wrap
from workflows import engine
from workflows.parser import InvalidDiagram

pytestmark = pytest.mark.no_db

START = {"amount": Decimal("10.50"), "lines": [{"currency": "USD"}], "on": date(2026, 1, 2)}
RESULT = {"base_amount": Decimal("9.56"), "rate": Decimal("0.91"), "rate_source": "ecb"}


@pytest.fixture
def instance() -> engine.Instance:
    return restored(engine.Instance.start(compile_xml(read("external_io.bpmn")), dict(START)))


def test_job_waits_with_topic_and_evaluated_params(instance):
    job = only(instance.external_tasks())
    assert (job.element_id, job.topic) == ("convert", "fx.convert")
    assert job.params == {"amount": Decimal("21.00"), "currency": "USD", "on": date(2026, 1, 2),
                          "source": "ecb", "nothing": None}
    assert type(job.params["amount"]) is Decimal and instance.user_tasks() == []


def test_params_survive_save_and_load(instance):
    job = only(instance.external_tasks())
    again = only(restored(restored(instance)).external_tasks())
    assert again == job and type(again.params["on"]) is date


def test_output_parameters_map_the_result(instance):
    instance.deliver(only(instance.external_tasks()).guid, RESULT)
    variables = restored(instance).variables()
    assert (variables["converted"], variables["rate_used"], variables["provider"]) == (
        Decimal("9.56"), Decimal("0.91"), "ECB")
    assert "base_amount" not in variables and "rate" not in variables and "rate_source" not in variables


def test_without_output_parameters_the_whole_result_lands(instance):
    instance.deliver(only(instance.external_tasks()).guid, RESULT)
    instance = restored(instance)
    note = only(instance.external_tasks())
    assert (note.element_id, note.params) == ("note", {"text": "Conversion done"})
    instance.deliver(note.guid, {"noted_at": date(2026, 1, 3), "line": 7})
    instance = restored(instance)
    assert ready_ids(instance) == ["check"]
    assert {"noted_at": date(2026, 1, 3), "line": 7}.items() <= instance.variables().items()


def test_deliver_to_a_task_that_is_not_started_raises_and_changes_nothing(instance):
    guid = only(instance.external_tasks()).guid
    instance.deliver(guid, RESULT)
    before = instance.dumps()
    with pytest.raises(ValueError, match="not STARTED"):
        instance.deliver(guid, RESULT)  # already COMPLETED
    assert instance.dumps() == before


def test_deliver_to_a_user_task_raises_and_changes_nothing(instance):
    for job in ("convert", "note"):
        current = only(instance.external_tasks())
        assert current.element_id == job
        instance.deliver(current.guid, RESULT)
    before = instance.dumps()
    with pytest.raises(ValueError):
        instance.deliver(task_for(instance, "check").guid, RESULT)
    assert instance.dumps() == before and ready_ids(instance) == ["check"]


def test_deliver_to_an_unknown_task_raises(instance):
    with pytest.raises(KeyError):
        instance.deliver("00000000-0000-0000-0000-000000000000", RESULT)


def test_a_result_missing_a_mapped_output_changes_nothing(instance):
    guid = only(instance.external_tasks()).guid
    before = instance.dumps()
    with pytest.raises(engine.StepFailed):
        instance.deliver(guid, {"rate": Decimal("1")})
    assert instance.dumps() == before
    instance.deliver(guid, RESULT)  # a good result still goes through
    assert only(instance.external_tasks()).element_id == "note"


def test_a_result_missing_a_mapped_output_is_a_step_failure(instance):
    with pytest.raises(engine.StepFailed) as info:
        instance.deliver(only(instance.external_tasks()).guid, {"rate": Decimal("1")})
    assert info.value.element_id == "convert"


def test_an_input_parameter_that_raises_fails_the_step_naming_the_task():
    with pytest.raises(engine.StepFailed) as info:
        engine.Instance.start(compile_xml(read("external_io.bpmn")), {"amount": Decimal("1")})
    assert info.value.element_id == "convert"


def note_task(parameter: str) -> str:
    return ('<bpmn:serviceTask id="note" camunda:type="external" camunda:topic="history.note">'
            '<bpmn:extensionElements><camunda:inputOutput>'
            f'<camunda:inputParameter name="text">{parameter}</camunda:inputParameter>'
            '</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>')


def test_composite_parameter_is_refused_at_deploy_naming_the_task_and_the_fix():
    """Text around ${...} is not interpolated: the diagram is refused, and the message shows the one-expression
    form, which does work."""
    with pytest.raises(InvalidDiagram) as info:
        compile_xml(wrap(linear(note_task("Paid ${amount}"))))
    [problem] = info.value.problems
    assert problem.element_id == "note"
    assert "input parameter text mixes text and ${...}" in str(problem)
    assert "${'Paid ' + str(amount)}" in str(problem)
    definition = compile_xml(wrap(linear(note_task("${'Paid ' + str(amount)}"))))
    job = only(engine.Instance.start(definition, {"amount": 5}).external_tasks())
    assert job.params == {"text": "Paid 5"}
