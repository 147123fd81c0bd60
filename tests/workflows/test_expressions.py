"""Conditions and scripts: Camunda `${...}` and plain Python both work, inside RestrictedPython's sandbox."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.engine import compile_xml, linear, problem_ids, ready_ids, user_task, wrap
from workflows import engine, expressions

pytestmark = pytest.mark.no_db


def _router(condition: str) -> engine.Definition:
    """start → gw → big (when condition) | small (default)."""
    body = f"""<bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="gw"/>
    <bpmn:exclusiveGateway id="gw" default="f_small"/>
    <bpmn:sequenceFlow id="f_big" sourceRef="gw" targetRef="big">
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_small" sourceRef="gw" targetRef="small"/>
    {user_task("big")}{user_task("small")}
    <bpmn:sequenceFlow id="f1" sourceRef="big" targetRef="end"/>
    <bpmn:sequenceFlow id="f2" sourceRef="small" targetRef="end"/>
    <bpmn:endEvent id="end"/>"""
    return compile_xml(wrap(body))


@pytest.mark.parametrize("condition", ["${amount &gt; 10000}", "amount &gt; 10000", "  ${ amount &gt; 10000 }  ",
                                       "#{amount &gt; 10000}"])
@pytest.mark.parametrize(("amount", "expected"), [(Decimal("10000.01"), "big"), (Decimal("10000"), "small"),
                                                  (5, "small"), (20000, "big")])
def test_condition_routes_at_exclusive_gateway(condition, amount, expected):
    instance = engine.Instance.start(_router(condition), {"amount": amount})
    assert ready_ids(instance) == [expected]


def test_decimal_arithmetic_in_conditions():
    definition = _router("${amount * Decimal('1.0845') &gt; Decimal('10000')}")
    assert ready_ids(engine.Instance.start(definition, {"amount": Decimal("9221")})) == ["big"]
    assert ready_ids(engine.Instance.start(definition, {"amount": Decimal("9220")})) == ["small"]


def test_conditions_can_use_aggregates_over_lines():
    definition = _router("${sum(line['total'] for line in lines) &gt; 100}")
    lines = [{"total": Decimal("60")}, {"total": Decimal("40.01")}]
    assert ready_ids(engine.Instance.start(definition, {"lines": lines})) == ["big"]


@pytest.mark.parametrize(("text", "python"), [("${amount > 1}", "amount > 1"), ("amount > 1", "amount > 1"),
                                              ("#{ok}", "ok"), (None, ""), ("  x  ", "x")])
def test_camunda_to_python(text, python):
    assert expressions.camunda_to_python(text) == python


@pytest.mark.parametrize(("text", "python"), [("P2D", "'P2D'"), (" PT1H ", "'PT1H'"), ("${due}", "iso_timer(due)"),
                                              ("R2/PT1H", "'R2/PT1H'")])
def test_timer_literal(text, python):
    assert expressions.timer_literal(text) == python


# ---------------------------------------------------------------------------- the sandbox

@pytest.mark.parametrize("source", ["__import__('os')", "().__class__", "().__class__.__bases__[0].__subclasses__()",
                                    "amount.__class__", "__builtins__", "eval('1')", "exec('x = 1')",
                                    "_getattr_(amount, 'real')"])
def test_sandbox_refuses_at_compile_time(source):
    with pytest.raises(expressions.ExpressionError):
        expressions.check(source)


@pytest.mark.parametrize("source", ["open('/etc/passwd').read()", "getattr(amount, 'real')", "type(amount)",
                                    "globals()", "vars()", "compile('1', 'x', 'eval')"])
def test_sandbox_has_no_dangerous_builtins(source):
    with pytest.raises(NameError):
        expressions.SandboxEnvironment().evaluate(source, {"amount": Decimal("1")})


@pytest.mark.parametrize("source", ["'{0.__class__}'.format(amount)", "'{a}'.format_map({'a': amount})",
                                    "str.format('{0.__class__}', amount)"])
def test_sandbox_refuses_str_format(source):
    with pytest.raises(NotImplementedError):
        expressions.SandboxEnvironment().evaluate(source, {"amount": Decimal("1")})


def test_sandbox_refuses_imports_in_scripts():
    with pytest.raises(ImportError):
        expressions.SandboxEnvironment().execute("import os\nx = os.getcwd()", {})


def test_open_in_a_condition_fails_the_step():
    with pytest.raises(engine.StepFailed) as info:
        engine.Instance.start(_router("${open('/etc/passwd') is not None}"), {})
    assert info.value.element_id == "gw"


def _script(source: str) -> str:
    return wrap(linear(f'<bpmn:scriptTask id="calc" scriptFormat="python"><bpmn:script>{source}</bpmn:script>'
                       '</bpmn:scriptTask>', user_task("after")))


def test_dunder_in_a_script_task_fails_the_step():
    """Deploy refuses it (below); a stored definition is compiled without rules, and the sandbox still holds."""
    with pytest.raises(engine.StepFailed) as info:
        engine.Instance.start(engine.compile_definition(_script("x = ().__class__")), {})
    assert info.value.element_id == "calc" and "__class__" in info.value.message


def test_script_the_sandbox_refuses_is_a_deploy_problem():
    assert problem_ids(_script("x = ().__class__")) == ["calc"]


def test_script_task_can_loop_and_assign():
    script = """<bpmn:scriptTask id="calc" scriptFormat="python"><bpmn:script>
total = Decimal('0')
count = 0
for line in lines:
    total += line['qty'] * line['price']
    count += 1
big = [line['sku'] for line in lines if line['price'] &gt; 5]
</bpmn:script></bpmn:scriptTask>"""
    lines = [{"sku": "A", "qty": 2, "price": Decimal("1.25")}, {"sku": "B", "qty": 1, "price": Decimal("10.10")}]
    instance = engine.Instance.start(compile_xml(wrap(linear(script, user_task("after")))), {"lines": lines})
    variables = instance.variables()
    assert (variables["total"], variables["count"], variables["big"]) == (Decimal("12.60"), 2, ["B"])
    assert isinstance(variables["total"], Decimal)


def test_script_helpers_are_not_copied_into_task_data():
    definition = compile_xml(_script("def double(x):\n    return x * 2\ny = double(21)"))
    variables = engine.Instance.start(definition, {}).variables()
    assert variables["y"] == 42
    assert "double" not in variables and "Decimal" not in variables and "__builtins__" not in variables
