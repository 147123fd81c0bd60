"""ServiceNow Table API client: a company's resolved incidents and closed requests for one month."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, Protocol

import requests

from portal.errors import UpstreamError
from portal.integrations import http
from portal.integrations.retry import RetryPolicy, utcnow

log = logging.getLogger(__name__)

INCIDENTS, REQUESTS = "incident", "sc_req_item"
TOKEN_PATH = "/oauth_token.do"  # noqa: S105 - a path, not a password
STAMP = "%Y-%m-%d %H:%M:%S"
DONE_STATES = {INCIDENTS: ("6", "7"), REQUESTS: ("3",)}  # Resolved/Closed; Closed Complete
DATE_FIELD = {INCIDENTS: "resolved_at", REQUESTS: "closed_at"}
FIELDS = {
    INCIDENTS: "sys_id,number,priority,short_description,state,resolved_at,company",
    REQUESTS: "sys_id,number,cat_item,short_description,state,closed_at,company",
}
SCHEMES = ("http", "https")
STATUS_HINTS = {400: "query rejected", 401: "bad credentials", 403: "the user may not read this table (role or ACL)",
                404: "no such table or wrong base URL"}


class CallLogError(UpstreamError):
    """The call-logging system failed or answered something unusable; names the table, its HTTP status or record."""

    def __init__(self, message: str, *, table: str, http_status: int | None = None, sys_id: str | None = None,
                 transient: bool = False):
        super().__init__(message)
        self.table, self.http_status, self.sys_id, self.transient = table, http_status, sys_id, transient


@dataclass(frozen=True, repr=False)
class Connection:
    """Where and as whom to read; `secret` is the password (basic, OAuth password grant) or client secret."""

    base_url: str
    company: str
    auth: Literal["basic", "oauth"] = "basic"
    username: str = ""
    secret: str = ""
    client_id: str = ""
    client_secret: str = ""  # OAuth password grant only; client_credentials takes `secret`
    timeout: float = 10.0

    def __post_init__(self):
        try:
            http.Guard(self.base_url, SCHEMES)  # a bad scheme or port, credentials in the URL: refused now
        except http.RefusedURL as exc:
            raise ValueError(f"base_url: {exc}") from exc
        if self.auth not in ("basic", "oauth"):
            raise ValueError(f"auth must be 'basic' or 'oauth', not {self.auth!r}")
        if not self.company or "^" in self.company:
            raise ValueError(f"company name must be non-empty and free of '^': {self.company!r}")

    def __repr__(self) -> str:
        return (f"Connection(base_url={self.base_url!r}, company={self.company!r}, auth={self.auth!r}, "
                f"username={self.username!r}, client_id={self.client_id!r}, secret='***', timeout={self.timeout})")


@dataclass(frozen=True)
class ServiceRecord:
    """One billable incident or service request, normalised from a Table API row."""

    kind: Literal["incident", "request"]
    external_id: str
    number: str
    priority: str | None
    catalog_item: str | None
    short_description: str
    closed_at: datetime  # UTC, naive
    raw: dict = field(hash=False, repr=False)


@dataclass(frozen=True)
class Period:
    """A company's billable records for one month; `stale` when served from the cache after a failure."""

    company: str
    year: int
    month: int
    incidents: tuple[ServiceRecord, ...]
    requests: tuple[ServiceRecord, ...]
    fetched_at: datetime  # UTC, naive
    stale: bool = False
    stale_reason: str = ""

    @property
    def records(self) -> tuple[ServiceRecord, ...]:
        """Incidents then requests."""
        return self.incidents + self.requests

    def to_json(self) -> str:
        """Serialize for the cache (datetimes as ISO strings)."""
        return json.dumps(asdict(self), default=datetime.isoformat, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Period:
        """Inverse of to_json."""
        data = json.loads(text)
        for kind in ("incidents", "requests"):
            data[kind] = tuple(ServiceRecord(**{**r, "closed_at": datetime.fromisoformat(r["closed_at"])})
                               for r in data[kind])
        data["fetched_at"] = datetime.fromisoformat(data["fetched_at"])
        return cls(**data)


class PeriodCache(Protocol):
    """Where the last good answer per company and month is kept (in memory in tests, the DB in the portal)."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...


class MemoryCache(dict):
    """A PeriodCache in a dict (tests, scripts)."""

    def set(self, key: str, value: str) -> None:
        """Store or replace."""
        self[key] = value


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """First instant of the month and of the next one (UTC)."""
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1..12, not {month}")
    return datetime(year, month, 1), datetime(year + month // 12, month % 12 + 1, 1)


def encoded_query(company: str, table: str, start: datetime, end: datetime) -> str:
    """The sysparm_query selecting the table's finished records of `company` closed in [start, end)."""
    date = DATE_FIELD[table]
    return "^".join([f"company.name={company}", f"stateIN{','.join(DONE_STATES[table])}",
                     f"{date}>={start:{STAMP}}", f"{date}<{end:{STAMP}}", "ORDERBYnumber"])


def cache_key(connection: Connection, year: int, month: int) -> str:
    """Cache key of one company's month on one instance, as one account sees it (accounts may differ in what
    they may read; the secret is never part of the key)."""
    account = connection.username or connection.client_id
    return f"servicenow|{connection.base_url.rstrip('/')}|{connection.company}|{account}|{year:04d}-{month:02d}"


def fetch_period(connection: Connection, year: int, month: int, *, sleep: Callable[[float], Any] = time.sleep,
                 retry: RetryPolicy = RetryPolicy(), page_size: int = 200,
                 now: Callable[[], datetime] = utcnow) -> Period:
    """Resolved/closed incidents and closed-complete requests of the connection's company in the month."""
    start, end = month_bounds(year, month)
    found = {}
    with closing(_Reader(connection, sleep, retry)) as reader:
        for table in (INCIDENTS, REQUESTS):
            rows = reader.rows(table, encoded_query(connection.company, table, start, end), page_size)
            found[table] = tuple(_normalise(table, row, connection.company, start, end) for row in _unique(rows))
    log.info("ServiceNow %s %04d-%02d: %d incidents, %d requests", connection.company, year, month,
             len(found[INCIDENTS]), len(found[REQUESTS]))
    return Period(connection.company, year, month, found[INCIDENTS], found[REQUESTS], now())


def fetch_periods(connections: list[Connection], year: int, month: int, workers: int = 8,
                  stop: threading.Event | None = None, **options) -> dict[Connection, Period | CallLogError]:
    """fetch_period for many connections side by side (the calls wait on the network, not the CPU); each
    answer, or the CallLogError it ended with, by connection (credentials included: two customers on one
    instance may see different records). No database work happens here.

    Setting `stop` ends the work early: fetches not begun are skipped and retries stop waiting.
    """
    stop = stop or threading.Event()

    def interruptible_sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise CallLogError("fetch cancelled", table="*", transient=True)

    def one(connection: Connection) -> Period | CallLogError:
        if stop.is_set():
            return CallLogError("fetch cancelled", table="*", transient=True)
        try:
            return fetch_period(connection, year, month, **{"sleep": interruptible_sleep, **options})
        except CallLogError as exc:
            return exc
        except Exception as exc:  # a bug or an odd answer fails this connection only, not the whole run
            log.exception("ServiceNow %s %04d-%02d: unexpected failure", connection.company, year, month)
            return CallLogError(f"unexpected failure reading {connection.company} ({type(exc).__name__}: {exc})",
                                table="*")

    unique = list(dict.fromkeys(connections))
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(unique) or 1)),
                            thread_name_prefix="servicenow") as pool:
        return dict(zip(unique, pool.map(one, unique), strict=True))


