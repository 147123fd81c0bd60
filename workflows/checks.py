"""The vocabulary of deploy-time checks: namespaces, Problem, ISO-8601 tests, sandbox checks of ${...}."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from workflows import expressions

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}
ISO_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")


@dataclass(frozen=True)
class Problem:
    """One reason a diagram cannot be deployed, tied to a BPMN element id where there is one."""

    element_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.element_id or 'diagram'}: {self.message}"


def expression_problems(element_id: str, what: str, text: str | None) -> list[Problem]:
    """A ${...} the sandbox would refuse at run time, reported now (plain text is not an expression)."""
    if not expressions.is_expression(text):
        return []
    try:
        expressions.check(expressions.camunda_to_python(text))
    except expressions.ExpressionError as exc:
        return [Problem(element_id, f"{what} {text!r}: {exc}")]
    return []


def is_iso_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
        return True
    except ValueError:
        return False
