"""Drafting proformas: records from the (fake) call-logging system, priced by the rate card, plus fixed lines."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import func, select

from devtools.fake_servicenow import start_fake_servicenow
from portal.errors import NotFound, ValidationError
from portal.extensions import db
from portal.integrations import servicenow
from portal.models import Proforma, ProformaLine, ServiceRecord
from portal.services.billing import drafting
from tests.support import factories
from tests.support.drafting import PRICES, contract_for, customer_on, rate_card

CENT = Decimal("0.01")

pytestmark = pytest.mark.usefixtures("proforma_process")


def half_up(amount: Decimal) -> Decimal:
    """The rule the billing code rounds by (portal.money.quantize), not Decimal's default half-even."""
    return amount.quantize(CENT, ROUND_HALF_UP)


def expected_records(fake_url, name="Acme Logistics GmbH"):
    connection = servicenow.Connection(base_url=fake_url, company=name, username="ledgerflow",
                                       secret="demo-servicenow-pass")
    return servicenow.fetch_period(connection, 2026, 11).records


def test_a_draft_prices_every_record_and_adds_the_fixed_lines(app, fake):
    contract = contract_for(customer_on(fake.base_url))
    report = drafting.draft_period("2026-11", contract.number, prepared_by="alice")
    assert report.created == [f"PF-{contract.number}-2026-11"] and not report.failed
    proforma = db.session.scalar(select(Proforma).where(Proforma.contract_id == contract.id))
    records = expected_records(fake.base_url)
    assert len(records) > 5
    billed = sorted(line.source_ref for line in proforma.lines if line.kind != "fixed")
    assert billed == sorted(r.number for r in records)
    for line in proforma.lines:
        if line.kind == "incident":
            assert line.unit_price == Decimal(PRICES[("incident", line.priority)])
        assert line.net_amount == half_up(line.quantity * line.unit_price)
        assert line.tax_amount == half_up(line.net_amount * Decimal("0.19"))
    assert proforma.lines[-1].description == "Service desk flat fee"
    assert proforma.net_total == sum(line.net_amount for line in proforma.lines)
    assert proforma.gross_total == proforma.net_total + proforma.tax_total
    assert proforma.editors == ["alice"] and proforma.state == "draft"
    stored = db.session.scalar(select(func.count()).select_from(ServiceRecord))
    assert stored == len(records)


# (quantity, unit price, tax rate %) -> (net, tax): each has a half cent to round, where half-up differs from
# half-even and from float round() (2.565 and 1.005 are just below their halves as floats; 1.125 is exact).
HALF_CENTS = [
    (("1", "13.50", "19"), ("13.50", "2.57")),  # tax 2.565
    (("0.5", "2.25", "19"), ("1.13", "0.21")),  # net 1.125, tax 0.2147
    (("3", "0.335", "19"), ("1.01", "0.19")),  # net 1.005, tax 0.1919
    (("1", "0.50", "7"), ("0.50", "0.04")),  # tax 0.035
    (("2", "1.25", "0"), ("2.50", "0.00")),
]


def test_line_net_and_tax_round_half_cents_up(app):
    proforma = Proforma(currency="EUR", lines=[
        ProformaLine(kind="manual", description=f"Line {i}", quantity=Decimal(qty), unit_price=Decimal(price),
                     tax_rate=Decimal(rate)) for i, ((qty, price, rate), _) in enumerate(HALF_CENTS)])
    drafting.recalculate(proforma)
    assert [(str(line.net_amount), str(line.tax_amount)) for line in proforma.lines] == [
        expected for _, expected in HALF_CENTS]
    assert (proforma.net_total, proforma.tax_total, proforma.gross_total) == (
        Decimal("18.64"), Decimal("3.01"), Decimal("21.65"))  # sums of the rounded lines, not rounded sums


def test_amounts_round_to_the_currencys_minor_unit(app):
    proforma = Proforma(currency="JPY", lines=[ProformaLine(kind="manual", description="Yen", quantity=Decimal("1"),
                                                              unit_price=Decimal("25"), tax_rate=Decimal("10"))])
    drafting.recalculate(proforma)
    assert (str(proforma.lines[0].net_amount), str(proforma.lines[0].tax_amount)) == ("25", "3")  # tax 2.5


def test_a_drafted_fixed_line_of_13_50_at_19_percent_carries_2_57_tax(app):
    contract = factories.ContractFactory(customer=factories.CustomerFactory(), rate_card=rate_card())
    factories.FixedLineFactory(contract=contract, description="Licence", quantity=Decimal("1"),
                               unit_price=Decimal("13.50"), tax_rate=Decimal("19"))
    drafting.draft_period("2026-11", contract.number)
    proforma = db.session.scalar(select(Proforma).where(Proforma.contract_id == contract.id))
    db.session.expire(proforma)  # read back what was stored
    [line] = proforma.lines
    assert (line.net_amount, line.tax_amount) == (Decimal("13.50"), Decimal("2.57"))
    assert (proforma.net_total, proforma.tax_total, proforma.gross_total) == (
        Decimal("13.50"), Decimal("2.57"), Decimal("16.07"))


