"""The shipped diagrams are readable: one shape per node, left to right, no overlaps, no edges through shapes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from lxml import etree

from tests.support.paths import ROOT

pytestmark = pytest.mark.no_db

SHIPPED = sorted((ROOT / "workflows" / "definitions").glob("*.bpmn"))
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC",
      "di": "http://www.omg.org/spec/DD/20100524/DI"}
# A point this close to a border counts as on it: bpmn-js writes whole pixels, and rounds half ones.
TOLERANCE = 1.0
CONTAINERS = {"subProcess", "callActivity", "transaction", "adHocSubProcess"}


@dataclass(frozen=True)
class Box:
    """A shape's or label's rectangle, as dc:Bounds gives it."""

    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.width / 2, self.y + self.height / 2


@dataclass
class Diagram:
    """What the checks need from a BPMN file: the process graph and its diagram interchange (DI)."""

    nodes: dict[str, str] = field(default_factory=dict)  # flow node id -> element kind (startEvent, userTask…)
    flows: dict[str, tuple[str, str]] = field(default_factory=dict)  # sequence flow id -> (source, target)
    hosts: dict[str, str] = field(default_factory=dict)  # boundary event id -> the activity it is attached to
    shapes: dict[str, list[Box]] = field(default_factory=dict)  # element id -> its BPMNShape bounds
    edges: dict[str, list[list[tuple[float, float]]]] = field(default_factory=dict)  # flow id -> waypoints per edge
    labels: list[tuple[str, Box]] = field(default_factory=list)  # (DI element id, label bounds)

    def box(self, element_id: str) -> Box | None:
        """The element's (first) shape, or None when it has none."""
        found = self.shapes.get(element_id)
        return found[0] if found else None


def _local(element) -> str:
    return etree.QName(element).localname


def _is_flow_node(kind: str) -> bool:
    return kind.endswith(("Event", "Task", "Gateway")) or kind in CONTAINERS or kind == "task"


def _bounds(element) -> Box:
    return Box(*(float(element.get(name)) for name in ("x", "y", "width", "height")))


def read_diagram(xml: bytes) -> Diagram:
    """Parse a BPMN file's process and its DI plane into a Diagram."""
    root = etree.fromstring(xml)
    diagram = Diagram()
    for process in root.iterfind("bpmn:process", NS):
        for element in process.iter(etree.Element):
            kind = _local(element)
            if kind == "sequenceFlow":
                diagram.flows[element.get("id")] = (element.get("sourceRef"), element.get("targetRef"))
            elif etree.QName(element).namespace == NS["bpmn"] and _is_flow_node(kind):
                diagram.nodes[element.get("id")] = kind
                if element.get("attachedToRef"):
                    diagram.hosts[element.get("id")] = element.get("attachedToRef")
    for shape in root.iterfind(".//bpmndi:BPMNShape", NS):
        diagram.shapes.setdefault(shape.get("bpmnElement"), []).append(_bounds(shape.find("dc:Bounds", NS)))
    for edge in root.iterfind(".//bpmndi:BPMNEdge", NS):
        points = [(float(p.get("x")), float(p.get("y"))) for p in edge.iterfind("di:waypoint", NS)]
        diagram.edges.setdefault(edge.get("bpmnElement"), []).append(points)
    for label in root.iterfind(".//bpmndi:BPMNLabel", NS):
        diagram.labels.append((label.getparent().get("id"), _bounds(label.find("dc:Bounds", NS))))
    return diagram


# ------------------------------------------------------------------------------------------------ geometry


def interiors_overlap(a: Box, b: Box) -> bool:
    """Whether two rectangles share more than a border."""
    return a.x < b.right and b.x < a.right and a.y < b.bottom and b.y < a.bottom


def on_border(point: tuple[float, float], box: Box) -> bool:
    """Whether the point lies on the rectangle's outline (within TOLERANCE)."""
    x, y = point
    near_x = box.x - TOLERANCE <= x <= box.right + TOLERANCE
    near_y = box.y - TOLERANCE <= y <= box.bottom + TOLERANCE
    on_side = min(abs(x - box.x), abs(x - box.right)) <= TOLERANCE and near_y
    on_top_or_bottom = min(abs(y - box.y), abs(y - box.bottom)) <= TOLERANCE and near_x
    return on_side or on_top_or_bottom


