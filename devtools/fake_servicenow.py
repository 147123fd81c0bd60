"""A small fake ServiceNow (Table API + OAuth token endpoint) with demo data, for `make run` and the tests."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NamedTuple

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

USERNAME, PASSWORD = "ledgerflow", "demo-servicenow-pass"
CLIENT_ID, CLIENT_SECRET = "ledgerflow-demo", "demo-oauth-secret"
COMPANIES = {"acme": "Acme Logistics GmbH", "globex": "Globex Corporation", "initech": "Initech Services Ltd"}
CATALOG = {"laptop": "New laptop setup", "access": "Access request"}
PRIORITIES = {"1": "1 - Critical", "2": "2 - High", "3": "3 - Moderate", "4": "4 - Low", "5": "5 - Planning"}
STATES = {
    "incident": {"1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved", "7": "Closed", "8": "Canceled"},
    "sc_req_item": {"1": "Open", "2": "Work in Progress", "3": "Closed Complete", "4": "Closed Incomplete"},
}
REFERENCES = {"company": "core_company", "cat_item": "sc_cat_item"}
INDEXED_FROM = 1000  # rows in a table from which the company filter is answered from the index

# number  company  priority  state  resolved_at (or "- -" while open)  short description
INCIDENTS = """
INC0010001 acme 2 7 2026-09-02 08:14:00 Warehouse scanners offline in Hamburg hub
INC0010002 acme 3 7 2026-09-09 13:40:00 Outlook profile corrupt for a dispatcher
INC0010003 acme 4 7 2026-09-21 10:05:00 Printer on floor 2 reports toner error
INC0010004 acme 1 7 2026-09-28 02:31:00 Fleet tracking API down
INC0010005 acme 3 7 2026-10-06 11:20:00 VPN drops every ten minutes
INC0010006 acme 2 7 2026-10-14 16:45:00 ERP batch job failed overnight
INC0010007 acme 4 6 2026-10-31 23:59:59 Monitor flickering at reception
INC0010008 acme 1 6 2026-11-01 00:00:00 Core switch failure in the Hamburg data centre
INC0010009 acme 2 6 2026-11-04 09:12:00 Customs declaration portal times out
INC0010010 acme 3 7 2026-11-12 14:03:00 Shared mailbox not syncing
INC0010011 acme 3 6 2026-11-19 10:30:00 Label printer driver crashes
INC0010012 acme 4 6 2026-11-27 17:55:00 Replacement keyboard for the night shift
INC0010013 acme 2 6 2026-11-30 23:59:59 Route planner very slow
INC0010014 acme 4 6 2026-12-01 00:00:00 Password reset loop on a kiosk PC
INC0010015 acme 2 2 - - Forklift terminal stuck in a reboot loop
INC0010016 acme 3 1 - - Teams calls drop in meeting room Elbe
INC0010017 acme 3 8 2026-11-15 12:00:00 Duplicate of INC0010010
INC0010018 globex 1 7 2026-09-04 05:10:00 Payment gateway returns HTTP 500
INC0010019 globex 2 7 2026-09-17 15:22:00 Nightly backup of the CRM failed
INC0010020 globex 3 7 2026-10-01 09:00:00 New starter cannot log in to Jira
INC0010021 globex 4 7 2026-10-20 12:48:00 Desk phone has no dial tone
INC0010022 globex 2 6 2026-11-04 09:12:00 Warehouse Wi-Fi dead zone
INC0010023 globex 1 6 2026-11-09 03:37:00 Order API latency above SLA
INC0010024 globex 4 6 2026-11-23 16:05:00 Laptop battery swells
INC0010025 globex 3 3 - - Intermittent SSO failures for contractors
INC0010026 globex 2 2 - - Data warehouse load stuck
INC0010027 initech 3 7 2026-09-11 10:10:00 TPS report template missing
INC0010028 initech 4 7 2026-09-25 14:30:00 Stapler-tracking app crashes on start
INC0010029 initech 2 7 2026-10-08 08:55:00 File server share read-only
INC0010030 initech 1 7 2026-10-19 01:15:00 Mainframe batch window overran
INC0010031 initech 3 6 2026-10-30 17:40:00 Printer jams on every fax
INC0010032 initech 2 6 2026-11-02 11:11:00 Expense tool rejects all receipts
INC0010033 initech 3 6 2026-11-16 13:25:00 Calendar invites arrive twice
INC0010034 initech 4 7 2026-11-24 09:45:00 Mouse wheel not scrolling
INC0010035 initech 1 6 2026-11-28 22:05:00 Payroll export failed before the run
INC0010036 initech 4 1 - - Monitor arm broken in the basement office
"""

# number  company  catalog item  state  closed_at (or "- -" while open)  short description
REQUESTS = """
RITM0020001 acme laptop 3 2026-09-08 10:00:00 New laptop for a dispatcher
RITM0020002 acme access 3 2026-10-02 15:30:00 VPN access for an external auditor
RITM0020003 acme access 3 2026-11-03 08:45:00 SAP FI access for a new accountant
RITM0020004 acme laptop 3 2026-11-17 14:20:00 Laptop for the new warehouse manager
RITM0020005 acme laptop 4 2026-11-20 09:00:00 Laptop request withdrawn by the requester
RITM0020006 acme access 2 - - Shared drive access for the customs team
RITM0020007 acme access 3 2026-11-30 23:59:59 Fleet portal access for a driver lead
RITM0020008 globex laptop 3 2026-09-14 11:00:00 MacBook for a new designer
RITM0020009 globex access 3 2026-10-21 16:10:00 Salesforce access for an account manager
RITM0020010 globex laptop 3 2026-11-06 10:30:00 Developer laptop with 64 GB RAM
RITM0020011 globex access 3 2026-11-25 12:00:00 Admin access to the staging cluster
RITM0020012 globex laptop 1 - - Replacement laptop after a coffee spill
RITM0020013 initech access 3 2026-09-30 09:15:00 Access to the TPS archive
RITM0020014 initech laptop 3 2026-10-12 13:00:00 Laptop for a consultant
RITM0020015 initech laptop 3 2026-11-10 10:00:00 Laptop for a new hire in accounting
RITM0020016 initech access 4 2026-11-18 15:00:00 Access request rejected by the data owner
RITM0020017 initech access 2 - - Mainframe access for a summer intern
"""

TERM = re.compile(r"^([a-z_][a-z_.]*)(>=|<=|!=|=|>|<|IN)(.*)$")
COMPARE: dict[str, Callable[[str, str], bool]] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "IN": lambda a, b: a in b.split(","),
    ">=": lambda a, b: a != "" and a >= b, "<=": lambda a, b: a != "" and a <= b,
    ">": lambda a, b: a != "" and a > b, "<": lambda a, b: a != "" and a < b,
}


def sys_id(key: str) -> str:
    """A stable 32-hex sys_id derived from a number or name."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _stamp(date: str, clock: str, hours: int) -> tuple[str, str]:
    """(opened_at, finished_at) for a record finished at `date clock` that took `hours`."""
    if date == "-":
        return "2026-11-25 09:00:00", ""
    done = datetime.fromisoformat(f"{date} {clock}")
    return f"{done - timedelta(hours=hours):%Y-%m-%d %H:%M:%S}", f"{done:%Y-%m-%d %H:%M:%S}"


