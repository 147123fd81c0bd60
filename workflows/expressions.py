"""Expressions and scripts from diagrams, run in RestrictedPython's sandbox; Camunda `${...}` is accepted."""

from __future__ import annotations

import operator
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import full_write_guard, guarded_iter_unpack_sequence, safer_getattr
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

_EL = re.compile(r"^\s*[$#]\{(.*)\}\s*$", re.S)
_EXTRA_BUILTINS = {"sum": sum, "min": min, "max": max, "any": any, "all": all, "len": len, "sorted": sorted,
                   "list": list, "dict": dict, "set": set, "enumerate": enumerate}
_INPLACE = {"+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
            "//=": operator.ifloordiv, "%=": operator.imod}


class ExpressionError(ValueError):
    """An expression or script the sandbox refuses; the message says why."""


def camunda_to_python(text: str | None) -> str:
    """`${amount > 10000}` and `amount > 10000` both become `amount > 10000`."""
    match = _EL.match(text or "")
    return match.group(1).strip() if match else (text or "").strip()


def is_expression(text: str | None) -> bool:
    return bool(_EL.match(text or ""))


def timer_literal(text: str | None) -> str:
    """A timer body as Spiff evaluates it: plain ISO-8601 (`P2D`) becomes the string literal `'P2D'`, and an
    expression is wrapped so that a date, datetime or timedelta it gives becomes ISO-8601 text."""
    match = _EL.match(text or "")
    return f"iso_timer({match.group(1).strip()})" if match else repr((text or "").strip())


def iso_timer(value) -> str:
    """A timer expression's value as the ISO-8601 text Spiff parses; naive date-times are UTC, like the
    portal's clock (Spiff would read them in the server's local time)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return datetime.combine(value, time(), UTC).isoformat()
    if isinstance(value, timedelta):
        return f"PT{int(value.total_seconds())}S"
    return str(value)


def check(source: str, mode: str = "eval") -> None:
    """Raise ExpressionError if the sandbox would refuse `source` (syntax, imports, dunder access ...)."""
    _compile(source, mode)


_cache: dict[tuple[str, str], object] = {}


def _compile(source: str, mode: str):
    key = (source, mode)
    if key not in _cache:
        compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
        result = compiler(source)
        if result.errors:
            raise ExpressionError("; ".join(result.errors))
        _cache[key] = result.code
    return _cache[key]


def _inplace(op: str, target, value):
    return _INPLACE[op](target, value)


SANDBOX_GLOBALS = {
    "__builtins__": {**safe_builtins, **_EXTRA_BUILTINS},
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _inplace,
    "Decimal": Decimal,
    "date": date,
    "datetime": datetime,
    "timedelta": timedelta,
    "iso_timer": iso_timer,
}


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Evaluates conditions and runs scripts with no imports, no `_` names and guarded attribute access."""

    def __init__(self):
        super().__init__(dict(SANDBOX_GLOBALS))

    def evaluate(self, expression, context, external_context=None):
        return eval(_compile(expression, "eval"), self._scope(context, external_context))  # noqa: S307 - sandboxed

    def execute(self, script, context, external_context=None):
        scope = self._scope(context, external_context)
        exec(_compile(script, "exec"), scope)  # noqa: S102 - sandboxed
        for name, value in scope.items():
            if name not in self.globals and not (external_context and name in external_context) \
                    and not callable(value):
                context[name] = value
        return True

    def call_service(self, context, **kwargs):
        raise NotImplementedError("service tasks run as external jobs, not inside the engine")

    def _scope(self, context, external_context) -> dict:
        return {**self.globals, **(external_context or {}), **context}


class SandboxScriptEngine(PythonScriptEngine):
    """Spiff's script engine on the sandbox; also mends call_service's error path (it raises NameError)."""

    def __init__(self):
        super().__init__(environment=SandboxEnvironment())

    def call_service(self, task, **kwargs):
        try:
            return self.environment.call_service(task.data, **kwargs)
        except Exception as err:
            raise WorkflowTaskException(f"{type(err).__name__}: {err}", task=task, exception=err) from err
