"""Importing official rate files: cross rates into the base currency (USD in the tests) with 8 decimals, per
currency, day and source; the quote currency itself too; a second import changes nothing; `flask rates import`."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.errors import ValidationError
from portal.extensions import db
from portal.models import ExchangeRate
from portal.services.masterdata import rate_import
from tests.integrations.test_rate_files import sample
from tests.support.paths import DATA

DAY = date(2026, 12, 3)


def stored(source: str) -> dict[tuple[str, date], Decimal]:
    rows = db.session.scalars(select(ExchangeRate).where(ExchangeRate.source == source))
    return {(row.currency, row.rate_date): row.rate for row in rows}


def test_the_ecb_file_becomes_usd_cross_rates_with_eight_decimals(app):
    report = rate_import.import_rates(sample("eurofxref-daily.xml"), name="eurofxref-daily.xml")
    assert (report.source, report.base, report.days, report.created) == ("ecb", "USD", [DAY], 4)
    assert stored("ecb") == {
        ("EUR", DAY): Decimal("1.05230000"),  # the quote currency: 1 EUR = 1.0523 USD
        ("JPY", DAY): Decimal("0.00666477"),  # 1.0523 / 157.89, half-up at the 8th decimal
        ("GBP", DAY): Decimal("1.26562030"),
        ("IDR", DAY): Decimal("0.00006269"),
    }


def test_the_bank_of_russia_file_becomes_usd_cross_rates(app):
    rate_import.import_rates(sample("XML_daily.xml"))
    assert stored("cbr") == {
        ("RUB", DAY): Decimal("0.01278037"),  # 1 / 78.2450
        ("EUR", DAY): Decimal("1.05226404"),  # 82.3344 / 78.2450
        ("JPY", DAY): Decimal("0.00666156"),  # (52.1234 / 100) / 78.2450
        ("KZT", DAY): Decimal("0.00191863"),  # (15.0123 / 100) / 78.2450
    }


def test_importing_the_same_file_again_changes_nothing_and_a_revised_rate_is_updated(app):
    first = rate_import.import_rates(sample("eurofxref-hist-90d.xml"))
    assert (first.created, first.updated, first.unchanged) == (4, 0, 0)  # EUR and JPY on two days
    again = rate_import.import_rates(sample("eurofxref-hist-90d.xml"))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)
    revised = sample("eurofxref-hist-90d.xml").replace(b'rate="157.89"', b'rate="160.00"')
    third = rate_import.import_rates(revised)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 3)
    assert stored("ecb")[("JPY", DAY)] == Decimal("0.00657688")  # 1.0523 / 160
    assert db.session.scalar(select(func.count()).select_from(ExchangeRate)) == 4


def test_a_day_without_the_base_currency_is_refused_whole(app):
    with pytest.raises(ValidationError) as refused:
        rate_import.import_rates(b"Date,JPY,GBP\n2026-12-03,157.89,0.83145\n", name="no-usd.csv")
    assert refused.value.errors == {"file": "no-usd.csv: 2026-12-03 has no USD rate, so nothing can be converted into "
                                            "the base currency USD"}


def test_a_cross_rate_too_small_for_eight_decimals_is_skipped_and_named(app):
    report = rate_import.import_rates(b"Date,USD,XYZ\n2026-12-03,1.0523,999999999\n")
    assert report.skipped == {"XYZ 2026-12-03": "the cross rate 1.05230000105e-9 must be greater than zero at 8 "
                                                "decimals"}
    assert set(stored("ecb")) == {("EUR", DAY)}


def test_a_broken_file_is_a_validation_error_naming_the_file_field(app):
    with pytest.raises(ValidationError) as refused:
        rate_import.import_rates(b"Date,USD\n2026-12-03,abc\n", name="rates.csv")
    assert refused.value.errors == {"file": "line 2: USD: 'abc' is not a number"}


def test_the_cli_imports_a_file_and_reports_in_json(app, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["rates", "import", str(DATA / "rates" / "eurofxref.csv"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"source": "ecb", "base": "USD", "days": ["2026-12-03"], "created": 30,
                                         "updated": 0, "unchanged": 0, "skipped": {}}
    again = runner.invoke(args=["rates", "import", str(DATA / "rates" / "eurofxref.csv")])
    assert again.stdout.strip() == "ecb: 2026-12-03 into USD: 0 new, 0 changed, 30 unchanged, 0 skipped."
    broken = tmp_path / "broken.xml"
    broken.write_bytes(b"<ValCurs Date='03.12.2026'><Valute>")
    refused = runner.invoke(args=["rates", "import", str(broken), "--source", "cbr"])
    assert refused.exit_code == 1 and refused.stderr.startswith("Error: file: broken.xml: not well-formed XML")
