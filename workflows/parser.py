"""Camunda 7 BPMN → SpiffWorkflow specs, and deploy-time validation listing every problem by element id."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.bpmn_spec_mixin import BpmnSpecMixin
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask as ServiceTaskMixin
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.parser.task_spec import CamundaTaskParser, UserTaskParser
from SpiffWorkflow.camunda.specs.user_task import UserTask as CamundaUserTask
from SpiffWorkflow.util.task import TaskState

from workflows import expressions
from workflows.checks import (
    BPMN_NS,
    CAMUNDA_NS,
    ISO_DURATION,
    NS,
    Problem,
    expression_problems,
    is_iso_datetime,
)
from workflows.task_rules import due_date_problems, form_problems

FOUR_EYES_PROPERTY = "fourEyesExcludes"
OUTCOMES_PROPERTY = "outcomes"  # e.g. "approved,rejected": one button each in the inbox

# Flow elements the engine runs; anything else inside a process is refused at deploy.
SUPPORTED = {
    "startEvent", "endEvent", "userTask", "serviceTask", "scriptTask", "manualTask", "task", "receiveTask",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "intermediateCatchEvent",
    "intermediateThrowEvent", "boundaryEvent", "sequenceFlow", "subProcess", "laneSet", "textAnnotation",
    "association", "dataObject", "dataObjectReference", "dataStoreReference",
}
# Every BPMN flow node; those not in SUPPORTED are refused (documentation, incoming, ... are not flow nodes).
FLOW_NODES = SUPPORTED | {
    "complexGateway", "businessRuleTask", "sendTask", "callActivity", "transaction", "adHocSubProcess",
    "implicitThrowEvent", "choreographyTask", "subChoreography", "callChoreography",
}
UNSUPPORTED = "is not supported by the engine"
_ISO_CYCLE = re.compile(r"^R\d*/")


class InvalidDiagram(ValueError):
    """The diagram has problems; `problems` lists every one."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class LedgerUserTask(CamundaUserTask):
    """A Camunda user task plus who may do it and when it is due (plain JSON values, serializable)."""

    def __init__(self, wf_spec, bpmn_id, form=None, candidate_groups=None, candidate_users=None,
                 assignee=None, due_date=None, **kwargs):
        super().__init__(wf_spec, bpmn_id, form, **kwargs)
        self.candidate_groups = candidate_groups or []
        self.candidate_users = candidate_users or []
        self.assignee = assignee
        self.due_date = due_date


class ExternalServiceTask(ServiceTaskMixin, BpmnSpecMixin):
    """camunda:type="external": the engine parks the task STARTED and a worker job completes it."""

    def __init__(self, wf_spec, bpmn_id, topic=None, impl_type=None, input_parameters=None,
                 output_parameters=None, **kwargs):
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.topic = topic
        self.impl_type = impl_type
        self.input_parameters = input_parameters or {}
        self.output_parameters = output_parameters or {}

    def _run_hook(self, my_task):
        engine = my_task.workflow.script_engine
        params = {name: (engine.evaluate(my_task, expr) if expr else None)
                  for name, expr in self.input_parameters.items()}
        my_task.internal_data["external"] = {"topic": self.topic, "params": params}
        return None  # None: Task.run() leaves the task STARTED until deliver()

    def deliver(self, my_task, result: dict) -> None:
        """Map the job's result into task data and complete; mapping first, so a failure completes nothing."""
        if my_task.state != TaskState.STARTED:
            raise ValueError(f"task {my_task.id} is {TaskState.get_name(my_task.state)}, not STARTED")
        env = my_task.workflow.script_engine.environment
        outputs = ({name: env.evaluate(expr, dict(result)) for name, expr in self.output_parameters.items()}
                   if self.output_parameters else dict(result))
        my_task.data.update(outputs)
        my_task.complete()


def split_list(value: str | None) -> list[str]:
    """"a, b ,c" → ["a", "b", "c"] (Camunda lists: candidate groups, property values)."""
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


class _UserTaskParser(UserTaskParser):
    def create_task(self):
        return self.spec_class(
            self.spec, self.bpmn_id, form=self.get_form(),
            candidate_groups=split_list(self.attribute("candidateGroups", "camunda")),
            candidate_users=split_list(self.attribute("candidateUsers", "camunda")),
            assignee=self.attribute("assignee", "camunda"), due_date=self.attribute("dueDate", "camunda"),
            **self.bpmn_attributes)


class _ServiceTaskParser(CamundaTaskParser):
    def create_task(self):
        topic = self.attribute("topic", "camunda")
        impl_type = self.attribute("type", "camunda")
        if impl_type != "external" or not topic:
            self.raise_validation_exception('a service task needs camunda:type="external" and a camunda:topic')
        io = "./bpmn:extensionElements/camunda:inputOutput/camunda:"
        inputs = {p.get("name"): _parameter(p) for p in self.xpath(io + "inputParameter")}
        outputs = {p.get("name"): _parameter(p) for p in self.xpath(io + "outputParameter")}
        return self.spec_class(self.spec, self.bpmn_id, topic=topic, impl_type=impl_type,
                               input_parameters=inputs, output_parameters=outputs, **self.bpmn_attributes)


