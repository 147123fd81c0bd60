"""The main screens in a real browser (Playwright + Debian's Chromium); screenshots land in tests/artifacts."""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime
from pathlib import Path

import pyotp
import pytest
from flask_migrate import upgrade
from werkzeug.serving import make_server

from devtools import demo
from portal import create_app
from portal.extensions import db
from tests.support.app import app_config
from tests.support.paths import TESTS
from tests.support.servers import IN_CI

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = TESTS / "artifacts"
pytestmark = [pytest.mark.browser, pytest.mark.no_db]


@pytest.fixture(scope="module")
def live_url(tmp_path_factory):
    """The app on a free loopback port with its own migrated, seeded SQLite file."""
    database = tmp_path_factory.mktemp("live") / "live.db"
    app = create_app(app_config(SQLALCHEMY_DATABASE_URI=f"sqlite:///{database}", SQLALCHEMY_ENGINE_OPTIONS={}))
    with app.app_context():
        upgrade()
        demo.seed()
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing under CI=true (apt-get install -y chromium)")
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    yield context.new_page()
    context.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_staff_enrolls_an_authenticator_and_reaches_the_dashboard(live_url, page):
    sign_in(page, live_url, "accountant@ledgerflow.example", "demo-accountant-pass")
    page.wait_for_url("**/login/enroll")
    assert page.locator("#totp-qr svg").is_visible()
    shot(page, "enroll")
    secret = page.inner_text("#totp-secret").replace(" ", "")
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard")
    assert page.locator("#summary").is_visible()
    assert page.get_by_role("button", name="Master data").is_visible()
    shot(page, "dashboard")

    page.goto(f"{live_url}/admin/customers/")
    assert page.locator("text=ACME").first.is_visible()
    shot(page, "customers-grid")

    page.goto(f"{live_url}/admin/customers/new/")
    page.fill("input[name=code]", "NEWCO")
    page.fill("input[name=name]", "New Company")
    page.fill("input[name=currency]", "euro")
    page.click("input[type=submit][value=Save]")
    assert page.locator("text=Currency: use a three-letter ISO 4217 code").first.is_visible()
    shot(page, "customer-validation-error")


def test_customer_sees_its_own_company(live_url, page):
    sign_in(page, live_url, "portal@acme.ledgerflow.example", "demo-customer-pass")
    page.wait_for_url("**/portal/")
    assert page.locator("h1", has_text="Acme Logistics GmbH").is_visible()
    assert page.get_by_role("link", name="C-2026-001", exact=True).is_visible()
    assert page.locator("text=C-2026-002").count() == 0
    assert page.locator("#proformas", has_text="PF-C-2026-001-2026-10").is_visible()  # approved by the demo seed
    shot(page, "customer-portal")
    with page.expect_download() as download:
        page.click("#proformas >> text=PDF")
    assert download.value.suggested_filename == "PF-C-2026-001-2026-10.pdf"
    page.click("#proformas >> text=PF-C-2026-001-2026-10")
    assert page.locator("#lines").is_visible()
    shot(page, "customer-proforma")


ENROLLED: dict[str, list] = {}  # email -> [secret, last time step used]: the live server lives for the module


def sign_in_with_authenticator(page, base: str, email: str, password: str) -> None:
    """Password, then the authenticator: enroll at the first sign-in, type a fresh code after that."""
    sign_in(page, base, email, password)
    page.wait_for_url(lambda url: url.endswith(("/login/enroll", "/login/code")))
    if page.url.endswith("/login/enroll"):
        ENROLLED[email] = [page.inner_text("#totp-secret").replace(" ", ""), None]
    secret, last_step = ENROLLED[email]
    totp = pyotp.TOTP(secret)
    if last_step is not None:
        # A code is good once and never one older than the last used; the next step's is accepted (one step of
        # drift), so wait until that next step is at most one ahead of the clock.
        while totp.timecode(datetime.now()) < last_step:
            time.sleep(0.5)
    step = totp.timecode(datetime.now())
    if last_step is not None and step <= last_step:
        step = last_step + 1
    page.fill("input[name=code]", totp.generate_otp(step))
    ENROLLED[email][1] = step
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard")


