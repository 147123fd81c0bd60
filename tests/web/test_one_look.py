"""One look (issue 10, acceptance item 8): the site and the admin share one layout, one navbar and Bootstrap 5, the
admin speaks in words, and the inbox, a task page, a grid and a form fit a 390 px phone as well as a 1400 px screen.
Screenshots land in tests/artifacts/one-look-*.png."""

from __future__ import annotations

import re

import pytest

from tests.web import test_browser

# The same live app and Chromium as the other browser tests (one app per module, started on first use).
live_url = test_browser.live_url
browser = test_browser.browser
pytestmark = [pytest.mark.browser, pytest.mark.no_db]

WIDTHS = {"phone": 390, "desktop": 1400}
HEIGHTS = {"phone": 844, "desktop": 900}
RAW_NAME = re.compile(r"\w_\w")  # "billing_city", "valid_from": a column name, not words
# Each row's cells carry their column's header as data-label (portal/static/ledgerflow.js), on every width.


def signed_in(browser, base: str, email: str, password: str):
    """A page signed in as the user, with a list of the CSP violations and script errors it meets."""
    page = browser.new_context(viewport={"width": WIDTHS["desktop"], "height": HEIGHTS["desktop"]}).new_page()
    problems = test_browser.watch(page)
    test_browser.sign_in_with_authenticator(page, base, email, password)
    return page, problems


@pytest.fixture(scope="module")
def reviewer(live_url, browser):
    """The reviewer: the inbox, the task pages and (read-only) the master data grids."""
    page, problems = signed_in(browser, live_url, "reviewer@ledgerflow.example", "demo-reviewer-pass")
    yield page
    page.context.close()
    assert problems == []


@pytest.fixture(scope="module")
def admin(live_url, browser):
    """The administrator: every grid and its forms."""
    page, problems = signed_in(browser, live_url, "admin@ledgerflow.example", "demo-admin-pass")
    yield page
    page.context.close()
    assert problems == []


def at_width(page, device: str):
    page.set_viewport_size({"width": WIDTHS[device], "height": HEIGHTS[device]})
    return page


def page_overflow(page) -> int:
    """How many pixels the page scrolls sideways (0 when it fits the window)."""
    return page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")


def navbar_links(page) -> list[tuple[str, str]]:
    """(href, text) of every link in the navbar, in order."""
    return [tuple(link) for link in page.evaluate("""() => [...document.querySelectorAll('#main-navbar a')]
        .map(link => [link.getAttribute('href'), link.textContent.trim()])""")]


def bootstrap_version(page) -> str:
    """The Bootstrap the page runs, by its script, after checking its CSS variables are there too."""
    assert page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--bs-body-bg').trim()")
    return page.evaluate("window.bootstrap && window.bootstrap.Tooltip.VERSION")


def bootstrap_4_files(page) -> list[str]:
    """Flask-Admin's Bootstrap 4 CSS and JS, which must not load next to Bootstrap 5."""
    urls = page.evaluate("""() => [...document.querySelectorAll('link[rel=stylesheet], script[src]')]
        .map(tag => tag.href || tag.src)""")
    return [url for url in urls if re.search(r"bootstrap4/(css/bootstrap|js/)|vendor/bootstrap4/", url)]


def texts(page, selector: str) -> list[str]:
    return [text.strip() for text in page.locator(selector).all_inner_texts() if text.strip()]


def check_fits(page, name: str, device: str) -> None:
    """No sideways scroll at this width; the screenshot for people to look at."""
    assert page_overflow(page) <= 0, f"{name} scrolls sideways on the {device}"
    test_browser.shot(page, f"one-look-{name}-{WIDTHS[device]}")


@pytest.mark.parametrize("device", WIDTHS)
def test_the_inbox_fits_and_keeps_the_due_column_in_view(live_url, reviewer, device):
    page = at_width(reviewer, device)
    page.goto(f"{live_url}/tasks/?view=queue")
    due = page.locator("#task-table tbody tr").first.locator("td[data-label=Due]")
    assert due.is_visible() and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", due.inner_text())
    box = due.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTHS[device], "the Due cell is cut off"
    if device == "phone":  # each row a card, each cell named by its column
        assert page.locator("#task-table thead").bounding_box()["height"] <= 1
    check_fits(page, "inbox", device)


