"""Jinja filters that show values to people: money with thousands separators, case data in words."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, has_request_context
from flask_login import current_user

from portal import money


def money_filter(amount, currency: str | None = None, code: bool = True) -> str:
    """`{{ amount | money(currency) }}`: grouped thousands, the currency's decimals (`code=False`: without the code)."""
    return money.display(amount, currency, code=code)


def case_value(value) -> str:
    """A process variable as a reader expects it: yes/no, grouped numbers, moments to the minute in the reader's time
    zone, days as they are."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, Decimal | float):  # amounts; integers are counts and ids, shown as they are
        return money.display(Decimal(str(value)))
    if isinstance(value, date):
        return local_time(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def local_time(value, zone: str | None = None) -> str:
    """`{{ task.due_at | local_time }}`: a stored (UTC) timestamp to the minute in the user's time zone."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):  # the ISO text the history gives
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return value.isoformat()  # a day is the same day everywhere
    return _as_utc(value).astimezone(ZoneInfo(zone or user_time_zone())).strftime("%Y-%m-%d %H:%M")


def utc_iso(value: datetime) -> str:
    """`<time datetime="{{ moment | utc_iso }}">`: the exact moment for machines, "2026-11-05T14:07:33Z"."""
    return _as_utc(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # the database keeps naive UTC


def user_time_zone() -> str:
    """The signed-in user's time zone, else the portal's DEFAULT_TIME_ZONE."""
    chosen = getattr(current_user, "time_zone", "") if has_request_context() else ""
    return chosen if known_time_zone(chosen) else current_app.config["DEFAULT_TIME_ZONE"]


def known_time_zone(name: str | None) -> bool:
    """Whether `name` is an IANA time zone this machine knows ("Europe/Berlin")."""
    try:
        ZoneInfo(name or "")
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def plain_number(value) -> str:
    """`{{ line.quantity | plain_number }}`: digits as typed, no trailing zeros, never "1E+1" (what normalize() gives
    for 10), which the parser would refuse when the form is sent back."""
    if value is None:
        return ""
    return format(money.D(value).normalize(), "f")


FILTERS = {"money": money_filter, "case_value": case_value, "local_time": local_time, "utc_iso": utc_iso,
           "plain_number": plain_number}
