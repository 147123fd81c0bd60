"""The operation registry, the portal's @operation decorator, and the Camunda element templates for the editor."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys

import pytest

from portal.services.workflow import operations as portal_operations
from portal.services.workflow.operations import operation
from tests.support.paths import ROOT
from workflows.operations import Operation, Parameter, Registry

pytestmark = pytest.mark.no_db


def echo(params: dict, context) -> dict:
    return dict(params)


def ping(params: dict, context) -> dict:
    return {}


EXTRA = Operation(topic="test.echo", label="Echo (test)", description="Says it back.", handler=echo,
                  inputs=(Parameter("text", "Text", "${text}"), Parameter("times", "Times", "1", required=False),
                          Parameter("to", "To")), queue="exports")
BARE = Operation(topic="test.ping", label="Ping (test)", description="No inputs.", handler=ping)
BUILTIN = ("fx.convert", "history.note")


@pytest.fixture
def registry() -> Registry:
    """A registry of its own holding the test operations and the portal's built-in ones."""
    registry = Registry()
    for operation_ in (BARE, EXTRA, *(portal_operations.get(topic) for topic in BUILTIN)):
        registry.add(operation_)
    return registry


def _by_binding(template: dict, binding_type: str) -> list[dict]:
    return [p for p in template["properties"] if p["binding"]["type"] == binding_type]


def _hidden(template: dict, name: str) -> dict:
    return next(p for p in template["properties"] if p["binding"] == {"type": "property", "name": name})


def _template(registry: Registry, topic: str) -> dict:
    return next(t for t in registry.element_templates() if t["id"] == f"ledgerflow.{topic}")


# ---------------------------------------------------------------------------- the registry

def test_every_registered_operation_becomes_a_template_in_topic_order(registry):
    assert [t["id"] for t in registry.element_templates()] == [
        "ledgerflow.fx.convert", "ledgerflow.history.note", "ledgerflow.test.echo", "ledgerflow.test.ping"]
    assert registry.topics() == {"fx.convert", "history.note", "test.echo", "test.ping"}


def test_get_known_and_unknown_topics(registry):
    assert registry.get("test.echo") is EXTRA
    with pytest.raises(KeyError, match="unknown operation topic 'nope'"):
        registry.get("nope")


def test_queue_of_a_topic_and_the_default_for_an_unknown_one(registry):
    assert (registry.queue_of("test.echo"), registry.queue_of("test.ping")) == ("exports", "workflow")
    assert registry.queue_of("nope") == "workflow"


def test_a_second_operation_for_a_topic_is_refused(registry):
    with pytest.raises(ValueError, match=r"'test\.echo' is already registered"):
        registry.add(dataclasses.replace(EXTRA, label="Another echo"))
    assert registry.get("test.echo") is EXTRA


def test_temporarily_adds_replaces_and_removes_for_the_block_only(registry):
    louder = dataclasses.replace(EXTRA, label="Echo, louder")
    with registry.temporarily(louder, dataclasses.replace(BARE, topic="test.pong"), without=("test.ping",)):
        assert registry.get("test.echo") is louder
        assert registry.topics() == {"fx.convert", "history.note", "test.echo", "test.pong"}
    assert registry.get("test.echo") is EXTRA
    assert registry.topics() == {"fx.convert", "history.note", "test.echo", "test.ping"}


def test_temporarily_restores_the_registry_when_the_block_raises(registry):
    with pytest.raises(RuntimeError), registry.temporarily(without=("test.echo",)):
        raise RuntimeError("test failed inside the block")
    assert registry.get("test.echo") is EXTRA


@pytest.mark.parametrize(("base", "attempt", "seconds"), [(10, 1, 10), (10, 2, 20), (10, 3, 40), (10, 5, 160),
                                                          (3, 4, 24)])
def test_backoff_doubles(base, attempt, seconds):
    assert dataclasses.replace(EXTRA, backoff_seconds=base).backoff(attempt) == seconds


# ---------------------------------------------------------------------------- element templates

@pytest.mark.parametrize("topic", ["fx.convert", "history.note", "test.echo", "test.ping"])
def test_template_pins_external_type_and_topic_as_hidden_properties(registry, topic):
    template = _template(registry, topic)
    assert template["appliesTo"] == ["bpmn:ServiceTask"]
    operation_ = registry.get(topic)
    assert template["name"] == operation_.label and template["description"] == operation_.description
    implementation, topic_property = _hidden(template, "camunda:type"), _hidden(template, "camunda:topic")
    assert (implementation["type"], implementation["value"]) == ("Hidden", "external")
    assert (topic_property["type"], topic_property["value"]) == ("Hidden", topic)


@pytest.mark.parametrize("topic", ["fx.convert", "history.note", "test.echo", "test.ping"])
def test_one_input_parameter_binding_per_input(registry, topic):
    template = _template(registry, topic)
    bindings = _by_binding(template, "camunda:inputParameter")
    operation_ = registry.get(topic)
    assert [b["binding"]["name"] for b in bindings] == [p.name for p in operation_.inputs]
    assert [(b["label"], b["value"], b["constraints"]["notEmpty"]) for b in bindings] == [
        (p.label, p.default, p.required) for p in operation_.inputs]
    assert len(template["properties"]) == 2 + len(operation_.inputs)


def test_templates_are_json():
    templates = portal_operations.element_templates()
    assert json.loads(json.dumps(templates)) == templates


