"""The BPMN editor and the instance view in Chromium: the diagram opens fitted, zooms, and the page fits a phone."""

from __future__ import annotations

import pytest
from lxml import etree

from tests.support.paths import ROOT
from tests.web import test_browser

# The same live app and Chromium as the other browser tests (one app per module, started on first use).
live_url = test_browser.live_url
browser = test_browser.browser
pytestmark = [pytest.mark.browser, pytest.mark.no_db]

WIDTHS = {"desktop": 1400, "phone": 390}
HEIGHTS = {"desktop": 900, "phone": 844}
DEFINITIONS = ROOT / "workflows" / "definitions"
# Demo cases (devtools/demo.py) waiting in each shipped process, so their instance views have markers.
CASES = {"approval": "DEMO-2", "proforma_approval": "PF-C-2026-002"}
BPMNDI = "{http://www.omg.org/spec/BPMN/20100524/DI}"


@pytest.fixture(scope="module")
def analyst(live_url, browser):
    """One signed-in analyst page for the whole module: every sign-in costs a fresh authenticator code."""
    context = browser.new_context(viewport={"width": WIDTHS["desktop"], "height": HEIGHTS["desktop"]})
    page = context.new_page()
    test_browser.sign_in_with_authenticator(page, live_url, "analyst@ledgerflow.example", "demo-analyst-pass")
    yield page
    context.close()


def at_width(page, device: str):
    """The page resized to the device's viewport."""
    page.set_viewport_size({"width": WIDTHS[device], "height": HEIGHTS[device]})
    return page


def shape_ids(process: str) -> set[str]:
    """The ids of the elements the shipped file draws as shapes."""
    root = etree.parse(str(DEFINITIONS / f"{process}.bpmn")).getroot()
    return {shape.get("bpmnElement") for shape in root.iter(f"{BPMNDI}BPMNShape")}


def shapes_outside(page, container: str) -> list[str]:
    """The drawn shapes (labels included) that stick out of the diagram's visible area."""
    return page.evaluate("""container => {
        const frame = document.querySelector(container).getBoundingClientRect();
        return [...document.querySelectorAll(container + ' .djs-shape .djs-visual')].filter(visual => {
            const box = visual.getBoundingClientRect();
            if (!box.width && !box.height) return false;  // an empty label
            return box.left < frame.left - 1 || box.top < frame.top - 1 ||
                   box.right > frame.right + 1 || box.bottom > frame.bottom + 1;
        }).map(visual => visual.parentNode.dataset.elementId);
    }""", container)


def shapes_under_the_palette(page) -> list[str]:
    """The editor's shapes that the palette, floating over the canvas's left side, hides."""
    return page.evaluate("""() => {
        const palette = document.querySelector('#canvas .djs-palette').getBoundingClientRect();
        return [...document.querySelectorAll('#canvas .djs-shape .djs-visual')].filter(visual => {
            const box = visual.getBoundingClientRect();
            return box.width && box.left < palette.right && box.right > palette.left &&
                   box.top < palette.bottom && box.bottom > palette.top;
        }).map(visual => visual.parentNode.dataset.elementId);
    }""")


def drawn_ids(page, container: str) -> set[str]:
    """The ids of the elements drawn as shapes in the container."""
    return set(page.evaluate("container => [...document.querySelectorAll(container + ' .djs-shape')]"
                             ".map(shape => shape.dataset.elementId)", container))


def zoom(page, container: str) -> float:
    """The diagram's current scale, read from the canvas viewport's transform."""
    return page.evaluate("container => document.querySelector(container + ' .viewport')"
                         ".transform.baseVal.consolidate().matrix.a", container)


def page_overflow(page) -> int:
    """How many pixels the page scrolls sideways (0 when it fits the window)."""
    return page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")


def check_zoom_buttons(page, container: str) -> None:
    """Zoom in, zoom out and fit each change the scale; fit brings every shape back into view."""
    fitted = zoom(page, container)
    page.get_by_role("button", name="Zoom in").click()
    page.wait_for_function("([c, s]) => document.querySelector(c + ' .viewport')"
                           ".transform.baseVal.consolidate().matrix.a > s", arg=[container, fitted])
    zoomed_in = zoom(page, container)
    page.get_by_role("button", name="Zoom out").click()
    page.get_by_role("button", name="Zoom out").click()
    assert zoom(page, container) < zoomed_in
    page.get_by_role("button", name="Fit the diagram to the view").click()
    assert zoom(page, container) == pytest.approx(fitted, rel=0.01)
    assert shapes_outside(page, container) == []


def open_editor(page, base: str, process: str) -> None:
    """The editor on the newest deployed version of the process, once it has drawn and fitted the diagram."""
    page.goto(f"{base}/admin/processes/?process={process}")
    page.goto(base + page.locator("#versions a", has_text="Edit").first.get_attribute("href"))
    page.wait_for_selector("#canvas[data-ready=true]")


def open_instance(page, base: str, process: str) -> None:
    """The instance view of the process's demo case, once its diagram is drawn, fitted and marked."""
    page.goto(f"{base}/admin/instances/?search={CASES[process]}")
    page.click("a[title='View Record']")
    page.wait_for_selector("#diagram[data-ready=true]")


@pytest.mark.parametrize("device", WIDTHS)
@pytest.mark.parametrize("process", sorted(CASES))
def test_the_editor_opens_the_diagram_fitted_and_zooms(live_url, analyst, process, device):
    page = at_width(analyst, device)
    open_editor(page, live_url, process)
    assert shape_ids(process) <= drawn_ids(page, "#canvas")
    assert shapes_outside(page, "#canvas") == [] and shapes_under_the_palette(page) == []
    test_browser.shot(page, f"diagram-editor-{process}-{device}")
    check_zoom_buttons(page, "#canvas")
    assert shapes_under_the_palette(page) == []
    assert page_overflow(page) <= 0


@pytest.mark.parametrize("device", WIDTHS)
def test_the_starter_diagram_opens_fitted(live_url, analyst, device):
    page = at_width(analyst, device)
    page.goto(f"{live_url}/admin/processes/editor")
    page.wait_for_selector("#canvas[data-ready=true]")
    assert shape_ids("starter") <= drawn_ids(page, "#canvas")
    assert shapes_outside(page, "#canvas") == [] and shapes_under_the_palette(page) == []


@pytest.mark.parametrize("device", WIDTHS)
@pytest.mark.parametrize("process", sorted(CASES))
def test_the_instance_view_fits_the_window_and_zooms(live_url, analyst, process, device):
    page = at_width(analyst, device)
    open_instance(page, live_url, process)
    assert shape_ids(process) <= drawn_ids(page, "#diagram")
    assert shapes_outside(page, "#diagram") == []
    assert page.locator("#diagram .lf-active").count() >= 1  # the markers still land on the diagram
    assert page_overflow(page) <= 0
    test_browser.shot(page, f"diagram-instance-{process}-{device}")
    check_zoom_buttons(page, "#diagram")
    assert page_overflow(page) <= 0
