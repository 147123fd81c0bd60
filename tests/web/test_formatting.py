"""Times and numbers as people read them: stored UTC shown to the minute in the user's time zone, quantities in
plain digits; the portal's default time zone is checked at start."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from flask_login import login_user

from portal.config import ConfigError, build_config
from portal.web.formatting import case_value, known_time_zone, local_time, plain_number, user_time_zone, utc_iso

STORED = datetime(2026, 11, 5, 14, 7, 33)  # naive, UTC: what the database keeps


@pytest.mark.parametrize(("zone", "shown"), [
    ("Europe/Berlin", "2026-11-05 15:07"), ("America/New_York", "2026-11-05 09:07"),
    ("Asia/Kolkata", "2026-11-05 19:37"), ("UTC", "2026-11-05 14:07"),
])
def test_a_stored_time_is_shown_to_the_minute_in_the_zone_given(app, zone, shown):
    assert local_time(STORED, zone) == shown


def test_summer_time_is_followed(app):
    assert local_time(datetime(2026, 7, 1, 12, 0), "Europe/Berlin") == "2026-07-01 14:00"


def test_aware_times_iso_text_days_and_nothing(app):
    assert local_time(datetime(2026, 11, 5, 9, 7, tzinfo=timezone(timedelta(hours=-5))), "UTC") == "2026-11-05 14:07"
    assert local_time(STORED.replace(tzinfo=UTC).isoformat(), "Europe/Berlin") == "2026-11-05 15:07"
    assert local_time("2026-11-05T14:07:33", "Europe/Berlin") == "2026-11-05 15:07"  # the history's text
    assert local_time(date(2026, 11, 5), "Asia/Tokyo") == "2026-11-05"
    assert local_time(None) == "—" and local_time("") == "—"


def test_case_data_moments_are_shown_in_the_users_zone_and_days_as_they_are(app, make_user):
    user = make_user("guest", time_zone="Asia/Tokyo")
    with app.test_request_context():
        login_user(user)
        assert case_value(STORED) == "2026-11-05 23:07"
        assert case_value(datetime(2026, 11, 5, 14, 7, tzinfo=UTC)) == "2026-11-05 23:07"
        assert case_value(date(2026, 11, 5)) == "2026-11-05"


@pytest.mark.no_db
def test_the_exact_moment_for_machines_is_utc_to_the_second():
    assert utc_iso(STORED) == "2026-11-05T14:07:33Z"
    assert utc_iso(datetime(2026, 11, 5, 9, 7, 33, tzinfo=timezone(timedelta(hours=-5)))) == "2026-11-05T14:07:33Z"


def test_without_a_request_the_portals_default_applies(app):
    with app.app_context():
        assert user_time_zone() == "Europe/Berlin"
        assert local_time(STORED) == "2026-11-05 15:07"


@pytest.mark.parametrize(("chosen", "used"), [("Asia/Tokyo", "Asia/Tokyo"), ("", "Europe/Berlin"),
                                              ("Mars/Olympus_Mons", "Europe/Berlin")])
def test_the_signed_in_users_zone_wins_and_an_unknown_one_falls_back(app, make_user, chosen, used):
    user = make_user("guest", time_zone=chosen)
    with app.test_request_context():
        login_user(user)
        assert user_time_zone() == used


def test_the_default_follows_the_configuration(app, monkeypatch):
    monkeypatch.setitem(app.config, "DEFAULT_TIME_ZONE", "America/Sao_Paulo")
    with app.test_request_context():
        assert local_time(STORED) == "2026-11-05 11:07"


@pytest.mark.no_db
@pytest.mark.parametrize(("name", "known"), [("Europe/Berlin", True), ("UTC", True), ("Mars/Olympus_Mons", False),
                                             ("", False), (None, False), ("../../etc/passwd", False)])
def test_known_time_zones(name, known):
    assert known_time_zone(name) is known


@pytest.mark.no_db
@pytest.mark.parametrize(("value", "shown"), [(Decimal("10.0000"), "10"), (Decimal("1000000.0000"), "1000000"),
                                              (Decimal("2.5000"), "2.5"), (Decimal("0.0001"), "0.0001"),
                                              (Decimal("0E-4"), "0"), (None, "")])
def test_quantities_are_shown_in_plain_digits(value, shown):
    assert plain_number(value) == shown


@pytest.mark.no_db
def test_an_unknown_default_time_zone_stops_the_start(tmp_path):
    with pytest.raises(ConfigError, match="DEFAULT_TIME_ZONE must be a time zone name such as Europe/Berlin"):
        build_config(str(tmp_path), {"LEDGERFLOW_ENV": "testing", "DEFAULT_TIME_ZONE": "Europe/Atlantis"})
    assert build_config(str(tmp_path), {"LEDGERFLOW_ENV": "testing"})["DEFAULT_TIME_ZONE"] == "Europe/Berlin"
