"""The access matrix's probes: one request with its expected answer, checked against a before/after snapshot of
every table (a refused request must change nothing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from portal.extensions import db

LOGIN = "<sign-in>"  # a Probe.location meaning "/login?next=<the requested path>"


@dataclass
class Probe:
    endpoint: str
    method: str
    url: str
    status: int
    location: str | None = None  # the redirect target's path (LOGIN also checks ?next=)
    data: dict = field(default_factory=dict)
    gone: tuple | None = None  # (table, id) the request must delete; otherwise NOTHING in the database may change
    body: bytes | None = None  # exact response body (downloads)
    mimetype: str | None = None
    audits: str | None = None  # the one audit action the request must add (a refused sign-in); nothing else changes


def snapshot() -> dict:
    return {t.name: db.session.execute(select(t).order_by(*t.primary_key.columns)).all()
            for t in db.metadata.sorted_tables}


def check(client, probe: Probe, token: str) -> list[str]:
    """Send the probe; return what differs from its expectation."""
    before = snapshot()
    if probe.method == "POST":
        response = client.post(probe.url, data={"csrf_token": token, **probe.data})
    else:
        response = client.get(probe.url)
    body = response.get_data()  # also drains streamed exports
    where, errors = f"{probe.method} {probe.url}", []
    if response.status_code != probe.status:
        errors.append(f"{where}: got {response.status_code}, expected {probe.status}")
    if probe.location is not None and response.status_code == 302:
        target = urlsplit(response.headers.get("Location", ""))
        nxt = parse_qs(target.query).get("next", [""])[0]
        if probe.location == LOGIN and (target.path != "/login" or not nxt.startswith(urlsplit(probe.url).path)):
            errors.append(f"{where}: redirected to {target.geturl()}, expected sign-in with next={probe.url}")
        elif probe.location != LOGIN and target.path != probe.location:
            errors.append(f"{where}: redirected to {target.geturl()}, expected {probe.location}")
    if probe.mimetype and response.status_code == probe.status and response.mimetype != probe.mimetype:
        errors.append(f"{where}: content type {response.mimetype}, expected {probe.mimetype}")
    if probe.body is not None and response.status_code == 200 and body != probe.body:
        errors.append(f"{where}: wrong file content")
    after = snapshot()
    if probe.gone:
        table, row_id = probe.gone
        if any(row.id == row_id for row in after[table.name]):
            errors.append(f"{where}: {table.name} {row_id} was not deleted")
    elif after != before:
        changed = sorted(name for name in before if before[name] != after[name])
        if probe.audits and changed == ["audit_events"]:
            added = [row.action for row in after["audit_events"][len(before["audit_events"]):]]
            if added != [probe.audits]:
                errors.append(f"{where}: audited {added}, expected [{probe.audits!r}]")
        else:
            errors.append(f"{where}: changed the database ({', '.join(changed)})")
    if probe.audits and after == before:
        errors.append(f"{where}: did not audit {probe.audits!r}")
    return errors