def test_builtin_fx_convert_inputs(registry):
    template = _template(registry, "fx.convert")
    assert {b["binding"]["name"]: b["value"] for b in _by_binding(template, "camunda:inputParameter")} == {
        "amount": "${amount}", "currency": "${currency}", "on": "${on}"}


# ---------------------------------------------------------------------------- the portal's decorator

def test_a_decorated_function_lands_in_the_portal_registry_and_stays_callable():
    with portal_operations.REGISTRY.temporarily():  # whatever the block registers is gone afterwards
        @operation(topic="test.decorated", label="Decorated (test)", description="Registered by decorator.",
                   inputs=(Parameter("text", "Text"),), outputs=("text",), max_attempts=2, backoff_seconds=7,
                   queue="billing", savepoint=False)
        def decorated(params: dict, context) -> dict:
            return {"text": params["text"]}

        registered = portal_operations.get("test.decorated")
        assert registered.handler is decorated and decorated({"text": "hi"}, None) == {"text": "hi"}
        assert (registered.label, registered.inputs, registered.outputs) == (
            "Decorated (test)", (Parameter("text", "Text"),), ("text",))
        assert (registered.max_attempts, registered.backoff_seconds, registered.savepoint) == (2, 7, False)
        assert portal_operations.queue_of("test.decorated") == "billing"
        assert "test.decorated" in portal_operations.topics()
        assert "ledgerflow.test.decorated" in {t["id"] for t in portal_operations.element_templates()}
    assert "test.decorated" not in portal_operations.topics()


def test_the_decorator_refuses_a_topic_already_taken():
    with portal_operations.REGISTRY.temporarily(), pytest.raises(ValueError, match=r"'fx\.convert' is already"):
        operation(topic="fx.convert", label="Again", description="A second handler.")(echo)
    assert portal_operations.get("fx.convert").handler is portal_operations.convert_to_base


def test_the_builtin_handlers_are_registered_with_their_policies():
    note = portal_operations.get("history.note")
    assert note.handler is portal_operations.history_note
    assert (note.max_attempts, note.savepoint, note.queue) == (1, False, "workflow")
    assert portal_operations.get("fx.convert").outputs == ("base_amount", "rate", "rate_date", "rate_source")


# ---------------------------------------------------------------------------- what the app registers

def _in_fresh_process(code: str) -> str:
    """Run `code` in a new interpreter, where no test has imported any handler module yet."""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _modules_with_handlers() -> set[str]:
    """Every portal module that decorates a handler with @operation (or billing's @proforma_operation)."""
    return {".".join(path.relative_to(ROOT).with_suffix("").parts)
            for path in (ROOT / "portal").rglob("*.py")
            if re.search(r"^@(proforma_)?operation\(", path.read_text(encoding="utf-8"), re.MULTILINE)}


def test_create_app_registers_the_handlers_of_every_module_that_has_some():
    registered = json.loads(_in_fresh_process(
        "import json; from portal import create_app; from portal.services.workflow import operations; "
        "create_app({'LEDGERFLOW_ENV': 'testing', 'SECRET_KEY': 'x' * 32, 'SQLALCHEMY_DATABASE_URI': 'sqlite://', "
        "'REDIS_URL': None, 'RATELIMIT_STORAGE_URI': 'memory://'}); "
        "print(json.dumps({o.topic: [o.handler.__module__, o.handler.__name__, o.queue, o.max_attempts, "
        "o.backoff_seconds] for o in operations.REGISTRY.operations()}))"))
    assert {module for module, *_ in registered.values()} == _modules_with_handlers()
    assert registered == {
        "fx.convert": ["portal.services.workflow.operations", "convert_to_base", "workflow", 3, 10],
        "history.note": ["portal.services.workflow.operations", "history_note", "workflow", 1, 10],
        "proforma.set_state": ["portal.services.billing.drafting", "set_state_operation", "workflow", 3, 10],
        "proforma.redraft": ["portal.services.billing.drafting", "redraft_operation", "integrations", 3, 10],
        "proforma.render_documents": ["portal.services.billing.documents", "render_documents_operation",
                                      "exports", 3, 10],
        "proforma.upload": ["portal.services.billing.delivery", "upload_operation", "integrations", 4, 60],
        "proforma.email": ["portal.services.billing.delivery", "email_operation", "notifications", 5, 30],
        "invoice.issue": ["portal.services.receivables.from_proforma", "issue_invoice_operation", "billing", 3, 10],
    }


def test_every_topic_of_the_shipped_diagrams_is_registered():
    from portal.services.handlers import register_all

    named = {topic for path in (ROOT / "workflows" / "definitions").glob("*.bpmn")
             for topic in re.findall(r'camunda:topic="([^"]+)"', path.read_text(encoding="utf-8"))}
    assert named and named <= register_all().topics()


# ---------------------------------------------------------------------------- workflows/ knows no portal

def test_the_engine_operations_module_names_no_portal_module_not_even_as_a_string():
    assert "portal" not in (ROOT / "workflows" / "operations.py").read_text(encoding="utf-8").lower()


def test_no_engine_module_names_a_portal_module():
    named = {path.name: re.findall(r"\bportal\.[a-z_]", path.read_text(encoding="utf-8"))
             for path in (ROOT / "workflows").rglob("*.py")}
    assert {name: found for name, found in named.items() if found} == {}