def segment_enters(start: tuple[float, float], end: tuple[float, float], box: Box) -> bool:
    """Whether the segment passes through the rectangle's interior (Liang-Barsky clipping; touching is fine)."""
    inner = Box(box.x + TOLERANCE, box.y + TOLERANCE, box.width - 2 * TOLERANCE, box.height - 2 * TOLERANCE)
    t_in, t_out = 0.0, 1.0
    for origin, delta, low, high in ((start[0], end[0] - start[0], inner.x, inner.right),
                                     (start[1], end[1] - start[1], inner.y, inner.bottom)):
        if delta == 0:
            if not low < origin < high:
                return False
            continue
        first, second = sorted(((low - origin) / delta, (high - origin) / delta))
        t_in, t_out = max(t_in, first), min(t_out, second)
    return t_in < t_out


def segments(points: list[tuple[float, float]]):
    """An edge's consecutive waypoint pairs."""
    return itertools.pairwise(points)


# ------------------------------------------------------------------------------------------------ checks
# Each check returns a list of readable problems; an empty list means the diagram passes it.


def missing_or_doubled(diagram: Diagram) -> list[str]:
    """Flow nodes without exactly one shape, sequence flows without exactly one edge."""
    problems = [f"{node} has {len(diagram.shapes.get(node, []))} shapes" for node in diagram.nodes
                if len(diagram.shapes.get(node, [])) != 1]
    problems += [f"{flow} has {len(diagram.edges.get(flow, []))} edges" for flow in diagram.flows
                 if len(diagram.edges.get(flow, [])) != 1]
    return problems


def overlapping_shapes(diagram: Diagram) -> list[str]:
    """Pairs of shapes whose rectangles overlap; a boundary event may (and must) overlap its host."""
    placed = [(element, boxes[0]) for element, boxes in diagram.shapes.items() if element in diagram.nodes]
    problems = []
    for index, (first, first_box) in enumerate(placed):
        for second, second_box in placed[index + 1:]:
            attached = diagram.hosts.get(first) == second or diagram.hosts.get(second) == first
            if not attached and interiors_overlap(first_box, second_box):
                problems.append(f"{first} overlaps {second}")
    return problems


def detached_boundary_events(diagram: Diagram) -> list[str]:
    """Boundary events whose centre is not on their host's border."""
    return [f"{event} is not on the border of {host}" for event, host in diagram.hosts.items()
            if diagram.box(event) and diagram.box(host) and not on_border(diagram.box(event).centre, diagram.box(host))]


def loose_edge_ends(diagram: Diagram) -> list[str]:
    """Edges that do not start on their source's border or do not end on their target's."""
    problems = []
    for flow, (source, target) in diagram.flows.items():
        for points in diagram.edges.get(flow, []):
            if diagram.box(source) and not on_border(points[0], diagram.box(source)):
                problems.append(f"{flow} does not start on the border of {source}")
            if diagram.box(target) and not on_border(points[-1], diagram.box(target)):
                problems.append(f"{flow} does not end on the border of {target}")
    return problems


def edges_through_shapes(diagram: Diagram) -> list[str]:
    """Edges with a segment through the interior of a shape other than their own source and target."""
    problems = []
    for flow, (source, target) in diagram.flows.items():
        others = [(element, box) for element, boxes in diagram.shapes.items()
                  if element in diagram.nodes and element not in (source, target) for box in boxes]
        for points in diagram.edges.get(flow, []):
            crossed = {element for a, b in segments(points) for element, box in others if segment_enters(a, b, box)}
            problems += [f"{flow} passes through {element}" for element in sorted(crossed)]
    return problems


def slanted_segments(diagram: Diagram) -> list[str]:
    """Edges with a segment that is neither horizontal nor vertical (the shipped edges are orthogonal)."""
    return [f"{flow} has a slanted segment" for flow, edges in diagram.edges.items() for points in edges
            if any(a[0] != b[0] and a[1] != b[1] for a, b in segments(points))]


def negative_coordinates(diagram: Diagram) -> list[str]:
    """Shapes, labels and waypoints outside the first quadrant (bpmn-js fits those badly)."""
    boxes = [(element, box) for element, found in diagram.shapes.items() for box in found] + diagram.labels
    problems = [f"{element} has bounds left of or above the origin" for element, box in boxes
                if box.x < 0 or box.y < 0]
    problems += [f"{flow} has a waypoint left of or above the origin" for flow, edges in diagram.edges.items()
                 if any(x < 0 or y < 0 for points in edges for x, y in points)]
    return problems