@pytest.fixture(scope="module")
def review_task(live_url, reviewer) -> str:
    """The URL of a proforma review the reviewer has claimed, so its lines are editable (the widest the page gets)."""
    reviewer.goto(f"{live_url}/tasks/?view=queue&business_key=PF-C-2026-003")
    reviewer.click("#task-table >> text=Review the proforma")
    reviewer.click("button:has-text('Claim')")
    reviewer.locator("text=You have claimed the task.").wait_for()
    return reviewer.url


@pytest.mark.parametrize("device", WIDTHS)
def test_a_task_page_fits_with_its_proforma_lines(reviewer, review_task, device):
    page = at_width(reviewer, device)
    page.goto(review_task)
    lines = page.locator("#proforma-lines tbody tr")
    assert lines.count() and lines.first.locator("input[name=quantity]").is_visible()
    net = lines.first.locator("td[data-label=Net]")
    box = net.bounding_box()
    assert net.is_visible() and box["x"] + box["width"] <= WIDTHS[device], "the Net column is cut off"
    check_fits(page, "task", device)


def test_the_admin_has_the_sites_navbar_and_bootstrap(live_url, reviewer):
    page = at_width(reviewer, "desktop")
    page.goto(f"{live_url}/tasks/")
    site_links, site_version = navbar_links(page), bootstrap_version(page)
    page.goto(f"{live_url}/admin/customers/")
    assert page.locator("#main-navbar #brand").inner_text() == "Ledgerflow"
    assert ("/tasks/", "Tasks") in navbar_links(page)
    assert navbar_links(page) == site_links  # one navigation, the admin's grids folded into it
    assert page.locator("nav.navbar").count() == 1
    assert bootstrap_version(page) == site_version and site_version.startswith("5.")
    assert bootstrap_4_files(page) == []


@pytest.mark.parametrize("grid", ["customers", "contracts"])
def test_grid_headers_filters_and_form_labels_are_words(live_url, admin, grid):
    page = at_width(admin, "desktop")
    page.goto(f"{live_url}/admin/{grid}/")
    headers = texts(page, "table.model-list thead th")
    assert headers and not [h for h in headers if RAW_NAME.search(h) or h[0].islower()], headers
    filters = texts(page, ".field-filters a.filter")
    assert filters and not [f for f in filters if RAW_NAME.search(f)], filters
    assert not RAW_NAME.search(page.get_attribute("input[name=search]", "placeholder"))
    page.goto(f"{live_url}/admin/{grid}/new/")
    # A label may quote the codes one types ("Formats (… sap_csv …)"); the words around them are what counts.
    labels = [re.sub(r"\(.*?\)", "", label) for label in texts(page, ".admin-form label")]
    assert labels and not [label for label in labels if RAW_NAME.search(label)], labels


def test_contract_tax_rates_read_as_percentages(live_url, admin):
    page = at_width(admin, "desktop")
    page.goto(f"{live_url}/admin/contracts/")
    rates = texts(page, "table.model-list td.col-tax_rate")
    assert rates and all(re.fullmatch(r"\d+(\.\d+)? %", rate) for rate in rates), rates


@pytest.mark.parametrize("device", WIDTHS)
def test_a_grid_fits_and_its_menus_open(live_url, admin, device):
    page = at_width(admin, device)
    page.goto(f"{live_url}/admin/customers/")
    if device == "phone":  # the navbar folds behind its toggler
        page.click(".navbar-toggler")
        page.locator("#main-nav").wait_for(state="visible")
        page.click("#main-nav >> text=Master data")
        assert page.locator("#main-nav .dropdown-menu >> text=Contracts").is_visible()
        page.goto(f"{live_url}/admin/customers/")  # folded again
    page.click("text=Export")
    assert page.locator(".dropdown-menu >> text=Export CSV").is_visible()
    page.click("text=Add Filter")
    page.click(".field-filters a.filter >> text=Billing country")
    assert page.locator("table.filters tr").count() == 1
    check_fits(page, "customers", device)


@pytest.mark.parametrize("device", WIDTHS)
def test_a_form_fits_in_columns_on_a_wide_screen(live_url, admin, device):
    page = at_width(admin, device)
    page.goto(f"{live_url}/admin/contracts/edit/?id=1")
    number, title = page.locator("#number").bounding_box(), page.locator("#title").bounding_box()
    certificates = page.locator("#upload_ca_certificates").bounding_box()
    if device == "desktop":  # two fields side by side; a textarea across the form
        assert abs(number["y"] - title["y"]) < 2 and title["x"] > number["x"] + number["width"]
        assert certificates["width"] > 1.8 * number["width"]
    else:  # one column
        assert title["y"] > number["y"] + number["height"]
    check_fits(page, "contract-form", device)