def demo_incidents() -> list[dict]:
    """The incident table of the demo, as stored field values."""
    rows = []
    for line in INCIDENTS.strip().splitlines():
        number, company, priority, state, date, clock, text = line.split(maxsplit=6)
        opened, resolved = _stamp(date, clock, 6 * int(priority))
        closed = resolved if state == "7" else ""
        rows.append({"sys_id": sys_id(number), "number": number, "short_description": text, "priority": priority,
                     "state": state, "company": sys_id(company), "opened_at": opened, "resolved_at": resolved,
                     "closed_at": closed, "sys_updated_on": resolved or opened})
    return rows


def demo_requests() -> list[dict]:
    """The sc_req_item table of the demo, as stored field values."""
    rows = []
    for line in REQUESTS.strip().splitlines():
        number, company, item, state, date, clock, text = line.split(maxsplit=6)
        opened, closed = _stamp(date, clock, 30)
        rows.append({"sys_id": sys_id(number), "number": number, "short_description": text, "cat_item": sys_id(item),
                     "state": state, "company": sys_id(company), "opened_at": opened, "closed_at": closed,
                     "sys_updated_on": closed or opened})
    return rows


def _error(status: int, message: str, detail: str = "") -> Response:
    body = {"error": {"message": message, "detail": detail}, "status": "failure"}
    return Response(json.dumps(body), status, mimetype="application/json")


