"""The staff proforma pages: the list with its filters, totals and pages, CSV/XLSX export of exactly the filtered
rows, "Draft period" for those who may draft, the case page, and the inbox rows that lead to it."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import event, select

from portal.extensions import db
from portal.infra import audit
from portal.models import Proforma
from portal.services.billing import proforma_review
from portal.services.workflow import definitions, steps, tasks
from tests.services.billing.test_proforma_cases import listed, proforma  # noqa: F401 - the list's rows
from tests.support import factories
from tests.support.paths import workflow_file
from tests.support.proforma import deploy_approval_process, draft_for, open_task
from tests.support.web import csrf_from, page_text, sign_in, text


@pytest.fixture
def accountant(app, client, make_user, listed):  # noqa: F811 - the imported fixture
    """An accountant (who may draft) signed in, with the list's four proformas committed."""
    return sign_in(app, client, make_user("accountant"))


def words(response) -> str:
    """A page's text without its tags, as a reader sees it."""
    return " ".join(re.sub(r"<[^>]+>", " ", page_text(response)).split())


def table_numbers(html: str) -> list[str]:
    """The proforma numbers the list's table shows, top to bottom."""
    body = html.split('id="proforma-table"', 1)[1] if 'id="proforma-table"' in html else ""
    return re.findall(r'href="/proformas/\d+">([^<]+)</a>', body)


def numbers_of(listed, *keys) -> list[str]:  # noqa: F811
    return [listed[key].number for key in keys]


def test_the_list_shows_the_filtered_proformas_with_their_totals(client, accountant, listed):  # noqa: F811
    response = client.get("/proformas/?period_from=2026-11&period_to=2026-11")
    assert response.status_code == 200
    html = text(response)
    assert table_numbers(html) == numbers_of(listed, "a-nov", "b-nov")
    totals = html.split('id="totals"', 1)[1].split("</table>", 1)[0]
    assert "2,500.00 EUR" in totals and "999.99 USD" in totals and "10,000.00" not in totals
    assert 'value="2026-11"' in html and "Alpha Freight AG" in html
    assert 'class="collapse d-md-block show' in html  # filters in use stay open on a phone


@pytest.mark.parametrize(("query", "expected"), [
    ("status=rejected", ["b-dec"]),
    ("contract=hosting", ["b-nov"]),
    ("gross_min=1000&gross_max=5000", ["a-nov"]),
    ("sort=gross", ["a-oct", "b-nov", "a-nov", "b-dec"]),
])
def test_each_filter_and_sort_applies_to_the_page(client, accountant, listed, query, expected):  # noqa: F811
    assert table_numbers(text(client.get(f"/proformas/?{query}"))) == numbers_of(listed, *expected)


def test_the_customer_select_filters_by_customer(client, accountant, listed):  # noqa: F811
    html = text(client.get(f"/proformas/?customer={listed['beta'].id}"))
    assert table_numbers(html) == numbers_of(listed, "b-dec", "b-nov")
    assert f'<option value="{listed["beta"].id}" selected>' in html


def test_a_bad_filter_is_a_400_page_naming_the_field(client, accountant):
    response = client.get("/proformas/?gross_min=lots&period_from=2026-11")
    assert response.status_code == 400
    assert "Gross from: “lots” is not a number" in page_text(response)
    html = text(response)
    assert re.search(r'class="form-control form-control-sm is-invalid" id="f-gross_min"', html)
    assert 'value="lots"' in html and table_numbers(html) == []  # what was typed, to fix it


def test_headings_sort_both_ways_and_pages_keep_the_filters(app, client, accountant, listed):  # noqa: F811
    contract = factories.ContractFactory(customer=listed["alpha"])
    for month in range(1, 12):
        for year in (2023, 2024, 2025):
            proforma(contract, f"{year}-{month:02d}", "approved")
    db.session.commit()
    html = text(client.get("/proformas/?status=approved&per_page=25&sort=gross"))
    assert len(table_numbers(html)) == 25
    assert 'href="/proformas/?status=approved&amp;sort=-gross&amp;per_page=25"' in html  # gross again: descending
    assert 'aria-sort="ascending"' in html
    second = re.search(r'href="(/proformas/\?[^"]*[?&;]page=2\b[^"]*)"', html).group(1).replace("&amp;", "&")
    assert "status=approved" in second and "sort=gross" in second and "per_page=25" in second
    assert len(table_numbers(text(client.get(second)))) == 9  # 34 approved: 25 and 9