def fetch_period_cached(connection: Connection, year: int, month: int, cache: PeriodCache, *,
                        answer: Period | CallLogError | None = None, **options) -> Period:
    """fetch_period, storing each good answer; when the system is unreachable, the last one marked stale.

    `answer` is the outcome of a fetch already made (fetch_periods), used instead of fetching again.
    """
    key = cache_key(connection, year, month)
    try:
        if isinstance(answer, CallLogError):
            raise answer.with_traceback(None)  # one answer may serve several contracts
        period = answer or fetch_period(connection, year, month, **options)
    except CallLogError as exc:
        cached = cache.get(key) if exc.transient else None
        try:
            period = Period.from_json(cached) if cached else None
        except (ValueError, KeyError, TypeError):
            log.exception("ServiceNow cache entry %s is unreadable", key)
            period = None
        if period is None:
            raise
        log.warning("ServiceNow unreachable (%s); using the answer cached for %s", exc, key)
        return replace(period, stale=True, stale_reason=str(exc))
    cache.set(key, period.to_json())
    return period


class _Reader:
    """One fetch over one HTTP session: authentication (an OAuth token is fetched once), retried requests."""

    def __init__(self, connection: Connection, sleep: Callable[[float], Any], retry: RetryPolicy):
        self.connection, self.token = connection, None
        # The only POST is the OAuth token grant: a repeat just issues another token, so it is retried like a GET.
        self.web = http.session(connection.base_url, label=f"ServiceNow {connection.company}",
                                timeout=connection.timeout, policy=retry, sleep=sleep, schemes=SCHEMES,
                                retry_methods={"GET", "POST"}, env_proxies=True)
        self.web.headers["Accept"] = "application/json"

    def close(self) -> None:
        """Release the session's connections."""
        self.web.close()

    def rows(self, table: str, query: str, page_size: int) -> list[dict]:
        """Every row matching the query, page by page."""
        rows: list[dict] = []
        while True:
            page, total = self._page(table, query, page_size, len(rows))
            rows.extend(page)
            if len(page) < page_size or (total is not None and len(rows) >= total):
                return rows

    def _page(self, table: str, query: str, limit: int, offset: int) -> tuple[list[dict], int | None]:
        params = {"sysparm_query": query, "sysparm_fields": FIELDS[table], "sysparm_limit": limit,
                  "sysparm_offset": offset, "sysparm_display_value": "all", "sysparm_exclude_reference_link": "true"}
        response = self._call(table, "GET", "/api/now/table/" + table, params=params,
                              headers={"Authorization": self._authorization()})
        result = _json(table, response.content).get("result")
        if not isinstance(result, list):
            raise CallLogError(f"{table}: answer has no 'result' list", table=table)
        if not all(isinstance(row, dict) for row in result):
            raise CallLogError(f"{table}: the 'result' list holds something other than records", table=table)
        total = response.headers.get("X-Total-Count")
        return result, int(total) if total and total.isdigit() else None

    def _authorization(self) -> str:
        conn = self.connection
        if conn.auth == "basic":
            return "Basic " + base64.b64encode(f"{conn.username}:{conn.secret}".encode()).decode()
        if self.token is None:
            self.token = self._fetch_token()
        return f"Bearer {self.token}"

    def _fetch_token(self) -> str:
        conn, label = self.connection, TOKEN_PATH.lstrip("/")
        if conn.username:
            form = {"grant_type": "password", "username": conn.username, "password": conn.secret,
                    "client_id": conn.client_id, "client_secret": conn.client_secret}
        else:
            form = {"grant_type": "client_credentials", "client_id": conn.client_id, "client_secret": conn.secret}
        token = _json(label, self._call(label, "POST", TOKEN_PATH, data=form).content).get("access_token")
        if not token:
            raise CallLogError(f"{label}: answer has no access_token", table=label)
        return token

    def _call(self, table: str, method: str, path: str, **options) -> requests.Response:
        """One request (the session retries it); a failure or refusal raises CallLogError."""
        try:
            response = self.web.request(method, self.connection.base_url.rstrip("/") + path, **options)
        except http.RefusedURL as exc:
            raise CallLogError(f"{table}: {exc}", table=table) from exc
        except requests.RequestException as exc:
            raise _gave_up(table, http.attempts(exc), http.reason(exc)) from exc
        if response.status_code in http.BUSY:
            raise _gave_up(table, http.attempts(response), f"HTTP {response.status_code}")
        if not 200 <= response.status_code < 300:
            raise _http_error(table, response)
        return response


