"""The engine facade: compile diagrams, start and load instances, act on them, and say what is waiting."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition as CamundaMessage
from SpiffWorkflow.util.task import TaskIterator, TaskState

from workflows import expressions, parser, serializer
from workflows.compiler import Definition, compile_definition, starter_diagram  # noqa: F401 - the engine API
from workflows.migration import ACTIVE as _ACTIVE
from workflows.parser import (  # noqa: F401 - the engine API
    FOUR_EYES_PROPERTY,
    OUTCOMES_PROPERTY,
    ExternalServiceTask,
    InvalidDiagram,
    LedgerUserTask,
    Problem,
    Rules,
)

ENGINE = expressions.SandboxScriptEngine()


def _lift_iterator_depth_limit() -> None:
    """Spiff's task iterators stop at depth 1000, and every loop round adds a level: a long-running loop
    would look finished. get_tasks() builds the iterators itself, so raise the default (checked, so a Spiff
    upgrade that changes the signature fails here loudly instead of silently)."""
    iterators = ((TaskIterator, (None, 1000, True, None)), (BpmnTaskIterator, (None, 1000, True, False, None)))
    for cls, expected in iterators:
        defaults = cls.__init__.__defaults__
        if defaults not in (expected, tuple(sys.maxsize if d == 1000 else d for d in expected)):
            raise RuntimeError(f"unexpected {cls.__name__} signature in this SpiffWorkflow version: {defaults}")
        cls.__init__.__defaults__ = tuple(sys.maxsize if d == 1000 else d for d in expected)


_lift_iterator_depth_limit()


class StepFailed(RuntimeError):
    """The engine could not go on (a condition or script raised); names the element."""

    def __init__(self, element_id: str, message: str, guid: str = ""):
        super().__init__(f"{element_id}: {message}")
        self.element_id = element_id
        self.message = message
        self.guid = guid  # the task's, where one task is to blame


@dataclass(frozen=True)
class UserTaskView:
    guid: str
    element_id: str
    name: str
    candidate_roles: list[str]
    candidate_users: list[str]
    assignee: str | None
    due_at: datetime | None
    form: list[dict]
    excluded_users: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    four_eyes_elements: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ExternalTaskView:
    guid: str
    element_id: str
    topic: str
    params: dict


@dataclass(frozen=True)
class TimerView:
    guid: str
    element_id: str
    due_at: datetime


class Instance:
    """One process instance in memory; load it, act, then dumps() it back."""

    def __init__(self, definition: Definition, workflow: BpmnWorkflow):
        self.definition = definition
        self.workflow = workflow

    @classmethod
    def new(cls, definition: Definition, variables: dict) -> Instance:
        """A fresh instance with its start variables; call advance() to run it to its first wait state."""
        workflow = BpmnWorkflow(definition.spec, definition.subprocess_specs, script_engine=ENGINE)
        workflow.task_tree.data.update(variables)
        return cls(definition, workflow)

    @classmethod
    def start(cls, definition: Definition, variables: dict) -> Instance:
        instance = cls.new(definition, variables)
        instance.advance()
        return instance

    @classmethod
    def load(cls, definition: Definition, state: str) -> Instance:
        return cls(definition, serializer.loads(state, definition.spec, definition.subprocess_specs, ENGINE))

    def dumps(self) -> str:
        return serializer.dumps(self.workflow)

    @property
    def is_completed(self) -> bool:
        return self.workflow.is_completed()

    # ------------------------------------------------------------------ acting

    def complete_user_task(self, guid: str, values: dict, completed_by: str) -> None:
        task = self._task(guid, TaskState.READY)
        if not isinstance(task.task_spec, LedgerUserTask):
            raise ValueError(f"task {guid} is not a user task")
        task.data.update(values)
        task.internal_data["completed_by"] = completed_by
        task.run()
        self.advance()

    def set_task_variables(self, guid: str, values: dict) -> None:
        """Change variables of a waiting user task (e.g. a total a reviewer's edits changed)."""
        self._task(guid, TaskState.READY).data.update(values)

    def deliver(self, guid: str, result: dict) -> None:
        """Finish an external service task with the operation's result."""
        task = self._task(guid, TaskState.STARTED)
        try:
            task.task_spec.deliver(task, result)
        except Exception as exc:
            raise StepFailed(task.task_spec.bpmn_id, _reason(exc)) from exc
        self.advance()

    def fire_timer(self, guid: str, now: datetime) -> None:
        """Fire a due timer (the portal's clock decides when; catch-up is by state, not by date)."""
        task = self._task(guid, TaskState.WAITING)
        if any(isinstance(d, CycleTimerEventDefinition) for d in _definitions_of(task)):
            # Spiff compares with the machine clock, so the occurrence must be in the past for both clocks.
            moment = min(_aware(now), spiff_timer.datetime.now(UTC)) - timedelta(seconds=1)
            task.internal_data["event_value"]["next"] = moment.isoformat()
        else:
            task.internal_data["event_fired"] = True
        self.workflow.refresh_timers()
        self.advance()

    def message_waiter(self, name: str) -> str | None:
        """The element id of what waits for message `name`, or None."""
        found = self._message_catch(name)
        return found[0].task_spec.bpmn_id or "" if found else None

    def send_message(self, name: str, payload: dict) -> bool:
        """Deliver a named message to what waits for it; False if nothing does."""
        found = self._message_catch(name)
        if found is None:
            return False
        definition = found[1]
        body = {"payload": payload, "result_var": name} if isinstance(definition, CamundaMessage) else payload
        self._guarded(lambda: self.workflow.send_event(BpmnEvent(type(definition)(name), payload=body)))
        self.advance()
        return True

    def _message_catch(self, name: str):
        for task in self.workflow.get_tasks(state=TaskState.WAITING):
            for definition in _definitions_of(task):
                if isinstance(definition, MessageEventDefinition) and definition.name == name:
                    return task, definition
        return None

    def cancel(self) -> None:
        self.workflow.cancel()

    def compact(self, longer_than: int = 60, keep: int = 20) -> int:
        """Drop completed straight-line history above the work still to do; returns how many tasks went.

        SpiffWorkflow keeps every completed task, so loading, stepping and saving a long-running (looping)
        instance would grow with its age. Only a chain where each task is completed and has a single child
        is cut (nothing branches or waits there), the root and start task stay, and the last `keep` tasks of
        the chain stay too. Who did what is kept by the caller (history, task rows), not here.
        """
        chain, node = [], self.workflow.task_tree
        while node.state == TaskState.COMPLETED and len(node._children) == 1:
            chain.append(node)
            node = node.children[0]
        if len(chain) <= longer_than:
            return 0
        start, first_kept, removed = chain[1], chain[-keep], chain[2:-keep]
        for task in removed:
            self.workflow.tasks.pop(task.id, None)
            self.workflow.subprocesses.pop(task.id, None)
        first_kept.data = dict(first_kept.data)  # kept whole: its parent's data is gone
        start._children = [first_kept.id]
        first_kept._parent = start.id
        return len(removed)

    def has_failed_steps(self) -> bool:
        return bool(self.workflow.get_tasks(state=TaskState.ERROR))

    def retry_failed(self, variables: dict | None = None) -> None:
        """Run again the tasks that raised, optionally with corrected variables."""
        def rerun():
            for task in self.workflow.get_tasks(state=TaskState.ERROR):
                task.data.update(variables or {})
                task.run()
            self.workflow.do_engine_steps()

        self._guarded(rerun)

    def advance(self) -> None:
        """Run automatic steps until everything waits (for people, jobs, timers or messages)."""
        self._guarded(self.workflow.do_engine_steps)

    def _guarded(self, step) -> None:
        """Run a step; any failure becomes StepFailed naming the element and the real cause."""
        try:
            step()
        except WorkflowTaskException as exc:
            raise StepFailed(exc.task.task_spec.bpmn_id or "", _reason(exc)) from exc
        except Exception as exc:
            raise StepFailed(self._failing_element(), _reason(exc)) from exc

    def _failing_element(self) -> str:
        """The task that raised, or a just-reached timer whose value could not be worked out."""
        errored = self.workflow.get_tasks(state=TaskState.ERROR)
        timers = [t for t in self.workflow.get_tasks(state=TaskState.NOT_FINISHED_MASK)
                  if "event_value" not in t.internal_data and t.parent is not None
                  and t.parent.state == TaskState.COMPLETED
                  and any(isinstance(d, TimerEventDefinition) for d in _definitions_of(t))]
        found = errored or timers
        return (found[0].task_spec.bpmn_id or "") if found else ""

    def _task(self, guid: str, state: int):
        try:
            task = self.workflow.get_task_from_id(UUID(guid))
        except Exception as exc:
            raise KeyError(f"no task {guid} in this instance") from exc
        if task.state != state:
            raise ValueError(f"task {guid} is {TaskState.get_name(task.state)}, not {TaskState.get_name(state)}")
        return task

    # ------------------------------------------------------------------ what is waiting

    def user_tasks(self, now: datetime | None = None, failures: list | None = None) -> list[UserTaskView]:
        """Ready user tasks. A task whose assignee, candidates or due date cannot be worked out from the case's
        data raises StepFailed naming it, or, given a `failures` list, is left out and its StepFailed (with the
        task's guid) added there."""
        views = []
        for task in self.workflow.get_tasks(state=TaskState.READY, manual=True):
            if not isinstance(task.task_spec, LedgerUserTask):
                continue
            try:
                views.append(self._user_task_view(task, now))
            except StepFailed as exc:
                if failures is None:
                    raise
                failures.append(StepFailed(exc.element_id, exc.message, str(task.id)))
        return views

    def external_tasks(self) -> list[ExternalTaskView]:
        return [ExternalTaskView(str(t.id), t.task_spec.bpmn_id, t.task_spec.topic,
                                 t.internal_data.get("external", {}).get("params", {}))
                for t in self.workflow.get_tasks(state=TaskState.STARTED)
                if isinstance(t.task_spec, ExternalServiceTask)]

    def timers(self) -> list[TimerView]:
        views = []
        for task in self.workflow.get_tasks(state=TaskState.WAITING):
            if any(isinstance(d, TimerEventDefinition) for d in _definitions_of(task)):
                due = _timer_due(task)
                if due is not None:
                    views.append(TimerView(str(task.id), task.task_spec.bpmn_id or "", due))
        return views

    def variables(self) -> dict:
        """The case's current data: the last completed step's, updated by what waiting tasks hold now."""
        if self.is_completed:
            return dict(self.workflow.data)
        last = self.workflow.last_task or self.workflow.task_tree
        current = dict(last.data)
        for task in self.workflow.get_tasks(state=TaskState.READY):
            current.update(task.data)
        return current

    def markers(self) -> dict[str, list[str]]:
        """Element ids by state, for drawing the instance on its diagram."""
        groups = {"completed": set(), "active": set(), "failed": set(), "cancelled": set()}
        for task in self.workflow.get_tasks():
            element_id, marker = task.task_spec.bpmn_id, _marker(task.state)
            if element_id and marker:
                groups[marker].add(element_id)
        groups["completed"] -= groups["active"] | groups["failed"]
        return {name: sorted(ids) for name, ids in groups.items()}

    def completed_by(self, element_ids) -> list[str]:
        """Who completed the user tasks with these element ids in this instance."""
        # get_tasks(state=COMPLETED) skips completed tasks under unfinished ones (e.g. a boundary branch).
        return sorted({t.internal_data["completed_by"] for t in self.workflow.get_tasks()
                       if t.state == TaskState.COMPLETED and t.task_spec.bpmn_id in element_ids
                       and "completed_by" in t.internal_data})

    def _user_task_view(self, task, now: datetime | None) -> UserTaskView:
        try:
            return self._describe_user_task(task, now)
        except Exception as exc:
            raise StepFailed(task.task_spec.bpmn_id, f"cannot set up the task: {_reason(exc)}") from exc

    def _describe_user_task(self, task, now: datetime | None) -> UserTaskView:
        spec = task.task_spec
        roles = spec.candidate_groups or ([parser.role_from_lane(spec.lane)] if spec.lane else [])
        four_eyes = parser.split_list((spec.extensions or {}).get(FOUR_EYES_PROPERTY))
        outcomes = parser.split_list((spec.extensions or {}).get(OUTCOMES_PROPERTY))
        return UserTaskView(
            guid=str(task.id), element_id=spec.bpmn_id, name=spec.bpmn_name or spec.bpmn_id,
            candidate_roles=[r for r in (self._resolve(task, r) for r in roles) if r],
            candidate_users=[u for u in (self._resolve(task, u) for u in spec.candidate_users) if u],
            assignee=self._resolve(task, spec.assignee), due_at=self._due(task, spec.due_date, now),
            form=_form(spec), excluded_users=self.completed_by(four_eyes) if four_eyes else [], outcomes=outcomes,
            four_eyes_elements=four_eyes)

    def _resolve(self, task, text):
        """An attribute's value: a ${...} is evaluated on the task's data (None stays None: not set)."""
        if text and expressions.is_expression(text):
            value = ENGINE.evaluate(task, expressions.camunda_to_python(text))
            return None if value is None else str(value)
        return text

    def _due(self, task, text, now: datetime | None) -> datetime | None:
        value = self._resolve(task, text)
        if not value:
            return None
        if isinstance(value, str) and value.upper().startswith("P"):
            start = _aware(now or datetime.now(UTC))
            delta = TimerEventDefinition.get_timedelta_from_start(TimerEventDefinition.parse_iso_duration(value), start)
            return _naive_utc(start + delta)
        return _naive_utc(datetime.fromisoformat(str(value)))  # naive means UTC, as everywhere in the portal


def _reason(exc: Exception) -> str:
    """The message plus the underlying error, e.g. "Error evaluating ... (NameError: name 'x' is not defined)"."""
    message = str(exc).strip()
    cause = exc.__cause__ or exc.__context__  # Spiff raises its wrapper inside `except`, without `from`
    if cause is not None and str(cause) not in message:
        message = f"{message} ({type(cause).__name__}: {cause})"
    return message


def _definitions_of(task) -> list:
    definition = getattr(task.task_spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        return list(definition.event_definitions)
    return [definition] if definition is not None else []


def _timer_due(task) -> datetime | None:
    value = task.internal_data.get("event_value")
    if isinstance(value, dict):
        value = value.get("next") if value.get("cycles", 0) != 0 else None
    if not value:
        return None
    return _naive_utc(TimerEventDefinition.get_datetime(value))


def _marker(state: int) -> str | None:
    """The diagram marker for a task state; predicted and future tasks are not marked."""
    return {TaskState.COMPLETED: "completed", TaskState.ERROR: "failed", TaskState.CANCELLED: "cancelled"}.get(
        state, "active" if state & _ACTIVE else None)


def _form(spec) -> list[dict]:
    form = getattr(spec, "form", None)
    fields = []
    for f in getattr(form, "fields", []) or []:
        fields.append({
            "id": f.id, "type": f.type, "label": f.label or f.id,
            "default": f.default_value,
            "validation": {v.name: v.config for v in f.validation},
            "options": [{"id": o.id, "name": o.name} for o in getattr(f, "options", [])],
        })
    return fields


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _naive_utc(moment: datetime) -> datetime:
    return _aware(moment).astimezone(UTC).replace(tzinfo=None)
