"""The service operations diagrams may call (camunda:topic): parameters, retry policy and a registry of them.

This package registers no operation itself: the application that embeds the engine keeps one Registry and adds
its handlers to it, so the engine stays free of Flask, SQLAlchemy and the application's modules. The registry is
served to the BPMN editor as Camunda element templates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[dict, Any], dict | None]  # (the task's input parameters, the call's context) -> outputs


@dataclass(frozen=True)
class Parameter:
    """An input of an operation, offered in the editor with its label and default."""

    name: str
    label: str
    default: str = ""
    required: bool = True


@dataclass(frozen=True)
class Operation:
    """A service task a diagram may call by topic: its handler, parameters, retry policy and queue."""

    topic: str
    label: str
    description: str
    handler: Handler
    inputs: tuple[Parameter, ...] = ()
    outputs: tuple[str, ...] = ()
    max_attempts: int = 3
    backoff_seconds: int = 10
    queue: str = "workflow"
    tags: tuple[str, ...] = field(default_factory=tuple)
    # False only for handlers that run no SQL and at most add new rows: no SAVEPOINT around them, and a failing
    # call has the rows it added dropped. Anything that queries or changes rows keeps the SAVEPOINT, which also
    # keeps a database error inside the handler from aborting the whole transaction.
    savepoint: bool = True

    def backoff(self, attempt: int) -> int:
        """Seconds to wait before retry number `attempt` (1-based): doubles each time."""
        return self.backoff_seconds * 2 ** (attempt - 1)


class Registry:
    """The operations an application offers, by topic."""

    def __init__(self) -> None:
        self._operations: dict[str, Operation] = {}

    def add(self, operation: Operation) -> Operation:
        """Register an operation; a second one for the same topic is a mistake, not an override."""
        if operation.topic in self._operations:
            raise ValueError(f"operation topic {operation.topic!r} is already registered")
        self._operations[operation.topic] = operation
        return operation

    def get(self, topic: str) -> Operation:
        """The operation of a topic; KeyError names an unknown one."""
        try:
            return self._operations[topic]
        except KeyError:
            raise KeyError(f"unknown operation topic {topic!r}") from None

    def queue_of(self, topic: str) -> str:
        """The RQ queue a topic's jobs go to; an unknown topic's go to the default queue, whose worker records
        the incident."""
        operation = self._operations.get(topic)
        return operation.queue if operation else Operation.queue

    def topics(self) -> set[str]:
        """Every registered topic (what a diagram may name)."""
        return set(self._operations)

    def operations(self) -> list[Operation]:
        """Every registered operation, by topic."""
        return [self._operations[topic] for topic in sorted(self._operations)]

    def element_templates(self) -> list[dict]:
        """Camunda 7 element templates: analysts pick an operation by its label instead of typing a topic."""
        return element_templates(self.operations())

    @contextmanager
    def temporarily(self, *replacements: Operation, without: tuple[str, ...] = ()) -> Iterator[Registry]:
        """Within the block the replacements are registered (over any of the same topic) and the `without`
        topics are gone; afterwards the registry is as it was (for tests)."""
        saved = dict(self._operations)
        for topic in without:
            self._operations.pop(topic, None)
        self._operations.update((operation.topic, operation) for operation in replacements)
        try:
            yield self
        finally:
            self._operations.clear()
            self._operations.update(saved)


def element_templates(operations: list[Operation]) -> list[dict]:
    """The Camunda 7 element template of each operation."""
    return [_template(operation) for operation in operations]


def _template(operation: Operation) -> dict:
    fixed = [
        {"label": "Implementation", "type": "Hidden", "value": "external",
         "binding": {"type": "property", "name": "camunda:type"}},
        {"label": "Topic", "type": "Hidden", "value": operation.topic,
         "binding": {"type": "property", "name": "camunda:topic"}},
    ]
    inputs = [
        {"label": p.label, "type": "String", "value": p.default,
         "binding": {"type": "camunda:inputParameter", "name": p.name},
         "constraints": {"notEmpty": p.required}}
        for p in operation.inputs
    ]
    return {
        "$schema": "https://unpkg.com/@camunda/element-templates-json-schema/resources/schema.json",
        "name": operation.label, "id": f"ledgerflow.{operation.topic}", "version": 1,
        "description": operation.description, "appliesTo": ["bpmn:ServiceTask"],
        "properties": fixed + inputs,
    }
