"""ServiceNow client against the fake server over real loopback HTTP (no mocks of our code)."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import datetime

import pytest

from devtools.fake_servicenow import (
    CLIENT_ID,
    CLIENT_SECRET,
    PASSWORD,
    USERNAME,
    FakeServiceNow,
    start_fake_servicenow,
    sys_id,
)
from portal.integrations.servicenow import (
    CallLogError,
    Connection,
    MemoryCache,
    Period,
    RetryPolicy,
    fetch_period,
    fetch_period_cached,
)

pytestmark = pytest.mark.no_db

ACME, GLOBEX, INITECH = "Acme Logistics GmbH", "Globex Corporation", "Initech Services Ltd"
FETCHED = datetime(2026, 12, 1, 6, 0)


@pytest.fixture
def server():
    running = start_fake_servicenow()
    yield running
    running.stop()


@pytest.fixture
def sleeps() -> list[float]:
    return []


def basic(server, company=ACME, password=PASSWORD, **options) -> Connection:
    return Connection(server.base_url, company, username=USERNAME, secret=password, **options)


def fetch(connection, sleeps, year=2026, month=11, **options) -> Period:
    return fetch_period(connection, year, month, sleep=sleeps.append, now=lambda: FETCHED, **options)


def numbers(records) -> list[str]:
    return [record.number for record in records]


@pytest.mark.parametrize(
    ("company", "month", "incidents", "requests"),
    [
        (ACME, 11, ["INC0010008", "INC0010009", "INC0010010", "INC0010011", "INC0010012", "INC0010013"],
         ["RITM0020003", "RITM0020004", "RITM0020007"]),
        (ACME, 10, ["INC0010005", "INC0010006", "INC0010007"], ["RITM0020002"]),
        (GLOBEX, 11, ["INC0010022", "INC0010023", "INC0010024"], ["RITM0020010", "RITM0020011"]),
        (INITECH, 9, ["INC0010027", "INC0010028"], ["RITM0020013"]),
    ],
)
def test_month_and_company_select_exactly_the_finished_records(server, sleeps, company, month, incidents, requests):
    period = fetch(basic(server, company), sleeps, month=month)
    assert (numbers(period.incidents), numbers(period.requests)) == (incidents, requests)
    assert (period.company, period.year, period.month, period.stale, period.fetched_at) == (
        company, 2026, month, False, FETCHED)


def test_records_are_normalised(server, sleeps):
    period = fetch(basic(server), sleeps)
    first, laptop = period.incidents[0], period.requests[1]
    assert (first.kind, first.external_id, first.priority, first.catalog_item, first.closed_at) == (
        "incident", sys_id("INC0010008"), "P1", None, datetime(2026, 11, 1))
    assert first.short_description == "Core switch failure in the Hamburg data centre"
    assert [r.priority for r in period.incidents] == ["P1", "P2", "P3", "P3", "P4", "P2"]
    assert (laptop.kind, laptop.number, laptop.priority, laptop.catalog_item, laptop.closed_at) == (
        "request", "RITM0020004", None, "New laptop setup", datetime(2026, 11, 17, 14, 20))
    assert laptop.raw["cat_item"]["value"] == sys_id("laptop")


def test_pagination_reads_every_page(server, sleeps):
    period = fetch(basic(server), sleeps, page_size=2)
    assert numbers(period.records) == numbers(fetch(basic(server), sleeps).records)
    offsets = [(path.rsplit("/", 1)[1], args["sysparm_offset"]) for _, path, args in server.fake.log[:5]]
    assert offsets == [("incident", "0"), ("incident", "2"), ("incident", "4"),
                       ("sc_req_item", "0"), ("sc_req_item", "2")]


@pytest.mark.parametrize("grant", ["client_credentials", "password"])
def test_oauth_token_is_fetched_once_and_used(server, sleeps, grant):
    if grant == "password":
        connection = Connection(server.base_url, ACME, auth="oauth", username=USERNAME, secret=PASSWORD,
                                client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    else:
        connection = Connection(server.base_url, ACME, auth="oauth", client_id=CLIENT_ID, secret=CLIENT_SECRET)
    period = fetch(connection, sleeps, page_size=2)
    assert len(period.incidents) == 6 and len(period.requests) == 3
    assert [path for _, path, _ in server.fake.log].count("/oauth_token.do") == 1


def test_bad_oauth_client_secret_names_the_token_endpoint(server, sleeps):
    connection = Connection(server.base_url, ACME, auth="oauth", client_id=CLIENT_ID, secret="wrong")
    with pytest.raises(CallLogError, match=r"oauth_token\.do: HTTP 401") as caught:
        fetch(connection, sleeps)
    assert caught.value.http_status == 401 and sleeps == []


def test_wrong_password_is_a_401_without_retry(server, sleeps):
    with pytest.raises(CallLogError, match=r"incident: HTTP 401 \(bad credentials, User Not Authenticated\)") as caught:
        fetch(basic(server, password="not-the-password"), sleeps)
    assert (caught.value.table, caught.value.http_status, caught.value.transient) == ("incident", 401, False)
    assert sleeps == [] and len(server.fake.log) == 1


def test_503_twice_then_success_is_retried_with_growing_delays(server, sleeps):
    server.fake.fail_next(2, status=503)
    period = fetch(basic(server), sleeps)
    assert len(period.incidents) == 6
    assert sleeps == [1.0, 2.0]
    assert len(server.fake.log) == 4  # two failures, then the incident and request pages


def test_retry_after_is_honoured(server, sleeps):
    server.fake.fail_next(1, status=429, retry_after="7")
    assert len(fetch(basic(server), sleeps).requests) == 3
    assert sleeps == [7.0]


def test_gives_up_after_the_last_attempt(server, sleeps):
    server.fake.fail_next(10, status=502)
    with pytest.raises(CallLogError, match="incident: no good answer after 3 attempts") as caught:
        fetch(basic(server), sleeps, retry=RetryPolicy(attempts=3, base_delay=0.5))
    assert caught.value.transient and sleeps == [0.5, 1.0]


def test_a_timeout_is_retried(server, sleeps):
    server.fake.delay_next(1, 0.6)
    period = fetch(basic(server, timeout=0.2), sleeps)
    assert len(period.incidents) == 6 and sleeps == [1.0]


def test_server_down_serves_the_cached_period_marked_stale(server, sleeps):
    cache = MemoryCache()
    fresh = fetch_period_cached(basic(server), 2026, 11, cache, sleep=sleeps.append, now=lambda: FETCHED)
    server.stop()
    stale = fetch_period_cached(basic(server), 2026, 11, cache, sleep=sleeps.append, now=lambda: datetime(2026, 12, 2))
    assert stale.stale and "no good answer after 4 attempts" in stale.stale_reason
    assert stale.fetched_at == FETCHED and stale.records == fresh.records and not fresh.stale
    assert sleeps == [1.0, 2.0, 4.0]


def test_server_down_without_cache_raises(server, sleeps):
    server.stop()
    with pytest.raises(CallLogError, match="incident: no good answer after 4 attempts") as caught:
        fetch_period_cached(basic(server), 2026, 11, MemoryCache(), sleep=sleeps.append)
    assert caught.value.transient


def test_an_unreadable_cache_entry_raises_the_fetch_error(server, sleeps):
    cache = MemoryCache()
    fetch_period_cached(basic(server), 2026, 11, cache, sleep=sleeps.append)
    cache.set(next(iter(cache)), '{"company": "truncated')
    server.stop()
    with pytest.raises(CallLogError, match="no good answer"):
        fetch_period_cached(basic(server), 2026, 11, cache, sleep=sleeps.append)


def test_bad_credentials_are_not_hidden_by_the_cache(server, sleeps):
    cache = MemoryCache()
    fetch_period_cached(basic(server), 2026, 11, cache, sleep=sleeps.append)
    with pytest.raises(CallLogError, match="HTTP 401"):
        fetch_period_cached(basic(server, password="expired"), 2026, 11, cache, sleep=sleeps.append)


def test_period_survives_the_cache_round_trip(server, sleeps):
    period = fetch(basic(server), sleeps)
    assert Period.from_json(period.to_json()) == period


def test_secret_never_appears_in_repr_or_logs(server, sleeps, caplog):
    connection = basic(server, password="pa55-s3cret!", auth="basic")
    assert "pa55-s3cret!" not in repr(connection) and "pa55-s3cret!" not in str(connection)
    assert "secret='***'" in repr(connection)
    server.fake.fail_next(1)
    with caplog.at_level(logging.DEBUG), pytest.raises(CallLogError) as caught:
        fetch(connection, sleeps)
    assert "pa55-s3cret!" not in caplog.text + str(caught.value)


def test_a_record_without_number_names_its_sys_id(server, sleeps):
    del server.fake.find("INC0010009")["number"]
    with pytest.raises(CallLogError, match=f"incident record {sys_id('INC0010009')}: missing number") as caught:
        fetch(basic(server), sleeps)
    assert caught.value.sys_id == sys_id("INC0010009")


def test_an_unparseable_date_names_the_record_and_field(server, sleeps):
    server.fake.find("RITM0020004")["closed_at"] = "2026-11-17T14:20"
    with pytest.raises(CallLogError, match=f"sc_req_item record {sys_id('RITM0020004')}: closed_at '2026-11-17T14:20'"):
        fetch(basic(server), sleeps)


def test_an_instance_that_ignores_the_query_is_detected(server, sleeps):
    server.fake.ignore_query = True
    with pytest.raises(CallLogError, match="does not match the query"):
        fetch(basic(server), sleeps)


def test_custom_tables_can_be_served():
    running = start_fake_servicenow(FakeServiceNow(incidents=[], requests=[]))
    try:
        period = fetch_period(basic(running), 2026, 11, sleep=[].append)
    finally:
        running.stop()
    assert period.records == ()


def test_connection_and_month_are_validated(server, sleeps):
    with pytest.raises(ValueError, match="http"):
        Connection("file:///etc/passwd", ACME)
    with pytest.raises(ValueError, match="auth"):
        Connection(server.base_url, ACME, auth="kerberos")
    with pytest.raises(ValueError, match="month"):
        fetch(basic(server), sleeps, month=13)


def test_credentials_in_the_base_url_are_refused_without_showing_them(server):
    with pytest.raises(ValueError, match="credentials") as caught:
        Connection(server.base_url.replace("http://", "http://admin:hunter2@"), ACME)
    assert "hunter2" not in str(caught.value)


def test_a_redirect_to_another_host_is_refused_and_not_retried(server, sleeps):
    def elsewhere(environ, start_response):
        start_response("302 Found", [("Location", f"{server.base_url}/api/now/table/incident")])
        return [b""]

    running = start_fake_servicenow(elsewhere)  # the same fake on another port: another origin
    try:
        with pytest.raises(CallLogError, match=r"incident: refused to call http://127\.0\.0\.1:\d+/api") as caught:
            fetch(basic(running), sleeps)
    finally:
        running.stop()
    assert not caught.value.transient and sleeps == [] and server.fake.log == []


def test_503_with_retry_after_then_success_waits_as_asked(server, sleeps):
    server.fake.fail_next(2, status=503, retry_after="5")
    assert len(fetch(basic(server), sleeps).incidents) == 6
    assert sleeps == [5, 5] and len(server.fake.log) == 4


def test_december_reaches_into_the_next_year(server, sleeps):
    assert numbers(fetch(basic(server), sleeps, month=12).incidents) == ["INC0010014"]


def test_entry_point_serves_the_demo():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "devtools.fake_servicenow", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert f"http://127.0.0.1:{port}" in process.stdout.readline()
        period = fetch_period(Connection(f"http://127.0.0.1:{port}", GLOBEX, username=USERNAME, secret=PASSWORD),
                              2026, 10, sleep=[].append)
        assert numbers(period.records) == ["INC0010020", "INC0010021", "RITM0020009"]
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/now/table/incident", timeout=5)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_many_connections_are_fetched_side_by_side():
    """The fake answers only when two requests are in flight at once, so a one-by-one fetch would fail."""
    from portal.integrations.servicenow import fetch_periods
    from tests.support.calllog_servers import start_fake_answering_in_pairs

    running = start_fake_answering_in_pairs()
    try:
        connections = [basic(running, company) for company in (ACME, GLOBEX)]
        answers = fetch_periods(connections, 2026, 11, workers=2, retry=RetryPolicy(attempts=1))
    finally:
        running.stop()
    assert [answers[c].company for c in connections] == [ACME, GLOBEX]
    assert all(answers[c].incidents for c in connections)


def test_a_failing_connection_is_kept_with_its_error_and_the_others_are_fetched(server):
    from portal.integrations.servicenow import fetch_periods

    # Same instance and company, other credentials: each connection gets its own answer.
    wrong, right = basic(server, ACME, password="wrong"), basic(server, ACME)
    answers = fetch_periods([wrong, right], 2026, 11, workers=2)
    assert isinstance(answers[wrong], CallLogError) and "HTTP 401" in str(answers[wrong])
    assert answers[right].incidents


def odd_answers(rows: list):
    """A ServiceNow look-alike whose every table answers `rows` as its result."""
    import json as json_module

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json_module.dumps({"result": rows}).encode()]

    return start_fake_servicenow(app)


def test_a_result_that_is_not_a_list_of_records_names_the_table(sleeps):
    running = odd_answers(["not-a-record"])
    try:
        with pytest.raises(CallLogError, match="incident: the 'result' list holds something other than records"):
            fetch(basic(running), sleeps)
    finally:
        running.stop()


def test_an_unexpected_failure_fails_only_its_own_connection(server, caplog):
    from portal.integrations.servicenow import fetch_periods

    running = odd_answers([{"sys_id": ["a", "list"]}])  # unhashable: a TypeError deep in the parsing
    try:
        odd, good = basic(running), basic(server)
        answers = fetch_periods([odd, good], 2026, 11, workers=2)
    finally:
        running.stop()
    assert isinstance(answers[odd], CallLogError) and "unexpected failure reading" in str(answers[odd])
    assert "TypeError" in str(answers[odd]) and "unexpected failure" in caplog.text
    assert answers[good].incidents


def test_the_load_test_fake_gives_every_numbered_company_its_own_copy_of_the_demo_records(sleeps):
    from devtools.fake_servicenow import INDEXED_FROM, company_name

    fake = FakeServiceNow.with_companies(90)  # enough rows for the company index to answer
    assert len(fake.tables["incident"]) >= INDEXED_FROM
    running = start_fake_servicenow(fake)
    try:
        first, second, fourth = (fetch(basic(running, company_name(i)), sleeps) for i in (0, 1, 3))
    finally:
        running.stop()
    demo = start_fake_servicenow()
    try:
        acme, globex = (fetch(basic(demo, company), sleeps) for company in (ACME, GLOBEX))
    finally:
        demo.stop()
    assert numbers(first.records) == [f"{n}-00000" for n in numbers(acme.records)]
    assert numbers(second.records) == [f"{n}-00001" for n in numbers(globex.records)]
    assert numbers(fourth.records) == [f"{n}-00003" for n in numbers(acme.records)]