def test_drafting_again_creates_no_duplicate(app, fake):
    contract = contract_for(customer_on(fake.base_url))
    drafting.draft_period("2026-11", contract.number)
    again = drafting.draft_period("2026-11", contract.number)
    assert again.created == [] and again.existing == [f"PF-{contract.number}-2026-11"]
    assert db.session.scalar(select(func.count()).select_from(Proforma)) == 1


def test_a_missing_price_fails_that_contract_only_and_names_the_record(app, fake):
    incomplete = {k: v for k, v in PRICES.items() if k != ("incident", "P1")}
    broken = factories.ContractFactory(customer=customer_on(fake.base_url), rate_card=rate_card(incomplete))
    fine = factories.ContractFactory(customer=factories.CustomerFactory(), rate_card=rate_card())
    report = drafting.draft_period("2026-11")
    assert "no price for incident 'P1'" in report.failed[broken.number] and "INC" in report.failed[broken.number]
    assert f"PF-{fine.number}-2026-11" in report.created
    assert db.session.scalar(select(Proforma).where(Proforma.contract_id == broken.id)) is None


def test_without_a_call_logging_system_only_fixed_lines_are_billed(app):
    contract = contract_for(factories.CustomerFactory())
    drafting.draft_period("2026-11", contract.number)
    proforma = db.session.scalar(select(Proforma).where(Proforma.contract_id == contract.id))
    assert [line.kind for line in proforma.lines] == ["fixed"]
    assert "fixed lines only" in proforma.source_note


def test_a_batch_fetched_side_by_side_fails_only_the_contract_whose_system_refuses(app, fake):
    good = contract_for(customer_on(fake.base_url))
    refused_customer = customer_on(fake.base_url, "Globex Corporation")
    refused_customer.calllog_secret = "wrong-password"
    refused = contract_for(refused_customer)
    report = drafting.draft_period("2026-11")
    fetched = [path for method, path, _ in fake.fake.log if path.startswith("/api/now/table/")]
    assert len(fetched) == 3  # two tables for the good customer; the refused one stops at its first answer
    assert report.created == [f"PF-{good.number}-2026-11"]
    assert list(report.failed) == [refused.number] and "HTTP 401" in report.failed[refused.number]
    drafted = db.session.scalar(select(Proforma).where(Proforma.contract_id == good.id))
    assert len([line for line in drafted.lines if line.kind != "fixed"]) == len(expected_records(fake.base_url))


def test_drafting_fetches_the_contracts_call_logging_data_side_by_side(app):
    """This fake answers only when two requests are in flight at once: drafted one by one, both would fail."""
    from tests.support.calllog_servers import start_fake_answering_in_pairs

    running = start_fake_answering_in_pairs()
    try:
        contracts = [contract_for(customer_on(running.base_url, name))
                     for name in ("Acme Logistics GmbH", "Globex Corporation")]
        report = drafting.draft_period("2026-11")
    finally:
        running.stop()
    assert not report.failed and sorted(report.created) == sorted(f"PF-{c.number}-2026-11" for c in contracts)


def test_customers_on_one_instance_and_company_are_each_fetched_with_their_own_credentials(app, fake):
    good = contract_for(customer_on(fake.base_url))
    revoked_customer = customer_on(fake.base_url)  # same instance, same company, revoked password
    revoked_customer.calllog_secret = "revoked-password"
    revoked = contract_for(revoked_customer)
    report = drafting.draft_period("2026-11")
    assert report.created == [f"PF-{good.number}-2026-11"]
    assert list(report.failed) == [revoked.number] and "HTTP 401" in report.failed[revoked.number]


def test_an_outage_drafts_from_the_last_good_result_and_says_so(app, fake):
    customer = customer_on(fake.base_url)
    first, second = contract_for(customer), contract_for(customer)
    drafting.draft_period("2026-11", first.number)
    fake.stop()
    drafting.draft_period("2026-11", second.number, fetch=lambda *a: servicenow.fetch_period_cached(
        *a, sleep=lambda seconds: None))
    proforma = db.session.scalar(select(Proforma).where(Proforma.contract_id == second.id))
    assert proforma.source_stale and "unreachable" in proforma.source_note
    assert len([line for line in proforma.lines if line.kind != "fixed"]) == len(
        [line for line in db.session.scalar(select(Proforma).where(Proforma.contract_id == first.id)).lines
         if line.kind != "fixed"])


def test_reverse_charge_documents_carry_no_tax(app, fake):
    contract = contract_for(customer_on(fake.base_url), tax_rule="reverse_charge")
    drafting.draft_period("2026-11", contract.number)
    proforma = db.session.scalar(select(Proforma).where(Proforma.contract_id == contract.id))
    assert proforma.tax_total == 0 and proforma.gross_total == proforma.net_total > 0