def loop_backs(diagram: Diagram) -> set[str]:
    """The sequence flows that close a cycle, found depth-first from the start events: they may run leftwards."""
    outgoing: dict[str, list[tuple[str, str]]] = {}
    for flow, (source, target) in diagram.flows.items():
        outgoing.setdefault(source, []).append((flow, target))
    for event, host in diagram.hosts.items():
        outgoing.setdefault(host, []).append(("", event))  # the host leads to its boundary events
    back, done, on_path = set(), set(), set()

    def visit(node: str) -> None:
        on_path.add(node)
        for flow, target in outgoing.get(node, []):
            if target in on_path:
                back.add(flow)
            elif target not in done:
                visit(target)
        on_path.discard(node)
        done.add(node)

    starts = [node for node, kind in diagram.nodes.items() if kind == "startEvent"]
    # Nodes no start reaches still get their loops found, from the first of them in document order.
    for node in starts + list(diagram.nodes):
        if node not in done:
            visit(node)
    return back


def right_to_left(diagram: Diagram) -> list[str]:
    """Breaks of the left-to-right reading: a start event not leftmost, an end left of it, a forward flow leftwards."""
    starts = [node for node, kind in diagram.nodes.items() if kind == "startEvent" and diagram.box(node)]
    ends = [node for node, kind in diagram.nodes.items() if kind == "endEvent" and diagram.box(node)]
    leftmost = min((box.x for boxes in diagram.shapes.values() for box in boxes), default=0)
    problems = [f"{start} is not the leftmost shape" for start in starts if diagram.box(start).x > leftmost]
    problems += [f"{end} is not right of {start}" for start in starts for end in ends
                 if diagram.box(end).centre[0] <= diagram.box(start).centre[0]]
    loops = loop_backs(diagram)
    for flow, (source, target) in diagram.flows.items():
        if flow in loops or not (diagram.box(source) and diagram.box(target)):
            continue
        if diagram.box(target).centre[0] <= diagram.box(source).centre[0]:
            problems.append(f"{flow} does not lead rightwards from {source} to {target}")
    return problems


def crossing_edges(diagram: Diagram) -> list[str]:
    """Pairs of edges whose segments cross (touching at a shared point, as at a gateway, is not crossing)."""
    pieces = [(flow, segment) for flow, edges in diagram.edges.items() for points in edges
              for segment in segments(points)]
    found = {tuple(sorted((one, other))) for (one, a), (other, b) in itertools.combinations(pieces, 2)
             if one != other and _cross(a, b)}
    return [f"{one} crosses {other}" for one, other in sorted(found)]