def _gave_up(table: str, attempts: int, why: str) -> CallLogError:
    return CallLogError(f"{table}: no good answer after {attempts} attempts ({why})", table=table, transient=True)


def _http_error(table: str, response: requests.Response) -> CallLogError:
    status = response.status_code
    try:
        detail = (json.loads(response.content or b"{}").get("error") or {}).get("message", "")
    except (ValueError, AttributeError):
        detail = ""
    words = ", ".join(filter(None, [STATUS_HINTS.get(status), detail]))
    return CallLogError(f"{table}: HTTP {status}" + (f" ({words})" if words else ""), table=table, http_status=status)


def _json(table: str, body: bytes) -> dict:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise CallLogError(f"{table}: answer is not JSON", table=table) from exc
    if not isinstance(data, dict):
        raise CallLogError(f"{table}: answer is not a JSON object", table=table)
    return data


def _unique(rows: list[dict]) -> list[dict]:
    """Drop repeats of a sys_id (offset paging over data that changes can repeat a row)."""
    unique: dict[str, dict] = {}
    for row in rows:
        unique.setdefault(_value(row, "sys_id"), row)
    return list(unique.values())


def _value(row: dict, name: str) -> str:
    item = row.get(name)
    return (item.get("value") if isinstance(item, dict) else item) or ""