def _parameter(node) -> str | None:
    """A parameter as a Python expression: `${x}` → `x`; a literal → its string literal."""
    if node.text is None:
        return None
    return expressions.camunda_to_python(node.text) if expressions.is_expression(node.text) else repr(node.text.strip())


class LedgerParser(CamundaParser):
    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("userTask"): (_UserTaskParser, LedgerUserTask),
        full_tag("serviceTask"): (_ServiceTaskParser, ExternalServiceTask),
    }


def parse_xml(bpmn_xml: str | bytes):
    """The XML tree, parsed safely (no entities, no network); raises InvalidDiagram on bad XML."""
    data = bpmn_xml.encode() if isinstance(bpmn_xml, str) else bpmn_xml
    try:
        return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise InvalidDiagram([Problem("", f"not well-formed XML: {exc}")]) from exc


def normalise(root) -> None:
    """Rewrite conditions and timers to what Spiff evaluates (`${x}` → `x`, `P2D` → `'P2D'`)."""
    for condition in root.iterfind(".//bpmn:conditionExpression", NS):
        condition.text = expressions.camunda_to_python(condition.text)
    for tag in ("timeDuration", "timeDate", "timeCycle"):
        for timer in root.iterfind(f".//bpmn:{tag}", NS):
            timer.text = expressions.timer_literal(timer.text)


@dataclass
class Rules:
    """What the deploying portal knows: operation topics and role codes."""

    topics: set[str] = field(default_factory=set)
    roles: set[str] = field(default_factory=set)


def lint(root, rules: Rules) -> list[Problem]:
    """Every problem visible in the XML itself, before Spiff parses it."""
    processes = root.findall("bpmn:process", NS)
    executable = [p for p in processes if p.get("isExecutable", "true").lower() == "true"]
    problems = [] if executable else [
        Problem(p.get("id", ""), "the process is not executable (tick 'Executable' / isExecutable=\"true\")")
        for p in processes] or [Problem("", "the file contains no process")]
    for process in executable:
        lanes = _lane_names(process)
        for element in process.iter(f"{{{BPMN_NS}}}*"):
            problems += _element_problems(element, process, lanes, rules)
    return problems


def _element_problems(element, process, lanes: dict, rules: Rules) -> list[Problem]:
    tag, element_id = etree.QName(element).localname, element.get("id", "")
    if tag in FLOW_NODES and tag not in SUPPORTED:
        return [Problem(element_id, f"{tag} {UNSUPPORTED}")]
    checks = {"serviceTask": _service_task, "userTask": _user_task, "conditionExpression": _condition,
              "timeDuration": _timer, "timeDate": _timer, "timeCycle": _timer, "script": _script,
              "boundaryEvent": _cycle_branch}
    check = checks.get(tag)
    return check(element, lanes, rules, process) if check else []


def _service_task(element, lanes, rules, process) -> list[Problem]:
    element_id = element.get("id")
    if element.get(f"{{{CAMUNDA_NS}}}type") != "external":
        return [Problem(element_id, 'service tasks must be camunda:type="external" with a topic (an operation)')]
    topic = element.get(f"{{{CAMUNDA_NS}}}topic") or ""
    if topic not in rules.topics:
        return [Problem(element_id, f"unknown topic {topic!r}; operations are: {', '.join(sorted(rules.topics))}")]
    return _parameter_problems(element)


def _parameter_problems(element) -> list[Problem]:
    """A parameter is either plain text or one ${...} expression; `Paid ${amount}` would pass unchanged."""
    problems = []
    for parameter in element.xpath(".//camunda:inputParameter | .//camunda:outputParameter", namespaces=NS):
        text = (parameter.text or "").strip()
        what = f"{etree.QName(parameter).localname.replace('Parameter', '')} parameter {parameter.get('name')}"
        if "${" in text and not expressions.is_expression(text):
            problems.append(Problem(element.get("id"), f"{what} mixes text and ${{...}}; write one "
                                                       f"expression instead, e.g. ${{'Paid ' + str(amount)}}"))
        else:
            problems += expression_problems(element.get("id"), what, text)
    return problems


def _script(element, lanes, rules, process) -> list[Problem]:
    try:
        expressions.check(element.text or "", "exec")
    except expressions.ExpressionError as exc:
        return [Problem(element.getparent().get("id", ""), f"script: {exc}")]
    return []