def test_only_contracts_active_in_the_month_are_drafted(app):
    """The month's first and last days count: a contract active on either is drafted, one a day off is not."""
    starts_last_day = factories.ContractFactory(valid_from=date(2026, 11, 30))
    ends_first_day = factories.ContractFactory(valid_from=date(2025, 1, 1), valid_to=date(2026, 11, 1))
    ended = factories.ContractFactory(valid_from=date(2025, 1, 1), valid_to=date(2026, 10, 31))
    factories.ContractFactory(valid_from=date(2026, 12, 1))
    report = drafting.draft_period("2026-11")
    assert sorted(report.created) == sorted(f"PF-{c.number}-2026-11" for c in (starts_last_day, ends_first_day))
    assert not report.failed
    with pytest.raises(NotFound) as missing:
        drafting.draft_period("2026-11", ended.number)
    assert str(missing.value) == f"no contract {ended.number} active in 2026-11"


@pytest.mark.parametrize("period", ["2026-13", "11-2026", "", "2026-1"])
def test_a_bad_period_names_the_field(app, period):
    with pytest.raises(ValidationError, match="period"):
        drafting.draft_period(period)


def test_cli_drafts_and_reports(app, fake):
    contract = contract_for(customer_on(fake.base_url))
    db.session.commit()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["billing", "draft", "--period", "2026-11", "--contract", contract.number])
    assert first.exit_code == 0, first.output
    assert f"drafted  PF-{contract.number}-2026-11" in first.output
    again = runner.invoke(args=["billing", "draft", "--period", "2026-11", "--contract", contract.number])
    assert "exists   PF-" in again.output and "0 drafted, 1 already there" in again.output


def test_the_dashboard_button_drafts_the_month(app, client, make_user):
    from tests.support.web import csrf_from, login_as

    contract = contract_for(factories.CustomerFactory())
    login_as(app, client, make_user("accountant"))
    page = client.get("/dashboard").get_data(as_text=True)
    assert 'id="draft-form"' in page
    response = client.post("/billing/draft", data={"csrf_token": csrf_from(page), "period": "2026-11"})
    assert response.status_code == 302
    assert "2026-11: 1 drafted" in client.get("/dashboard").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(Proforma).where(Proforma.contract_id == contract.id)) is not None


def test_reviewers_have_no_draft_button(app, client, make_user):
    from tests.support.web import login_as

    login_as(app, client, make_user("reviewer"))
    assert 'id="draft-form"' not in client.get("/dashboard").get_data(as_text=True)



def test_batches_are_fetched_ahead_once_each(app, fake, monkeypatch):
    monkeypatch.setattr(drafting, "FETCH_BATCH", 2)
    contracts = [contract_for(customer_on(fake.base_url, name))
                 for name in ("Acme Logistics GmbH", "Globex Corporation", "Initech Services Ltd")]
    contracts += [contract_for(customer_on(fake.base_url, "Acme Logistics GmbH", code=f"ACME{i}")) for i in (2, 3)]
    report = drafting.draft_period("2026-11")
    assert not report.failed and len(report.created) == 5
    tables = [path for method, path, _ in fake.fake.log if path.startswith("/api/now/table/")]
    assert len(tables) == 10  # two tables for each of the five customers, none fetched twice


def test_a_failed_run_stops_the_fetch_it_started_ahead(app):
    """A draft that fails must not leave the next batch's fetch running through every contract: after close(),
    only the requests already under way finish (each worker's connection: its two tables), the rest are skipped."""
    from devtools.fake_servicenow import FakeServiceNow, company_name
    from portal.services.billing.calllog import Prefetch

    workers, companies = 2, 20
    slow = start_fake_servicenow(FakeServiceNow.with_companies(companies, latency=0.2))
    try:
        contracts = [contract_for(customer_on(slow.base_url, company_name(i), code=f"SLOW{i:02d}"))
                     for i in range(companies)]
        prefetch = Prefetch(2026, 11, workers=workers)
        prefetch.start(contracts)
        pending = prefetch._pending
        wait_until(lambda: len(slow.fake.log) >= workers)  # both workers are on the wire
        prefetch.close()
        answers = pending.result(timeout=60)  # the bound only keeps a broken close() from hanging the suite
        requests = len(slow.fake.log)
    finally:
        slow.stop()
    cancelled = [a for a in answers.values() if isinstance(a, servicenow.CallLogError) and "cancelled" in str(a)]
    assert requests <= 2 * workers, f"{requests} requests: the fetch went on after close()"
    assert len(answers) == companies and len(cancelled) >= companies - workers


def wait_until(condition, attempts: int = 500) -> None:
    """Poll a condition another thread makes true (at most ~5 s)."""
    import time

    for _ in range(attempts):
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("condition not reached")