def _display(row: dict, name: str) -> str:
    item = row.get(name)
    return (item.get("display_value") if isinstance(item, dict) else item) or ""


def _normalise(table: str, row: dict, company: str, start: datetime, end: datetime) -> ServiceRecord:
    sys_id, number = _value(row, "sys_id"), _value(row, "number")
    if not sys_id or not number:
        raise _record_error(table, sys_id or "(no sys_id)", f"missing {'number' if sys_id else 'sys_id'}")
    closed_at = _closed_at(table, row, sys_id)
    if _display(row, "company") != company or not start <= closed_at < end or \
            _value(row, "state") not in DONE_STATES[table]:
        raise _record_error(table, sys_id, f"{number} does not match the query (company {_display(row, 'company')!r}, "
                            f"state {_value(row, 'state')!r}, {closed_at:{STAMP}}); the instance ignored the query "
                            "or reads dates in a time zone other than UTC")
    text = _display(row, "short_description")
    if table == INCIDENTS:
        return ServiceRecord("incident", sys_id, number, _priority(table, row, sys_id), None, text, closed_at, row)
    item = _display(row, "cat_item")
    if not item:
        raise _record_error(table, sys_id, f"{number} has no catalog item")
    return ServiceRecord("request", sys_id, number, None, item, text, closed_at, row)


def _closed_at(table: str, row: dict, sys_id: str) -> datetime:
    name = DATE_FIELD[table]
    try:
        return datetime.strptime(_value(row, name), STAMP)
    except ValueError as exc:
        raise _record_error(table, sys_id, f"{name} {_value(row, name)!r} is not a '{STAMP}' date") from exc


def _priority(table: str, row: dict, sys_id: str) -> str:
    priority = _value(row, "priority")
    if priority not in ("1", "2", "3", "4", "5"):
        raise _record_error(table, sys_id, f"priority {priority!r} is not 1..5")
    return f"P{priority}"


def _record_error(table: str, sys_id: str, problem: str) -> CallLogError:
    return CallLogError(f"{table} record {sys_id}: {problem}", table=table, sys_id=sys_id)
