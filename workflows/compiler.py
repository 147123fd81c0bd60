"""Compile BPMN diagrams into SpiffWorkflow specs (cached by content), collecting every problem."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from workflows import parser
from workflows.parser import InvalidDiagram, Problem, Rules


@dataclass(frozen=True)
class Definition:
    key: str
    name: str
    spec: object
    subprocess_specs: dict


_definitions: dict[str, Definition] = {}


def compile_definition(bpmn_xml: str, rules: Rules | None = None) -> Definition:
    """Parse and check a diagram; with `rules` every problem is collected and raised as InvalidDiagram."""
    digest = hashlib.sha256(bpmn_xml.encode()).hexdigest()
    if rules is None and digest in _definitions:
        return _definitions[digest]
    root = parser.parse_xml(bpmn_xml)
    problems = parser.lint(root, rules) if rules is not None else []
    keys = [p.get("id") for p in root.findall("bpmn:process", parser.NS)
            if p.get("isExecutable", "true").lower() == "true"]
    if not keys and not problems:
        problems.append(Problem("", "the file contains no executable process"))
    if len(keys) > 1:
        problems.append(Problem(keys[1], "one executable process per file, please"))
    parser.normalise(root)
    spiff = parser.LedgerParser()
    try:
        spiff.add_bpmn_xml(root, filename="diagram.bpmn")
    except Exception as exc:
        if not any(p.message.endswith(parser.UNSUPPORTED) for p in problems):  # else those explain the crash
            problems.append(Problem(keys[0] if keys else "", f"cannot be read: {exc!r}"))
        raise InvalidDiagram(_unique(problems)) from exc
    if not any(p.message.endswith(parser.UNSUPPORTED) for p in problems):  # Spiff may crash on those
        problems += parser.spiff_problems(spiff, keys[:1])
    if problems:
        raise InvalidDiagram(_unique(problems))
    spec = spiff.get_spec(keys[0])
    definition = Definition(keys[0], spec.description or keys[0], spec, spiff.get_subprocess_specs(keys[0]))
    _definitions[digest] = definition
    return definition


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def starter_diagram() -> str:
    """An executable diagram new processes start from (the modeler's blank diagram is not executable)."""
    return (Path(__file__).parent / "definitions" / "starter.bpmn").read_text(encoding="utf-8")


def field_labels(definition: Definition) -> dict[str, str]:
    """The label of every form field of the definition's user tasks, by field id (the first label wins)."""
    labels: dict[str, str] = {}
    specs = [definition.spec, *definition.subprocess_specs.values()]
    for task_spec in (task for spec in specs for task in spec.task_specs.values()):
        for form_field in getattr(getattr(task_spec, "form", None), "fields", None) or []:
            if form_field.label:
                labels.setdefault(form_field.id, form_field.label)
    return labels
