"""Instance state ↔ JSON: without the spec (the definition row holds the XML), Decimal and date kept."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.event_definition import MessageEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers.registry import DefaultRegistry
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SERIALIZER_VERSION
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.camunda.serializer.task_spec import UserTaskConverter

from workflows.parser import ExternalServiceTask, LedgerUserTask

VERSION = SERIALIZER_VERSION


class _UserTaskConverter(UserTaskConverter):
    def to_dict(self, spec):
        data = super().to_dict(spec)
        data.update(candidate_groups=spec.candidate_groups, candidate_users=spec.candidate_users,
                    assignee=spec.assignee, due_date=spec.due_date)
        return data


class _ExternalTaskConverter(BpmnTaskSpecConverter):
    def to_dict(self, spec):
        data = self.get_default_attributes(spec)
        data.update(topic=spec.topic, impl_type=spec.impl_type, input_parameters=spec.input_parameters,
                    output_parameters=spec.output_parameters)
        return data


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Leaves the spec out (it is most of the bytes); the caller hands the parsed spec back on load."""

    def to_dict(self, workflow):
        data = WorkflowConverter.to_dict(self, workflow)
        data["spec_name"] = workflow.spec.name
        data["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        data["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return data

    def from_dict(self, data, spec=None, subprocess_specs=None):
        data["spec"] = spec
        data["subprocess_specs"] = subprocess_specs or {}
        return super().from_dict(data)


def _registry():
    registry = DefaultRegistry()
    registry.register(Decimal, lambda value: {"value": str(value)}, lambda data: Decimal(data["value"]))
    registry.register(date, lambda value: {"value": value.isoformat()}, lambda data: date.fromisoformat(data["value"]))
    config = dict(CAMUNDA_CONFIG)
    config.update({LedgerUserTask: _UserTaskConverter, ExternalServiceTask: _ExternalTaskConverter,
                   BpmnWorkflow: _SpeclessWorkflowConverter})
    registry = BpmnWorkflowSerializer.configure(config, registry)
    # Receive tasks use Spiff's base message class, which the Camunda config has no converter for.
    MessageEventDefinitionConverter(MessageEventDefinition, registry, typename="BpmnMessageEventDefinition")
    return registry


_serializer = BpmnWorkflowSerializer(_registry())


def dumps(workflow: BpmnWorkflow) -> str:
    """The instance's state as JSON, without the spec."""
    return _serializer.serialize_json(workflow)


def loads(state: str, spec, subprocess_specs, script_engine) -> BpmnWorkflow:
    """Rebuild a workflow from its state and the parsed spec; the script engine is attached again."""
    data = json.loads(state)
    data.pop(_serializer.VERSION_KEY, None)
    workflow = _serializer.from_dict(data, spec=spec, subprocess_specs=subprocess_specs)
    workflow.script_engine = script_engine
    return workflow