def test_reviewer_claims_and_completes_a_task_from_the_inbox(live_url, page):
    sign_in_with_authenticator(page, live_url, "reviewer@ledgerflow.example", "demo-reviewer-pass")
    page.click("text=Tasks")
    page.click("text=Group queue")
    assert page.locator("#task-table", has_text="DEMO-2").is_visible()
    shot(page, "inbox-queue")
    page.click("#task-table >> text=Review")
    page.click("button:has-text('Claim')")
    assert page.locator("text=You have claimed the task.").is_visible()
    # The service task's result is in the case data, in words.
    assert page.locator("#case-data th[title=base_amount]", has_text="Base amount").is_visible()
    shot(page, "task-detail")
    page.click("#task-form button[type=submit]")
    page.wait_for_url("**/tasks/")
    assert page.locator("text=Done: Review.").is_visible()


def test_analyst_checks_a_diagram_and_admin_sees_the_instance(live_url, page):
    sign_in_with_authenticator(page, live_url, "analyst@ledgerflow.example", "demo-analyst-pass")
    page.goto(f"{live_url}/admin/processes/")
    page.click("text=Edit")
    page.wait_for_selector(".djs-element")
    page.click("#validate")
    page.wait_for_selector("#status.alert-success")
    assert "No problems found." in page.inner_text("#status")
    shot(page, "bpmn-editor")
    page.goto(f"{live_url}/admin/instances/")
    page.click("a[title='View Record']")
    page.wait_for_selector("#diagram[data-ready=true]")
    assert page.locator(".lf-completed").count() >= 2 and page.locator(".lf-active").count() >= 1
    shot(page, "instance-view")


def test_reviewer_edits_a_proforma_line_and_an_approver_approves(live_url, browser):
    reviewer = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    sign_in_with_authenticator(reviewer, live_url, "reviewer@ledgerflow.example", "demo-reviewer-pass")
    reviewer.goto(f"{live_url}/tasks/?view=queue&business_key=PF-C-2026-002")
    reviewer.click("#task-table >> text=Review the proforma")
    reviewer.click("button:has-text('Claim')")
    before = reviewer.inner_text("#proforma-total")
    first_line = reviewer.locator("#proforma-lines tbody tr").first
    first_line.locator("input[name=quantity]").fill("2")
    first_line.locator("button:has-text('Save')").click()
    assert reviewer.locator("text=The line is changed.").is_visible()
    assert reviewer.inner_text("#proforma-total") != before
    reviewer.fill("#add-line input[name=description]", "Goodwill discount")
    reviewer.select_option("#add-line select[name=kind]", "discount")
    reviewer.fill("#add-line input[name=unit_price]", "-25")
    reviewer.click("#add-line button:has-text('Add line')")
    assert reviewer.locator("text=The line is added.").is_visible()
    assert reviewer.locator("#proforma-lines .badge", has_text="discount").count() == 1
    shot(reviewer, "proforma-review")
    reviewer.fill("#comment-body", "Two visits this month, agreed with the customer.")
    reviewer.click("button:has-text('Add comment')")
    reviewer.click("#task-form button[value=submitted]")
    reviewer.wait_for_url("**/tasks/")
    reviewer.context.close()

    approver = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    sign_in_with_authenticator(approver, live_url, "approver@ledgerflow.example", "demo-approver-pass")
    approver.goto(f"{live_url}/tasks/?view=queue&business_key=PF-C-2026-002")
    approver.click("#task-table >> text=Approve the proforma")
    approver.click("button:has-text('Claim')")
    assert approver.locator("#proforma-lines").is_visible()  # read-only for the approver
    assert approver.locator("#add-line").count() == 0
    # What the reviewer said and changed reaches the approver.
    assert approver.locator("text=Two visits this month, agreed with the customer.").is_visible()
    changed = approver.locator("#proforma-lines tbody tr[data-changed]").first
    assert "drafted quantity" in changed.inner_text() and changed.locator(".badge", has_text="changed").count()
    assert approver.locator("#task-history [data-kind=line_changed]").count() == 1  # the history has the edits
    assert approver.locator("#task-history [data-kind=line_added]", has_text="Goodwill discount").count() == 1
    shot(approver, "proforma-approve")
    approver.set_viewport_size({"width": 390, "height": 844})
    assert approver.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
    shot(approver, "proforma-approve-phone")
    approver.set_viewport_size({"width": 1280, "height": 1000})
    approver.click("#task-form button[value=approved]")
    approver.wait_for_url("**/tasks/")
    assert approver.locator("text=Done: Approve the proforma (approved).").is_visible()
    approver.context.close()