class FakeServiceNow:
    """WSGI app: GET /api/now/table/{incident,sc_req_item}, POST /oauth_token.do, injectable failures."""

    def __init__(self, incidents: list[dict] | None = None, requests: list[dict] | None = None,
                 companies: dict[str, str] | None = None, latency: float = 0.0):
        self.tables = {"incident": demo_incidents() if incidents is None else incidents,
                       "sc_req_item": demo_requests() if requests is None else requests}
        self.names = {sys_id(k): v for k, v in {**COMPANIES, **(companies or {}), **CATALOG}.items()}
        # The company filter is answered from an index, as a real instance would: load tests hold many companies.
        self._company_ids = {name: key for key, name in self.names.items()}
        self._by_company = {table: {} for table in self.tables}
        for table, rows in self.tables.items():
            for row in rows:
                self._by_company[table].setdefault(row.get("company", ""), []).append(row)
        self.tokens: set[str] = set()
        self.log: list[tuple[str, str, dict]] = []  # (method, path, query args) of every request
        self.ignore_query = False  # mimic an instance that drops an invalid query and returns every row
        self._faults: list[tuple[int | None, str | None, float]] = []
        self.latency = latency  # seconds added to every answer, as a remote instance takes
        self._lock = threading.Lock()

    def fail_next(self, count: int, status: int = 503, retry_after: str | None = None) -> None:
        """Answer the next `count` requests with `status` (and a Retry-After header when given)."""
        with self._lock:
            self._faults.extend([(status, retry_after, 0.0)] * count)

    def delay_next(self, count: int, seconds: float) -> None:
        """Answer the next `count` requests only after `seconds` (to trip client timeouts)."""
        with self._lock:
            self._faults.extend([(None, None, seconds)] * count)

    def find(self, number: str) -> dict:
        """The stored record with this number (mutable, to corrupt it in tests)."""
        return next(r for rows in self.tables.values() for r in rows if r.get("number") == number)

    def __call__(self, environ, start_response):
        request = Request(environ)
        with self._lock:
            self.log.append((request.method, request.path, dict(request.args)))
            fault = self._faults.pop(0) if self._faults else None
        if self.latency:
            time.sleep(self.latency)
        response = self._faulty(fault) or self._dispatch(request)
        return response(environ, start_response)

    def _faulty(self, fault) -> Response | None:
        if fault is None:
            return None
        status, retry_after, seconds = fault
        time.sleep(seconds)
        if status is None:
            return None
        response = _error(status, "Service Unavailable" if status == 503 else f"HTTP {status}")
        if retry_after is not None:
            response.headers["Retry-After"] = retry_after
        return response

    def _dispatch(self, request: Request) -> Response:
        if request.path == "/oauth_token.do" and request.method == "POST":
            return self._token(request.form)
        match = re.fullmatch(r"/api/now/table/(\w+)", request.path)
        if not match:
            return _error(404, "Requested URI does not represent any resource")
        if request.method != "GET":
            return _error(405, "Method not allowed")
        if not self._authorized(request.headers.get("Authorization", "")):
            return _error(401, "User Not Authenticated", "Required to provide Auth information")
        if match.group(1) not in self.tables:
            return _error(400, f"Invalid table {match.group(1)}")
        return self._table(match.group(1), request.args)

    def _authorized(self, header: str) -> bool:
        kind, _, credentials = header.partition(" ")
        if kind == "Bearer":
            return credentials in self.tokens
        if kind != "Basic":
            return False
        try:
            return base64.b64decode(credentials).decode() == f"{USERNAME}:{PASSWORD}"
        except ValueError:
            return False

    def _token(self, form) -> Response:
        grant = form.get("grant_type")
        client_ok = form.get("client_id") == CLIENT_ID and form.get("client_secret") == CLIENT_SECRET
        user_ok = grant == "client_credentials" or (
            grant == "password" and form.get("username") == USERNAME and form.get("password") == PASSWORD)
        if not (client_ok and user_ok):
            return Response(json.dumps({"error_description": "access_denied", "error": "server_error"}), 401,
                            mimetype="application/json")
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        body = {"access_token": token, "scope": "useraccount", "token_type": "Bearer", "expires_in": 1799}
        return Response(json.dumps(body), mimetype="application/json")

    def _table(self, table: str, args) -> Response:
        try:
            rows = self._select(table, args.get("sysparm_query", ""))
            limit, offset = int(args.get("sysparm_limit", 10000)), int(args.get("sysparm_offset", 0))
        except ValueError as exc:
            return _error(400, "Invalid query", str(exc))
        fields = [f for f in args.get("sysparm_fields", "").split(",") if f]
        mode, links = args.get("sysparm_display_value", "false"), args.get("sysparm_exclude_reference_link") != "true"
        page = [self._render(table, row, fields, mode, links) for row in rows[offset:offset + limit]]
        response = Response(json.dumps({"result": page}), mimetype="application/json")
        response.headers["X-Total-Count"] = str(len(rows))
        return response

    @classmethod
    def with_companies(cls, count: int, latency: float = 0.0) -> FakeServiceNow:
        """The demo data copied for `count` numbered companies (load tests): company i gets the records of
        demo company i % 3 under its own numbers; its name is company_name(i)."""
        demo = list(COMPANIES)
        companies = {f"company{i:05d}": company_name(i) for i in range(count)}
        tables = {"incident": demo_incidents(), "sc_req_item": demo_requests()}
        copies = {table: [] for table in tables}
        for i, key in enumerate(companies):
            source = sys_id(demo[i % len(demo)])
            for table, rows in tables.items():
                copies[table] += [{**row, "sys_id": sys_id(f"{row['number']}-{i}"),
                                   "number": f"{row['number']}-{i:05d}", "company": sys_id(key)}
                                  for row in rows if row["company"] == source]
        return cls(copies["incident"], copies["sc_req_item"], companies, latency)

    def _select(self, table: str, query: str) -> list[dict]:
        company = re.search(r"(?:^|\^)company\.name=([^^]*)", query)
        # Only load-test tables use the index, built at construction: tests may move or add rows afterwards.
        if company and not self.ignore_query and len(self.tables[table]) >= INDEXED_FROM:
            rows = list(self._by_company[table].get(self._company_ids.get(company.group(1)), []))
        else:
            rows = list(self.tables[table])
        for term in filter(None, query.split("^")):
            if term.startswith("ORDERBY"):
                descending = term.startswith("ORDERBYDESC")
                name = term.removeprefix("ORDERBYDESC" if descending else "ORDERBY")
                rows.sort(key=lambda row, name=name: self._field(table, row, name), reverse=descending)
                continue
            match = TERM.match(term)
            if not match:
                raise ValueError(f"unsupported query term {term!r}")
            name, op, value = match.groups()
            if not self.ignore_query:
                rows = [row for row in rows if COMPARE[op](self._field(table, row, name), value)]
        return rows

    def _field(self, table: str, row: dict, name: str) -> str:
        base, _, attribute = name.partition(".")
        if attribute and base not in REFERENCES:
            raise ValueError(f"cannot dot-walk {name!r}")
        return self._display(table, base, row.get(base, "")) if attribute else row.get(name, "")

    def _display(self, table: str, name: str, value: str) -> str:
        if name in REFERENCES:
            return self.names.get(value, "")
        labels = PRIORITIES if name == "priority" else STATES[table] if name == "state" else {}
        return labels.get(value, value)

    def _render(self, table: str, row: dict, fields: list[str], mode: str, links: bool) -> dict:
        out = {}
        for name in fields or list(row):
            value, display = row.get(name, ""), self._display(table, name, row.get(name, ""))
            link = {"link": f"/api/now/table/{REFERENCES[name]}/{value}"} if name in REFERENCES and links else {}
            if mode == "all":
                out[name] = {"display_value": display, "value": value, **link}
            elif mode == "true":
                out[name] = display
            else:
                out[name] = {**link, "value": value} if link else value
        return out


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request (the tests make hundreds)."""

    def log_request(self, *args, **kwargs) -> None:
        pass


class RunningFake(NamedTuple):
    """A fake served in a background thread."""

    base_url: str
    stop: Callable[[], None]
    fake: FakeServiceNow


def company_name(i: int) -> str:
    """The name of numbered company `i` in FakeServiceNow.with_companies."""
    return f"Load test company {i:05d}"


def start_fake_servicenow(fake: FakeServiceNow | None = None, host: str = "127.0.0.1", port: int = 0) -> RunningFake:
    """Serve `fake` (the demo data by default) on a free loopback port; stop() makes it unreachable."""
    fake = fake or FakeServiceNow()
    server = make_server(host, port, fake, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-servicenow", daemon=True)
    thread.start()
    stopped = threading.Event()

    def stop() -> None:
        if not stopped.is_set():
            stopped.set()
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

    return RunningFake(f"http://{host}:{server.server_port}", stop, fake)


def main(argv: list[str] | None = None) -> None:
    """Serve the demo fake in the foreground: python -m devtools.fake_servicenow --port 8099."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--companies", type=int, default=0,
                        help="serve the demo records copied for this many numbered companies (load tests)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer (load tests)")
    options = parser.parse_args(argv)
    latency = options.latency_ms / 1000
    fake = FakeServiceNow.with_companies(options.companies, latency) if options.companies else \
        FakeServiceNow(latency=latency)
    server = make_server(options.host, options.port, fake, threaded=True, request_handler=_QuietHandler)
    print(f"Fake ServiceNow on http://{options.host}:{server.server_port} "
          f"(basic {USERNAME}/{PASSWORD}; OAuth client {CLIENT_ID}/{CLIENT_SECRET})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
