"""Whether a running instance's state can continue on another version of its diagram."""

from __future__ import annotations

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from workflows.compiler import Definition

ACTIVE = TaskState.READY | TaskState.STARTED | TaskState.WAITING  # a task that is waiting for something


def migration_blockers(workflow: BpmnWorkflow, target: Definition) -> list[str]:
    """Why a running workflow's state cannot continue on `target` (empty: it can).

    Every element the state has touched must exist in the target, and unfinished elements must lead
    to the same next elements, so nothing already predicted is left dangling.
    """
    reasons = []
    for task in workflow.get_tasks():
        name, label = task.task_spec.name, task.task_spec.bpmn_id or task.task_spec.name
        new_spec = _spec_in(target, task.workflow.spec.name, name)
        if new_spec is None:
            reasons.append(f"{label} is not in the new version")
        elif type(new_spec) is not type(task.task_spec):
            reasons.append(f"{label} is a different kind of element in the new version")
        elif task.state & ACTIVE and _successors(task.task_spec) != _successors(new_spec):
            reasons.append(f"{label} leads elsewhere in the new version")
    return sorted(set(reasons))


def _spec_in(target: Definition, process_name: str, task_name: str):
    """The task spec of that name in the same process or embedded sub-process of `target`, if any."""
    process = target.spec if process_name == target.spec.name else target.subprocess_specs.get(process_name)
    return process.task_specs.get(task_name) if process is not None else None


def _successors(spec) -> list[str]:
    return sorted(output.name for output in spec.outputs)
