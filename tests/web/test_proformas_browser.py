"""The proforma list and case page in Chromium, at 1400 px and on a 390 px phone: nothing scrolls the page
sideways, the filters fold away on the phone, no script breaks the CSP; screenshots in tests/artifacts."""

from __future__ import annotations

import pytest

from tests.web import test_browser, test_diagram_views
from tests.web.test_browser import shot
from tests.web.test_diagram_views import WIDTHS, at_width, page_overflow

# The same live app (the demo seed) and Chromium as the other browser tests, one app per module.
live_url = test_browser.live_url
browser = test_browser.browser
pytestmark = [pytest.mark.browser, pytest.mark.no_db]

APPROVED = "PF-C-2026-001-2026-10"  # the demo seed's approved proforma: documents, the whole process behind it


@pytest.fixture(scope="module")
def manager(live_url, browser):
    """One signed-in finance manager for the module (each sign-in costs a fresh authenticator code), with the CSP
    violations, console errors and uncaught exceptions of every page it opens."""
    size = {"width": WIDTHS["desktop"], "height": test_diagram_views.HEIGHTS["desktop"]}
    context = browser.new_context(viewport=size)
    page = context.new_page()
    page.problems = test_browser.watch(page)
    test_browser.sign_in_with_authenticator(page, live_url, "finance.manager@ledgerflow.example",
                                            "demo-finance-manager-pass")
    yield page
    context.close()


def fits(page) -> None:
    assert page_overflow(page) <= 0, f"the page scrolls {page_overflow(page)} px sideways"
    assert page.problems == []


@pytest.mark.parametrize("device", WIDTHS)
def test_the_list_fits_and_filters(live_url, manager, device):
    page = at_width(manager, device)
    page.goto(f"{live_url}/proformas/")
    assert page.locator("#proforma-table tbody tr").count() >= 3
    assert page.locator("#totals").is_visible() and page.locator("#draft-form").is_visible()
    filters = page.locator("#filters")
    if device == "phone":
        assert not filters.is_visible()  # folded away until asked for
        page.get_by_role("button", name="Filters").click()
        page.wait_for_selector("#filters.collapse.show")  # opened, and done sliding
    fits(page)
    shot(page, f"proformas-list-{device}")
    page.select_option("#f-status", "approved")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**status=approved**")
    assert page.locator("#proforma-table tbody tr").count() == 1
    assert page.locator("#proforma-table", has_text=APPROVED).is_visible()
    fits(page)
    shot(page, f"proformas-list-filtered-{device}")


@pytest.mark.parametrize("device", WIDTHS)
def test_the_case_page_fits(live_url, manager, device):
    page = at_width(manager, device)
    page.goto(f"{live_url}/proformas/?status=approved")
    page.click(f"#proforma-table >> text={APPROVED}")
    page.wait_for_selector("#timeline")
    assert page.locator("h1", has_text=APPROVED).is_visible()
    assert page.locator("#lines tbody tr").count() >= 1 and page.locator("#documents a").count() >= 1
    assert page.locator("#timeline li[data-kind=completed]").count() >= 2  # review and approval
    fits(page)
    shot(page, f"proformas-case-{device}")


def test_a_bad_filter_is_marked_at_the_field(live_url, manager):
    page = at_width(manager, "desktop")
    page.goto(f"{live_url}/proformas/?gross_min=lots")
    assert page.locator("#f-gross_min.is-invalid").is_visible()
    assert "Gross from" in page.inner_text("#filter-errors")
    # The page's own 400 is the one console message (Chromium logs every error status); the rest must be clean.
    assert [problem for problem in page.problems if "status of 400" not in problem] == []
    page.problems.clear()
    fits(page)
    shot(page, "proformas-list-bad-filter")
