"""The operation registry and the Camunda element templates served to the BPMN editor."""

from __future__ import annotations

import dataclasses
import json

import pytest

from workflows import operations
from workflows.operations import Operation, Parameter

pytestmark = pytest.mark.no_db

EXTRA = Operation(topic="test.echo", label="Echo (test)", description="Says it back.", handler="tests:echo",
                  inputs=(Parameter("text", "Text", "${text}"), Parameter("times", "Times", "1", required=False),
                          Parameter("to", "To")))
BARE = Operation(topic="test.ping", label="Ping (test)", description="No inputs.", handler="tests:ping")


@pytest.fixture
def registry(monkeypatch) -> dict:
    registered = dict(operations.OPERATIONS)
    monkeypatch.setattr(operations, "OPERATIONS", registered)
    operations.register(EXTRA)
    operations.register(BARE)
    return registered


def _by_binding(template: dict, binding_type: str) -> list[dict]:
    return [p for p in template["properties"] if p["binding"]["type"] == binding_type]


def _hidden(template: dict, name: str) -> dict:
    return next(p for p in template["properties"] if p["binding"] == {"type": "property", "name": name})


def test_every_registered_operation_becomes_a_template(registry):
    templates = operations.element_templates()
    assert [t["id"] for t in templates] == [f"ledgerflow.{topic}" for topic in registry]
    assert {"ledgerflow.fx.convert", "ledgerflow.history.note", "ledgerflow.test.echo"} <= {t["id"] for t in templates}


@pytest.mark.parametrize("topic", ["fx.convert", "history.note", "test.echo", "test.ping"])
def test_template_pins_external_type_and_topic_as_hidden_properties(registry, topic):
    template = next(t for t in operations.element_templates() if t["id"] == f"ledgerflow.{topic}")
    assert template["appliesTo"] == ["bpmn:ServiceTask"]
    assert template["name"] == registry[topic].label and template["description"] == registry[topic].description
    implementation, topic_property = _hidden(template, "camunda:type"), _hidden(template, "camunda:topic")
    assert (implementation["type"], implementation["value"]) == ("Hidden", "external")
    assert (topic_property["type"], topic_property["value"]) == ("Hidden", topic)


@pytest.mark.parametrize("topic", ["fx.convert", "history.note", "test.echo", "test.ping"])
def test_one_input_parameter_binding_per_input(registry, topic):
    template = next(t for t in operations.element_templates() if t["id"] == f"ledgerflow.{topic}")
    bindings = _by_binding(template, "camunda:inputParameter")
    operation = registry[topic]
    assert [b["binding"]["name"] for b in bindings] == [p.name for p in operation.inputs]
    assert [(b["label"], b["value"], b["constraints"]["notEmpty"]) for b in bindings] == [
        (p.label, p.default, p.required) for p in operation.inputs]
    assert len(template["properties"]) == 2 + len(operation.inputs)


def test_templates_are_json():
    assert json.loads(json.dumps(operations.element_templates())) == operations.element_templates()


def test_builtin_fx_convert_inputs():
    template = next(t for t in operations.element_templates() if t["id"] == "ledgerflow.fx.convert")
    assert {b["binding"]["name"]: b["value"] for b in _by_binding(template, "camunda:inputParameter")} == {
        "amount": "${amount}", "currency": "${currency}", "on": "${on}"}


@pytest.mark.parametrize(("base", "attempt", "seconds"), [(10, 1, 10), (10, 2, 20), (10, 3, 40), (10, 5, 160),
                                                          (3, 4, 24)])
def test_backoff_doubles(base, attempt, seconds):
    assert dataclasses.replace(EXTRA, backoff_seconds=base).backoff(attempt) == seconds


def test_get_known_and_unknown_topics():
    assert operations.get("fx.convert").topic == "fx.convert"
    with pytest.raises(KeyError, match="nope"):
        operations.get("nope")