def _cycle_branch(element, lanes, rules, process) -> list[Problem]:
    """A non-interrupting cycle timer must not open tasks for people: Spiff 3.2 drops them, unseen, when
    the task it is attached to completes. Automatic steps (service tasks, e.g. a reminder mail) are fine."""
    cycle = element.find("bpmn:timerEventDefinition/bpmn:timeCycle", NS)
    if cycle is None or element.get("cancelActivity", "true").lower() != "false":
        return []
    flows = {f.get("id"): f for f in process.iter(f"{{{BPMN_NS}}}sequenceFlow")}
    nodes = {n.get("id"): n for n in process.iter() if n.get("id")}
    seen, todo = set(), [f.get("targetRef") for f in flows.values() if f.get("sourceRef") == element.get("id")]
    while todo:
        node_id = todo.pop()
        if node_id in seen or node_id not in nodes:
            continue
        seen.add(node_id)
        if etree.QName(nodes[node_id]).localname in ("userTask", "receiveTask", "manualTask"):
            return [Problem(element.get("id"), "a non-interrupting cycle timer cannot open tasks for people "
                                               f"(it leads to {node_id}); send a reminder with a service task, "
                                               "or use a non-interrupting duration timer")]
        todo += [f.get("targetRef") for f in flows.values() if f.get("sourceRef") == node_id]
    return []


def _user_task(element, lanes, rules, process) -> list[Problem]:
    element_id = element.get("id")
    groups = split_list(element.get(f"{{{CAMUNDA_NS}}}candidateGroups"))
    users = [*split_list(element.get(f"{{{CAMUNDA_NS}}}candidateUsers")),
             *split_list(element.get(f"{{{CAMUNDA_NS}}}assignee"))]
    lane = lanes.get(element_id)
    roles = groups or ([role_from_lane(lane)] if lane else [])
    problems = [Problem(element_id, f"unknown role {role!r} (candidate groups and lanes name roles: "
                                    f"{', '.join(sorted(rules.roles))})")
                for role in roles if role not in rules.roles and not expressions.is_expression(role)]
    if not roles and not users:
        problems.append(Problem(element_id, "nobody can do this task: set candidate groups or users, "
                                            "an assignee, or put it in a lane named after a role"))
    for attribute in ("candidateGroups", "candidateUsers", "assignee"):
        problems += expression_problems(element_id, attribute, element.get(f"{{{CAMUNDA_NS}}}{attribute}"))
    return problems + due_date_problems(element) + form_problems(element) + _four_eyes_problems(element, process)


def _four_eyes_problems(element, process) -> list[Problem]:
    xpath = f"./bpmn:extensionElements/camunda:properties/camunda:property[@name='{FOUR_EYES_PROPERTY}']"
    task_ids = {t.get("id") for t in process.iter(f"{{{BPMN_NS}}}userTask")}
    return [Problem(element.get("id"), f"{FOUR_EYES_PROPERTY} names {ref!r}, which is not a user task here")
            for prop in element.xpath(xpath, namespaces=NS) for ref in split_list(prop.get("value"))
            if ref not in task_ids]


def _condition(element, lanes, rules, process) -> list[Problem]:
    try:
        expressions.check(expressions.camunda_to_python(element.text))
    except expressions.ExpressionError as exc:
        return [Problem(element.getparent().get("id", ""), f"condition {element.text!r}: {exc}")]
    return []


def _timer(element, lanes, rules, process) -> list[Problem]:
    owner = element.getparent().getparent().get("id", "")
    text, kind = (element.text or "").strip(), etree.QName(element).localname
    if expressions.is_expression(text):
        try:
            expressions.check(expressions.camunda_to_python(text))
            return []
        except expressions.ExpressionError as exc:
            return [Problem(owner, f"timer {text!r}: {exc}")]
    if _TIMER_FORMATS[kind](text):
        return []
    return [Problem(owner, f"{kind} {text!r} is not ISO-8601 (e.g. P2D, 2026-12-01T09:00:00Z, R3/PT1H)")]


def _is_iso_cycle(text: str) -> bool:
    if not _ISO_CYCLE.match(text):
        return False
    try:
        TimerEventDefinition.parse_iso_recurring_interval(text)
        return True
    except Exception:
        return False


_TIMER_FORMATS = {
    "timeDuration": lambda text: bool(ISO_DURATION.match(text)),
    "timeCycle": _is_iso_cycle,
    "timeDate": is_iso_datetime,
}


def _lane_names(process) -> dict[str, str]:
    """element id → name of the innermost lane holding it."""
    names = {}
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        for ref in lane.findall("bpmn:flowNodeRef", NS):
            names[(ref.text or "").strip()] = lane.get("name", "")
    return names


def role_from_lane(lane_name: str) -> str:
    """'Finance manager' → 'finance_manager': lanes name roles the way people write them."""
    return re.sub(r"[\s-]+", "_", lane_name.strip()).lower()


def spiff_problems(parser: LedgerParser, process_ids: list[str]) -> list[Problem]:
    """Problems Spiff finds while building specs (one per process at most: it stops at the first)."""
    problems = []
    for process_id in process_ids:
        try:
            parser.get_spec(process_id)
        except ValidationException as exc:
            problems.append(Problem(exc.id or process_id, exc.args[0].strip()))
        except Exception as exc:
            problems.append(Problem(process_id, f"cannot be read: {type(exc).__name__}: {exc}"))
    return problems