def test_a_page_of_50_costs_as_many_statements_as_a_page_of_5(app, client, accountant, listed):  # noqa: F811
    deploy_approval_process()
    for _ in range(3):  # some rows with a process and an open task, whose task and holder the page shows
        contract = factories.ContractFactory(customer=factories.CustomerFactory())
        factories.FixedLineFactory(contract=contract)
        draft_for(contract)
    contract = factories.ContractFactory(customer=listed["beta"])
    for n in range(60):
        proforma(contract, f"{2020 + n // 12}-{n % 12 + 1:02d}", "approved")
    db.session.commit()

    def statements(url: str) -> int:
        seen = []
        connection = db.session.get_bind()
        listener = lambda *args: seen.append(args[2])  # noqa: E731 - before_cursor_execute's statement
        event.listen(connection, "before_cursor_execute", listener)
        try:
            assert client.get(url).status_code == 200
        finally:
            event.remove(connection, "before_cursor_execute", listener)
        return len(seen)

    # Both pages hold rows with an open task; 50 rows against 7 (the four listed and the three drafted).
    fifty, seven = statements("/proformas/?per_page=50"), statements("/proformas/?period_from=2026-10")
    assert seven == fifty and fifty < 15


def exported_csv(client, query: str) -> list[list[str]]:
    response = client.get(f"/proformas/export.csv?{query}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_the_csv_export_holds_exactly_the_filtered_rows(client, accountant, listed):  # noqa: F811
    rows = exported_csv(client, "status=draft&period_to=2026-11")
    assert rows[0][:4] == ["Number", "Customer code", "Customer", "Contract"]
    assert [row[0] for row in rows[1:]] == numbers_of(listed, "a-nov")
    record = dict(zip(rows[0], rows[1], strict=True))
    assert (record["Customer"], record["Status"], record["Gross"], record["Currency"]) == (
        "Alpha Freight AG", "Draft", "2500.00", "EUR")  # plain decimals for machines
    everything = exported_csv(client, "sort=-gross")
    assert [row[0] for row in everything[1:]] == numbers_of(listed, "b-dec", "a-nov", "b-nov", "a-oct")


def test_the_xlsx_export_holds_exactly_the_filtered_rows(client, accountant, listed):  # noqa: F811
    response = client.get(f"/proformas/export.xlsx?customer={listed['beta'].id}")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert [row[0] for row in rows[1:]] == numbers_of(listed, "b-dec", "b-nov")
    record = dict(zip(rows[0], rows[2], strict=True))
    assert (record["Customer"], record["Gross"], record["Currency"]) == ("Beta Retail SE", 999.99, "USD")
    assert sheet.freeze_panes == "A2"


def test_an_export_with_a_bad_filter_names_the_field(client, accountant):
    response = client.get("/proformas/export.csv?period_to=13/2026")
    assert response.status_code == 400 and "To period: " in page_text(response)


def test_spreadsheet_formulas_are_not_exported_as_formulas(client, accountant, listed):  # noqa: F811
    customer = factories.CustomerFactory(name="=HYPERLINK(\"http://evil.example\")")
    proforma(factories.ContractFactory(customer=customer), "2026-11")
    db.session.commit()
    rows = exported_csv(client, f"customer={customer.id}")
    assert rows[1][2].startswith("'=HYPERLINK")


def test_draft_period_drafts_the_month_and_shows_it(app, client, make_user):
    deploy_approval_process()
    contract = factories.ContractFactory(customer=factories.CustomerFactory(name="Drafted Now GmbH"))
    factories.FixedLineFactory(contract=contract, unit_price=Decimal("300.00"))
    sign_in(app, client, make_user("accountant"))
    page = text(client.get("/proformas/"))
    assert 'id="draft-form"' in page
    response = client.post("/proformas/draft", data={"csrf_token": csrf_from(page), "period": "2026-09"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/proformas/?period_from=2026-09&period_to=2026-09"
    listing = text(client.get(response.headers["Location"]))
    assert "2026-09: 1 drafted, 0 already there, 0 failed." in listing
    assert table_numbers(listing) == [f"PF-{contract.number}-2026-09"]


def test_draft_period_refuses_a_bad_month_with_a_message(client, accountant):
    page = text(client.get("/proformas/"))
    response = client.post("/proformas/draft", data={"csrf_token": csrf_from(page), "period": "09/2026"},
                           follow_redirects=True)
    assert "is not a month like 2026-11" in page_text(response)
    assert db.session.scalar(select(Proforma).where(Proforma.period == "2026-09")) is None


@pytest.mark.parametrize("role", ["reviewer", "approver", "guest"])
def test_who_may_not_draft_sees_no_draft_period_and_cannot_post_it(app, client, make_user, listed, role):  # noqa: F811
    sign_in(app, client, make_user(role))
    page = text(client.get("/proformas/"))
    assert 'id="draft-form"' not in page and "Draft period" not in page
    assert len(table_numbers(page)) == 4  # they see the list all the same
    response = client.post("/proformas/draft", data={"csrf_token": csrf_from(page), "period": "2026-09"})
    assert response.status_code == 403


def test_the_empty_states_say_why_there_is_nothing(client, make_user, app):
    sign_in(app, client, make_user("accountant"))
    assert "No proformas yet." in page_text(client.get("/proformas/"))
    assert "No proformas match these filters." in page_text(client.get("/proformas/?status=cancelled"))


@pytest.fixture
def reviewed(app, make_user):
    """A drafted 1,071.00 EUR proforma whose reviewer changed a line and commented."""
    deploy_approval_process()
    customer = factories.CustomerFactory(name="Case Study GmbH")
    contract = factories.ContractFactory(customer=customer, title="Managed services")
    factories.FixedLineFactory(contract=contract, description="Flat fee", unit_price=Decimal("900.00"))
    row = draft_for(contract)
    reviewer = make_user("reviewer")
    review = open_task(row)
    tasks.claim(review.id, reviewer)
    with audit.acting_as(audit.Actor(reviewer.email, reviewer.id)):
        proforma_review.change_line(review.id, reviewer, row.lines[0].id,
                                    {"description": "Flat fee", "quantity": "2", "unit_price": "450.00"})
    tasks.comment(review.id, reviewer, "Two visits this month")
    db.session.commit()
    return row, review, reviewer


def test_the_case_page_shows_header_lines_process_and_timeline(app, client, make_user, reviewed):
    row, review, reviewer = reviewed
    sign_in(app, client, make_user("finance_manager"))
    response = client.get(f"/proformas/{row.id}")
    assert response.status_code == 200
    page = words(response)
    for expected in ("Case Study GmbH", "Managed services", "2026-11", "In review", "1,071.00 EUR",
                     "Review the proforma", f"Held by {reviewer.email}", "Two visits this month",
                     "Line changed: 1. Flat fee", "Drafted with 1 line", "No documents yet",
                     "The contract uploads to no customer portal.", "No e-mail sent yet"):
        assert expected in page, expected
    html = text(response)
    edit = html.split("Line changed: 1. Flat fee", 1)[1][:2000]
    assert re.search(r'<del class="before text-break">900\.00 EUR</del> → <ins[^>]*>450\.00 EUR</ins>', edit)
    assert f'href="/tasks/{review.id}"' in html  # a finance manager may open every task
    assert html.index("Comment on Review the proforma") < html.index("Drafted with 1 line")  # newest first


def test_the_case_links_the_task_only_for_those_who_may_open_it(app, client, make_user, reviewed):
    row, review, _ = reviewed
    sign_in(app, client, make_user("guest"))
    html = text(client.get(f"/proformas/{row.id}"))
    assert "Review the proforma" in html and f'href="/tasks/{review.id}"' not in html
    assert "/admin/instances/" not in html


def test_a_case_document_downloads_and_a_missing_case_is_a_404(app, client, make_user, world):
    sign_in(app, client, make_user("accountant"))
    approved = world.own_proforma
    page = text(client.get(f"/proformas/{approved.id}"))
    assert "No approval process has been started" in page and f"{approved.number}.pdf" in page
    download = client.get(f"/proformas/{approved.id}/documents/pdf")
    assert download.status_code == 200 and download.get_data() == b"%PDF-1.4 proforma"
    assert client.get(f"/proformas/{approved.id}/documents/ubl").status_code == 404
    assert client.get("/proformas/999999").status_code == 404


def test_inbox_rows_show_customer_period_and_gross_and_link_the_case(app, client, make_user, reviewed):
    row, _, reviewer = reviewed
    definitions.deploy(workflow_file("single_review.bpmn"), "test")
    steps.start("single_review", "INV-7")  # a task about no proforma
    db.session.commit()
    sign_in(app, client, reviewer)
    html = text(client.get("/tasks/?view=mine"))
    proforma_row = next(tr for tr in re.findall(r"<tr[^>]*>.*?</tr>", html, re.S) if row.number in tr)
    assert f'<a class="case-link" href="/proformas/{row.id}">{row.number}</a>' in proforma_row
    assert "Case Study GmbH" in proforma_row and "2026-11" in proforma_row and "1,071.00 EUR" in proforma_row
    queue = text(client.get("/tasks/?view=queue"))
    other = next(tr for tr in re.findall(r"<tr[^>]*>.*?</tr>", queue, re.S) if "INV-7" in tr)
    assert "/proformas/" not in other and other.count("<td>—</td>") == 2




def test_the_case_pages_times_are_to_the_minute_in_the_readers_time_zone(app, client, make_user, reviewed):
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    row, _, _ = reviewed
    sign_in(app, client, make_user("finance_manager", time_zone="America/New_York"))
    moments = re.findall(r'<time datetime="([^"]+)"[^>]*>([^<]+)</time>', text(client.get(f"/proformas/{row.id}")))
    assert len(moments) >= 4  # the task's due date and the timeline's entries
    for exact, shown in moments:
        local = datetime.strptime(exact, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).astimezone(
            ZoneInfo("America/New_York"))
        assert shown == local.strftime("%Y-%m-%d %H:%M"), exact
