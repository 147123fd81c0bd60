"""Deploy-time checks of a user task's due date and form: what the inbox would otherwise fail on at run time."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from workflows import expressions
from workflows.checks import CAMUNDA_NS, ISO_DURATION, NS, Problem, expression_problems, is_iso_datetime


def due_date_problems(element) -> list[Problem]:
    text = (element.get(f"{{{CAMUNDA_NS}}}dueDate") or "").strip()
    if not text or expressions.is_expression(text):
        return expression_problems(element.get("id"), "dueDate", text)
    if ISO_DURATION.match(text) or is_iso_datetime(text):
        return []
    return [Problem(element.get("id"), f"dueDate {text!r} is neither an ISO-8601 duration nor a date and time "
                                       "(e.g. P3D, 2026-12-01T09:00:00Z) nor a ${...} expression")]


FORM_TYPES = {"string", "long", "boolean", "date", "enum", "decimal", "money"}
_NUMBER_CONSTRAINTS, _LENGTH_CONSTRAINTS = {"min", "max"}, {"minlength", "maxlength"}
CONSTRAINTS = {"required", "readonly"} | _NUMBER_CONSTRAINTS | _LENGTH_CONSTRAINTS


def form_problems(element) -> list[Problem]:
    """Form fields the inbox can render and check: known types, and constraints with usable values."""
    problems = []
    for form_field in element.iterfind("./bpmn:extensionElements/camunda:formData/camunda:formField", NS):
        where = f"form field {form_field.get('id') or '(no id)'}"
        if not form_field.get("id"):
            problems.append(Problem(element.get("id"), f"{where} needs an id"))
        kind = form_field.get("type") or "string"
        if kind not in FORM_TYPES:
            problems.append(Problem(element.get("id"), f"{where} has type {kind!r}; the inbox knows "
                                                       f"{', '.join(sorted(FORM_TYPES))}"))
        for constraint in form_field.iterfind("./camunda:validation/camunda:constraint", NS):
            message = _constraint_problem(constraint.get("name") or "", constraint.get("config"))
            if message:
                problems.append(Problem(element.get("id"), f"{where}: {message}"))
    return problems


def _constraint_problem(name: str, config: str | None) -> str:
    if name not in CONSTRAINTS:
        return f"unknown constraint {name!r} (known: {', '.join(sorted(CONSTRAINTS))})"
    if name in _LENGTH_CONSTRAINTS and not (config or "").strip().isdigit():
        return f"{name} needs a whole number, not {config!r}"
    if name in _NUMBER_CONSTRAINTS:
        try:
            if not Decimal((config or "").strip()).is_finite():
                raise InvalidOperation
        except InvalidOperation:
            return f"{name} needs a number, not {config!r}"
    return ""