def test_admin_sets_an_https_channel_that_trusts_a_private_ca(live_url, page, tmp_path):
    from playwright.sync_api import expect

    from tests.support.upload_servers import make_tls_files

    pem = make_tls_files(tmp_path)[0].read_text()
    sign_in_with_authenticator(page, live_url, "admin@ledgerflow.example", "demo-admin-pass")
    page.goto(f"{live_url}/admin/contracts/")
    page.locator("a[title='Edit Record']").last.click()  # the demo's last contract: no test approves it
    page.select_option("#upload_channel", "https", force=True)  # select2 hides the native select
    page.fill("#upload_url", "https://portal.customer.example/upload")
    page.fill("#upload_ca_certificates", "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----")
    page.click("input[type=submit][value=Save]")
    expect(page.locator(".alert", has_text="CA certificate(s) to trust")).to_be_visible()
    page.fill("#upload_ca_certificates", pem)
    shot(page, "contract-https-channel")
    page.click("input[type=submit][value=Save]")
    expect(page.locator(".alert-success")).to_be_visible()


def watch(page) -> list[str]:
    """CSP violations, console errors and uncaught exceptions on the page (and the pages it goes on to)."""
    problems: list[str] = []
    # The console may miss a violation when the page leaves at once (a form submitted despite a blocked onclick).
    page.expose_function("reportViolation", lambda text: problems.append(text))
    page.add_init_script("document.addEventListener('securitypolicyviolation', event => window.reportViolation("
                         "'CSP ' + event.violatedDirective + ': ' + event.blockedURI + ' ' + event.sample))")
    page.on("console", lambda message: problems.append(f"{message.text} ({message.location.get('url')})")
            if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def test_the_main_pages_run_no_inline_script_and_their_scripts_work(live_url, browser):
    reviewer = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    problems = watch(reviewer)
    sign_in_with_authenticator(reviewer, live_url, "reviewer@ledgerflow.example", "demo-reviewer-pass")
    reviewer.goto(f"{live_url}/tasks/?view=queue")
    if not reviewer.locator("#task-table tbody a").count():  # the tests above may have done the whole queue
        reviewer.goto(f"{live_url}/tasks/?view=completed")
    reviewer.locator("#task-table tbody a").first.click()
    assert reviewer.locator("#case-data").is_visible()
    shot(reviewer, "task-detail-csp")
    reviewer.context.close()

    page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    problems += watch(page)
    sign_in_with_authenticator(page, live_url, "admin@ledgerflow.example", "demo-admin-pass")
    page.goto(f"{live_url}/admin/customers/")
    filters = page.locator("table.filters tr").count()
    page.click("text=Add Filter")
    page.click(".field-filters a.filter >> text=Currency")  # a javascript: link; the filter row still appears
    assert page.locator("table.filters tr").count() == filters + 1
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.locator("button[title='Delete Record']").first.click()  # asks first, through data-confirm
    assert asked == ["Are you sure you want to delete this record?"] and page.locator(".alert").count() == 0
    page.click("text=With selected")
    page.once("dialog", lambda dialog: dialog.accept())  # "select at least one record": the action ran
    page.click("a[data-action=delete]")
    shot(page, "customers-grid-actions")

    page.goto(f"{live_url}/admin/customers/edit/?id=1")
    # Only the contacts: the demo customer has bank accounts too, an inline list of their own.
    contacts = "#contacts .inline-field:not(.inline-field-template .inline-field)"
    before = page.locator(contacts).count()
    page.click("a[data-inline-add=contacts]")
    assert page.locator(contacts).count() > before

    page.goto(f"{live_url}/admin/processes/")
    key = page.locator("#process-filter option").nth(1).inner_text()
    page.select_option("#process-filter", key)  # applies at once, through data-autosubmit
    page.wait_for_url(f"**process={key}")
    page.click("#versions >> text=Edit")
    page.wait_for_selector(".djs-element")
    page.click("#validate")
    page.wait_for_selector("#status.alert-success")

    page.goto(f"{live_url}/admin/instances/")
    page.click("a[title='View Record']")
    page.wait_for_selector("#diagram[data-ready=true]")
    assert page.locator("#variables").is_visible()
    if page.locator("text=Cancel instance").count():
        page.once("dialog", lambda dialog: dialog.dismiss())
        page.click("text=Cancel instance")
        assert page.inner_text("#instance-status") != "cancelled"
    shot(page, "instance-view-csp")
    page.context.close()
    assert problems == []
