"""The call-logging cache in the database: the newest good answer per key, on SQLite and PostgreSQL; a customer's
connection; the batches fetched ahead while drafting."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest

from portal.errors import ValidationError
from portal.extensions import db
from portal.integrations import servicenow
from portal.models import IntegrationCache
from portal.services.billing import calllog, drafting
from portal.services.billing.calllog import Prefetch
from tests.support import factories
from tests.support.drafting import contract_for, customer_on


def test_the_call_logging_cache_keeps_the_newest_answer(app):
    from portal.services.billing.calllog import DbCache

    cache = DbCache()
    cache.set("servicenow|x|Acme|2026-11", "first")
    cache.set("servicenow|x|Acme|2026-11", "second")
    db.session.flush()
    db.session.expire_all()
    assert cache.get("servicenow|x|Acme|2026-11") == "second" and cache.get("nothing") is None


# ---- found by the mutation run ---------------------------------------------------------------------------------------

KEY = "servicenow|http://calllog.example|Acme|ledgerflow|2026-11"


def stored(key: str) -> tuple[str, datetime]:
    db.session.flush()
    db.session.expire_all()
    row = db.session.get(IntegrationCache, key)
    return row.value, row.updated_at


def test_each_set_stamps_the_entry_with_the_time_it_was_set(app, monkeypatch):
    """The stamp comes from the clock at each set, on the insert and on the replacing update alike."""
    first, second = datetime(2026, 11, 2, 9, 0), datetime(2026, 11, 3, 9, 30)
    clock = iter([first, second])
    monkeypatch.setattr(calllog, "utcnow", lambda: next(clock))
    cache = calllog.DbCache()
    cache.set(KEY, "first")
    assert stored(KEY) == ("first", first)
    cache.set(KEY, "second")
    assert stored(KEY) == ("second", second)


@pytest.mark.parametrize(("auth", "url"), [("none", "https://acme.service-now.com"), ("basic", "")])
def test_a_customer_without_a_url_or_with_auth_none_has_no_call_logging_system(app, auth, url):
    customer = factories.CustomerFactory(calllog_url=url, calllog_auth=auth, calllog_company="Acme",
                                         calllog_username="ledgerflow", calllog_secret="pw")
    assert calllog.connection_for(customer) is None


def test_a_connection_carries_every_setting_of_the_customer(app):
    customer = factories.CustomerFactory(name="Acme Logistics GmbH", calllog_url="https://acme.service-now.com",
                                         calllog_company="", calllog_auth="oauth", calllog_username="ledgerflow",
                                         calllog_secret="password", calllog_client_id="portal-client",
                                         calllog_client_secret="client-secret")
    assert calllog.connection_for(customer) == servicenow.Connection(
        base_url="https://acme.service-now.com", company="Acme Logistics GmbH", auth="oauth", username="ledgerflow",
        secret="password", client_id="portal-client", client_secret="client-secret")


def test_secrets_not_set_are_empty_on_the_connection(app):
    customer = factories.CustomerFactory(calllog_url="https://acme.service-now.com", calllog_company="Acme",
                                         calllog_auth="oauth", calllog_username="", calllog_secret=None,
                                         calllog_client_id="portal-client", calllog_client_secret=None)
    assert calllog.connection_for(customer) == servicenow.Connection(
        base_url="https://acme.service-now.com", company="Acme", auth="oauth", username="", secret="",
        client_id="portal-client", client_secret="")


def test_a_setting_the_connection_refuses_names_the_customer_and_the_url_field(app):
    customer = factories.CustomerFactory(code="ACME", calllog_url="ftp://calllog.example", calllog_auth="basic",
                                         calllog_company="Acme", calllog_username="ledgerflow", calllog_secret="pw")
    with pytest.raises(ValidationError) as refused:
        calllog.connection_for(customer)
    assert refused.value.errors == {
        "calllog_url": "customer ACME: base_url: URL must be http or https: 'ftp://calllog.example'"}


def companies_asked_for(fake) -> list[str]:
    """The company of every table request the fake call-logging system received, in order."""
    return [args["sysparm_query"].split("^")[0].removeprefix("company.name=")
            for _, path, args in fake.fake.log if path.startswith("/api/now/table/")]


@pytest.mark.usefixtures("proforma_process")
def test_only_contracts_not_yet_drafted_for_the_month_are_fetched_ahead(app, fake):
    """Skipped: a contract drafted for the month already, a customer whose settings the connection refuses (its
    draft reports it), one without a call-logging system; the contracts after each of them are still fetched."""
    drafted_november = contract_for(factories.CustomerFactory())
    drafted_october = contract_for(factories.CustomerFactory())
    drafting.draft_period("2026-11", drafted_november.number)  # no call-logging system yet: no request
    drafting.draft_period("2026-10", drafted_october.number)
    for contract, company in ((drafted_november, "Drafted November"), (drafted_october, "Drafted October")):
        customer = contract.customer
        customer.calllog_url, customer.calllog_auth, customer.calllog_company = fake.base_url, "basic", company
        customer.calllog_username, customer.calllog_secret = "ledgerflow", "demo-servicenow-pass"
    refused = contract_for(customer_on("ftp://calllog.example", "Refused"))
    without = contract_for(factories.CustomerFactory())
    plain = contract_for(customer_on(fake.base_url, "Plain"))
    assert not fake.fake.log
    prefetch = Prefetch(2026, 11, workers=2)
    try:
        prefetch.start([drafted_november, refused, drafted_october, without, plain])
        prefetch.take()  # waits for the fetch
    finally:
        prefetch.close()
    assert sorted(companies_asked_for(fake)) == ["Drafted October"] * 2 + ["Plain"] * 2  # two tables each


def test_the_fetch_handed_out_answers_the_prefetched_month_only(app, fake):
    """The month fetched ahead is answered without a request; another month is fetched."""
    contract = contract_for(customer_on(fake.base_url))
    connection = calllog.connection_for(contract.customer)
    prefetch = Prefetch(2026, 11, workers=1)
    try:
        prefetch.start([contract])
        fetch = prefetch.take()
    finally:
        prefetch.close()
    assert len(companies_asked_for(fake)) == 2
    november = fetch(connection, 2026, 11, servicenow.MemoryCache())
    assert (november.month, len(companies_asked_for(fake))) == (11, 2)
    october = fetch(connection, 2026, 10, servicenow.MemoryCache())
    assert (october.month, len(companies_asked_for(fake))) == (10, 4)
    assert "resolved_at>=2026-10-01 00:00:00" in fake.fake.log[-2][2]["sysparm_query"]


def recording_fetch(calls: list):
    def fetch_periods(connections, year, month, workers, stop):
        calls.append((threading.current_thread().name, connections, year, month, workers, stop.is_set()))
        return {}
    return fetch_periods


def test_the_fetch_ahead_runs_once_on_the_prefetch_thread(app, monkeypatch):
    """The thread's name is what log records and thread dumps show for the background fetch."""
    calls = []
    monkeypatch.setattr(servicenow, "fetch_periods", recording_fetch(calls))
    contract = contract_for(customer_on("http://127.0.0.1:9"))
    prefetch = Prefetch(2026, 11, workers=3)
    try:
        prefetch.start([contract])
        prefetch.take()
    finally:
        prefetch.close()
    assert calls == [("calllog-prefetch_0", [calllog.connection_for(contract.customer)], 2026, 11, 3, False)]


def test_nothing_is_fetched_ahead_when_no_contract_has_a_call_logging_system(app, monkeypatch):
    calls = []
    monkeypatch.setattr(servicenow, "fetch_periods", recording_fetch(calls))
    prefetch = Prefetch(2026, 11, workers=3)
    try:
        prefetch.start([contract_for(factories.CustomerFactory())])
        prefetch.take()
    finally:
        prefetch.close()
    assert calls == []


def test_closing_does_not_wait_for_the_fetch_under_way_and_stops_it(app, monkeypatch):
    entered, release, finished = threading.Event(), threading.Event(), threading.Event()
    stops = []

    def slow_fetch(connections, year, month, workers, stop):
        stops.append(stop)
        entered.set()
        release.wait(10)  # a request on the wire, until the test lets it end
        finished.set()
        return {}
    monkeypatch.setattr(servicenow, "fetch_periods", slow_fetch)
    prefetch = Prefetch(2026, 11, workers=1)
    try:
        prefetch.start([contract_for(customer_on("http://127.0.0.1:9"))])
        assert entered.wait(5)
        prefetch.close()
        returned_while_running = not finished.is_set()
    finally:
        release.set()
    assert returned_while_running and stops[0].is_set()
