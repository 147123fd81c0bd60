"""Shared helpers for the workflow engine tests: diagrams, rules, save/restore and look-ups."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from portal.services.handlers import register_all
from tests.support.paths import WORKFLOW_DATA
from workflows import engine
from workflows.parser import InvalidDiagram, Rules

DATA = WORKFLOW_DATA
ROLES = {"accountant", "reviewer", "approver", "finance_manager"}
RULES = Rules(topics=register_all().topics(), roles=set(ROLES))

_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  id="defs_test" targetNamespace="http://ledgerflow.example/bpmn">
"""


def wrap(body: str, *, process_id: str = "p", executable: bool = True, messages: tuple[str, ...] = (),
         extra: str = "") -> str:
    """A Camunda 7 file with one process holding `body`; `messages` declares bpmn:message names (id = msg_<name>)."""
    declared = "".join(f'<bpmn:message id="msg_{name}" name="{name}"/>\n' for name in messages)
    flag = "true" if executable else "false"
    return (f'{_HEAD}{declared}<bpmn:process id="{process_id}" isExecutable="{flag}">\n{body}\n</bpmn:process>\n'
            f"{extra}</bpmn:definitions>\n")


def linear(*elements: str) -> str:
    """start → elements (each an XML element with an id) → end, wired by sequence flows in order."""
    ids = ["start"] + [_id_of(e) for e in elements] + ["end"]
    flows = "".join(f'<bpmn:sequenceFlow id="flow_{a}_{b}" sourceRef="{a}" targetRef="{b}"/>\n'
                    for a, b in itertools.pairwise(ids))
    return '<bpmn:startEvent id="start"/>\n' + "\n".join(elements) + '\n<bpmn:endEvent id="end"/>\n' + flows


def _id_of(element: str) -> str:
    return element.split('id="', 1)[1].split('"', 1)[0]


def user_task(element_id: str, attrs: str = 'camunda:candidateGroups="accountant"', inner: str = "") -> str:
    if inner:
        return f'<bpmn:userTask id="{element_id}" {attrs}>{inner}</bpmn:userTask>'
    return f'<bpmn:userTask id="{element_id}" {attrs}/>'


def read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def compile_xml(xml: str) -> engine.Definition:
    return engine.compile_definition(xml, RULES)


def problems(xml: str) -> list[tuple[str, str]]:
    """(element id, message) of every deploy problem; fails the test if the diagram deploys."""
    with pytest.raises(InvalidDiagram) as info:
        engine.compile_definition(xml, RULES)
    return [(p.element_id, p.message) for p in info.value.problems]


def problem_ids(xml: str) -> list[str]:
    return [element_id for element_id, _ in problems(xml)]


def messages_for(found: list[tuple[str, str]], element_id: str) -> str:
    return " | ".join(message for eid, message in found if eid == element_id)


def restored(instance: engine.Instance) -> engine.Instance:
    """Save and load again, as the portal does between two requests."""
    return engine.Instance.load(instance.definition, instance.dumps())


def only(items):
    assert len(items) == 1, items
    return items[0]


def task_for(instance: engine.Instance, element_id: str, now: datetime | None = None) -> engine.UserTaskView:
    return only([t for t in instance.user_tasks(now) if t.element_id == element_id])


def ready_ids(instance: engine.Instance) -> list[str]:
    return sorted(t.element_id for t in instance.user_tasks())


def complete(instance: engine.Instance, element_id: str, values: dict | None = None, user: str = "someone"):
    instance.complete_user_task(task_for(instance, element_id).guid, values or {}, user)


# ---------------------------------------------------------------------------- approval.bpmn end to end

APPROVAL_START = {"currency": "EUR", "on": date(2026, 11, 2)}


def run_approval(amount: Decimal, save_restore: bool) -> list:
    """Drive approval.bpmn to its end (large amounts go through `approve`); record what each step shows."""
    definition = compile_xml(read("approval.bpmn"))
    step = restored if save_restore else (lambda instance: instance)
    log = []
    instance = step(engine.Instance.start(definition, dict(APPROVAL_START)))
    while not instance.is_completed:
        log.append(_snapshot(instance))
        users, jobs = instance.user_tasks(), instance.external_tasks()
        if jobs:
            job = jobs[0]
            result = ({"base_amount": amount * Decimal("1.0845"), "rate": Decimal("1.0845")}
                      if job.topic == "fx.convert" else {"noted": True})
            instance.deliver(job.guid, result)
        else:
            view = users[0]
            values = {"amount": amount} if view.element_id == "prepare" else {"decision": "ok"}
            instance.complete_user_task(view.guid, values, {"prepare": "alice", "review": "bob"}.get(
                view.element_id, "carol"))
        instance = step(instance)
    log.append(_snapshot(instance))
    return log


def _snapshot(instance: engine.Instance) -> dict:
    return {
        "completed": instance.is_completed,
        "markers": instance.markers(),
        "variables": instance.variables(),
        "users": [(t.element_id, t.candidate_roles, t.excluded_users, t.form) for t in instance.user_tasks()],
        "jobs": [(j.element_id, j.topic, j.params) for j in instance.external_tasks()],
        "timers": [t.element_id for t in instance.timers()],
    }


# ---------------------------------------------------------------------------- a clock for Spiff's timers

@dataclass
class Clock:
    """What SpiffWorkflow's timer code believes is the current time (aware UTC)."""

    now: datetime = field(default_factory=lambda: datetime(2026, 5, 1, 9, 0, tzinfo=UTC))

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    @property
    def naive(self) -> datetime:
        return self.now.replace(tzinfo=None)


def frozen_datetime(clock: Clock) -> type:
    class FrozenDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            return clock.now.replace(tzinfo=None) if tz is None else clock.now.astimezone(tz)

    return FrozenDatetime