def _cross(a, b) -> bool:
    def side(p, q, r) -> int:
        turn = (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
        return (turn > 0) - (turn < 0)

    return side(*a, b[0]) * side(*a, b[1]) < 0 and side(*b, a[0]) * side(*b, a[1]) < 0


CHECKS = [missing_or_doubled, overlapping_shapes, detached_boundary_events, loose_edge_ends, edges_through_shapes,
          slanted_segments, negative_coordinates, right_to_left]


# ------------------------------------------------------------------------------------------------ the shipped files


def test_the_shipped_diagrams_are_found():
    assert {path.name for path in SHIPPED} >= {"approval.bpmn", "proforma_approval.bpmn", "starter.bpmn"}


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
def test_shipped_diagram_layout(path: Path, check):
    assert check(read_diagram(path.read_bytes())) == []


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
def test_no_two_edges_of_a_shipped_diagram_cross(path: Path):
    assert crossing_edges(read_diagram(path.read_bytes())) == []


# ------------------------------------------------------------------------------------------------ the checker itself

_HEAD = ('<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
         'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
         'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="d">')
_PROCESS = """<bpmn:process id="p">
  <bpmn:startEvent id="s"/><bpmn:task id="a"/><bpmn:task id="b"/><bpmn:task id="c"/>
  <bpmn:boundaryEvent id="t" attachedToRef="a"/><bpmn:endEvent id="e"/><bpmn:endEvent id="e2"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="a"/><bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="e"/>
  <bpmn:sequenceFlow id="f3" sourceRef="t" targetRef="e2"/><bpmn:sequenceFlow id="f4" sourceRef="b" targetRef="c"/>
  <bpmn:sequenceFlow id="f5" sourceRef="c" targetRef="b"/>
</bpmn:process>"""


def _shape(element: str, x: int, y: int, width: int, height: int, label: str = "") -> str:
    return (f'<bpmndi:BPMNShape id="{element}_di" bpmnElement="{element}">'
            f'<dc:Bounds x="{x}" y="{y}" width="{width}" height="{height}"/>{label}</bpmndi:BPMNShape>')


def _edge(flow: str, *points: tuple[int, int]) -> str:
    waypoints = "".join(f'<di:waypoint x="{x}" y="{y}"/>' for x, y in points)
    return f'<bpmndi:BPMNEdge id="{flow}_di" bpmnElement="{flow}">{waypoints}</bpmndi:BPMNEdge>'


def _diagram(*parts: str) -> Diagram:
    plane = (f'<bpmndi:BPMNDiagram><bpmndi:BPMNPlane bpmnElement="p">{"".join(parts)}'
             "</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>")
    return read_diagram(f"{_HEAD}{_PROCESS}{plane}</bpmn:definitions>".encode())


# s -> a -> e along y=120, a's timer t on its bottom border -> e2 below, and b <-> c a loop off to the right.
TIDY = _diagram(
    _shape("s", 100, 102, 36, 36), _shape("a", 200, 80, 100, 80), _shape("t", 232, 142, 36, 36),
    _shape("e", 362, 102, 36, 36), _shape("e2", 362, 222, 36, 36), _shape("b", 460, 20, 40, 40),
    _shape("c", 560, 20, 40, 40),
    _edge("f1", (136, 120), (200, 120)), _edge("f2", (300, 120), (362, 120)),
    _edge("f3", (250, 178), (250, 240), (362, 240)), _edge("f4", (500, 40), (560, 40)),
    _edge("f5", (580, 60), (580, 80), (480, 80), (480, 60)))
# Every check has something to find: c has no shape, f1 two edges, f4 none; b sits on a and f2 runs through it;
# t floats below a; f1 starts inside s; f3 is slanted and runs right to left to e2, which is left of the start;
# e's label is above the origin.
MESSY = _diagram(
    _shape("s", 100, 102, 36, 36), _shape("a", 200, 80, 100, 80), _shape("b", 260, 100, 100, 80),
    _shape("t", 232, 200, 36, 36), _shape("e", 462, 102, 36, 36, '<bpmndi:BPMNLabel><dc:Bounds x="450" y="-5" '
                                                                  'width="60" height="14"/></bpmndi:BPMNLabel>'),
    _shape("e2", 40, 282, 36, 36),
    _edge("f1", (120, 120), (200, 120)), _edge("f1", (136, 120), (200, 120)), _edge("f2", (300, 120), (462, 120)),
    _edge("f3", (250, 236), (76, 300)), _edge("f5", (300, 100), (300, 100)))


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_a_tidy_diagram_passes_every_check(check):
    assert check(TIDY) == []


MESSY_FINDINGS = {
    missing_or_doubled: ["c has 0 shapes", "f1 has 2 edges", "f4 has 0 edges"],
    overlapping_shapes: ["a overlaps b"],
    detached_boundary_events: ["t is not on the border of a"],
    loose_edge_ends: ["f1 does not start on the border of s"],
    edges_through_shapes: ["f2 passes through b"],
    slanted_segments: ["f3 has a slanted segment"],
    negative_coordinates: ["e_di has bounds left of or above the origin"],
    right_to_left: ["s is not the leftmost shape", "e2 is not right of s", "f3 does not lead rightwards from t to e2"],
}


def test_every_check_is_tried_on_the_messy_diagram():
    assert list(MESSY_FINDINGS) == CHECKS


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_each_check_finds_its_problem_in_a_messy_diagram(check):
    assert check(MESSY) == MESSY_FINDINGS[check]


def test_crossing_edges_are_found_and_edges_meeting_at_a_point_are_not():
    assert crossing_edges(TIDY) == []
    crossed = _diagram(_edge("f1", (100, 120), (300, 120)), _edge("f2", (200, 60), (200, 200)),
                       _edge("f3", (300, 120), (300, 200)), _edge("f4", (100, 120), (100, 40)))
    assert crossing_edges(crossed) == ["f1 crosses f2"]  # f3 and f4 only touch f1 at its ends


def test_the_geometry_helpers():
    task = Box(100, 100, 100, 80)
    assert interiors_overlap(task, Box(150, 150, 100, 80)) and not interiors_overlap(task, Box(200, 100, 36, 36))
    assert on_border((100, 140), task) and on_border((150, 180), task) and on_border((200.5, 100), task)
    assert not on_border((150, 140), task) and not on_border((90, 140), task) and not on_border((100, 190), task)
    assert segment_enters((50, 140), (250, 140), task)  # straight through
    assert segment_enters((50, 90), (250, 200), task)  # slanted through
    assert not segment_enters((50, 100), (250, 100), task)  # along the top border
    assert not segment_enters((50, 140), (100, 140), task)  # ends on the border
    assert not segment_enters((50, 50), (250, 60), task)  # passes above
    assert segment_enters((150, 50), (150, 300), task) and not segment_enters((150, 50), (150, 99), task)
