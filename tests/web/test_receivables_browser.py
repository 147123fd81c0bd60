"""The receivables pages in Chromium on the demo data, at 1400 px and on a 390 px phone: the invoice list and
detail, the bank-file import's preview and confirm, the reconciliation page and the ledger; nothing scrolls the page
sideways and no script breaks the CSP; screenshots in tests/artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.web import test_browser, test_proformas_browser
from tests.web.test_browser import shot
from tests.web.test_diagram_views import WIDTHS, at_width

live_url = test_browser.live_url
browser = test_browser.browser
pytestmark = [pytest.mark.browser, pytest.mark.no_db]
DEMO_BANK_FILE = Path(__file__).resolve().parents[2] / "demo" / "bank-statement-camt053.xml"


manager = test_proformas_browser.manager  # one signed-in finance manager for the module
fits = test_proformas_browser.fits


@pytest.mark.parametrize("device", WIDTHS)
def test_the_invoice_list_and_an_invoice(live_url, manager, device):
    page = at_width(manager, device)
    page.goto(f"{live_url}/receivables/documents?kind=invoice")
    rows = page.locator("#documents tbody tr")
    assert rows.count() >= 3
    fits(page)
    shot(page, f"receivables-invoices-{device}")
    page.locator("#documents tbody tr a").first.click()
    page.wait_for_selector("#lines")
    assert page.locator("#total").is_visible() and page.locator("#lines tbody tr").count() >= 1
    fits(page)
    shot(page, f"receivables-invoice-{device}")


@pytest.mark.parametrize("device", WIDTHS)
def test_an_unidentified_payment_and_its_suggestions(live_url, manager, device):
    page = at_width(manager, device)
    page.goto(f"{live_url}/receivables/payments?view=unidentified")
    assert page.locator("#payments tbody tr").count() >= 1
    fits(page)
    shot(page, f"receivables-unidentified-{device}")
    page.locator("#payments tbody tr a").first.click()
    page.wait_for_selector("#assign-form")
    assert page.locator("#suggestions, #no-suggestions").count() == 1
    fits(page)
    shot(page, f"receivables-reconcile-{device}")


def test_assigning_the_unidentified_payment_then_applying_it(live_url, manager):
    page = at_width(manager, "desktop")
    page.goto(f"{live_url}/receivables/payments?view=unidentified")
    page.locator("#payments tbody tr a").first.click()
    page.wait_for_selector("#assign-form")
    acme = page.locator("#assign-customer option", has_text="Acme").first.get_attribute("value")
    page.select_option("#assign-customer", acme)
    page.click("#assign-form button[type=submit]")
    page.wait_for_selector(".alert-success")
    assert page.locator("#suggestions form").count() >= 1  # Acme's open EUR invoices, ranked with their reasons
    applied = page.locator("#history tbody tr").count()
    page.locator("#suggestions form button").first.click()
    page.wait_for_selector("#history")
    assert page.locator("#history tbody tr").count() == applied + 1
    assert page.locator("#history form", has_text="Unreconcile").count() == 1
    fits(page)
    shot(page, "receivables-reconciled-desktop")


def test_importing_the_demo_bank_file_previews_then_confirms(live_url, manager):
    page = at_width(manager, "desktop")
    page.goto(f"{live_url}/receivables/imports")
    page.set_input_files("#file", str(DEMO_BANK_FILE))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#preview")
    assert int(page.inner_text("#count-payment")) >= 1 and int(page.inner_text("#count-skipped")) >= 1
    fits(page)
    shot(page, "receivables-import-preview-desktop")
    page.click("#confirm-form button[type=submit]")
    page.wait_for_selector(".alert-success")
    assert "Imported bank-statement-camt053.xml" in page.inner_text(".alert-success")
    fits(page)
    shot(page, "receivables-import-confirmed-desktop")
    page.goto(f"{live_url}/receivables/imports")
    page.set_input_files("#file", str(DEMO_BANK_FILE))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#already")  # the same file again: it says so, and would create nothing


@pytest.mark.parametrize("device", WIDTHS)
def test_the_customer_ledger(live_url, manager, device):
    page = at_width(manager, device)
    page.goto(f"{live_url}/receivables/ledger")
    page.select_option("#l-customer", index=1)
    page.fill("#l-from", "2000-01-01")
    page.click("#ledger-form button[type=submit]")
    page.wait_for_selector("#ledger")
    assert page.locator("#closing").is_visible() and page.locator("#export-xlsx").is_visible()
    fits(page)
    shot(page, f"receivables-ledger-{device}")
