"""Exchange rates from the official files (ECB, Bank of Russia): cross rates into the base currency, 8 decimals,
one row per currency, day and source; importing a file again changes nothing."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from portal import settings
from portal.errors import ValidationError
from portal.extensions import db
from portal.integrations import rate_files
from portal.models import ExchangeRate
from portal.money import quantize_rate
from portal.services.masterdata import fx, rules


@dataclass
class RateImport:
    """What an import did: per currency and day a new, changed or unchanged row; what it could not use, and why."""

    source: str
    base: str
    days: list[date]
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # "IRR 2026-12-03" -> why

    def as_dict(self) -> dict:
        return {"source": self.source, "base": self.base, "days": [day.isoformat() for day in self.days],
                "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "skipped": self.skipped}


def import_rates(content: bytes, source: str | None = None, name: str = "") -> RateImport:
    """Store the file's rates as cross rates into the base currency; ValidationError("file") names what is wrong."""
    try:
        rate_file = rate_files.read(content, source, name)
    except rate_files.RateFileError as exc:
        raise ValidationError("file", str(exc)) from None
    base = fx.base_currency()
    report = RateImport(rate_file.source, base, rate_file.days)
    stored = _stored(rate_file.source, report.days)
    for day, values in _by_day(rate_file).items():
        if base not in values:
            raise ValidationError("file", f"{name or 'file'}: {day.isoformat()} has no {base} rate, so nothing can "
                                          f"be converted into the base currency {base}")
        for currency, value in sorted(values.items()):
            if currency != base:
                _store(report, stored, currency, day, value / values[base])
    return report


def _stored(source: str, days: list[date]) -> dict[tuple[str, date], ExchangeRate]:
    """The source's rows of the file's days, read once (the ECB's history holds some 200,000 rates)."""
    rows = db.session.scalars(select(ExchangeRate).where(
        ExchangeRate.source == source, ExchangeRate.rate_date.between(days[0], days[-1])))
    return {(row.currency, row.rate_date): row for row in rows}


def _by_day(rate_file: rate_files.RateFile) -> dict[date, dict[str, Decimal]]:
    """Day -> currency -> its worth in the file's quote currency, the quote currency itself worth 1."""
    days: dict[date, dict[str, Decimal]] = defaultdict(lambda: {rate_file.quote_currency: Decimal(1)})
    for quote in rate_file.quotes:
        days[quote.day][quote.currency] = quote.value
    return dict(sorted(days.items()))


def _store(report: RateImport, stored: dict, currency: str, day: date, cross: Decimal) -> None:
    rate = quantize_rate(cross)
    try:
        rules.check_rate("rate", rate)
    except ValidationError as exc:
        report.skipped[f"{currency} {day.isoformat()}"] = f"the cross rate {cross:.12g} {exc.message} at 8 decimals"
        return
    existing = stored.get((currency, day))
    if existing is None:
        db.session.add(ExchangeRate(currency=currency, rate_date=day, rate=rate, source=report.source))
        report.created += 1
    elif existing.rate == rate:
        report.unchanged += 1
    else:
        existing.rate = rate  # the documents keep the rate they were booked at; this changes only later lookups
        report.updated += 1


def fetch_feeds(feeds: dict[str, str] | None = None, fetch=rate_files.fetch) -> dict[str, dict | str]:
    """Fetch and import each configured feed (RATE_FEEDS); one that fails is reported and the others still go in."""
    results: dict[str, dict | str] = {}
    for source, url in (settings.config()["RATE_FEEDS"] if feeds is None else feeds).items():
        try:
            with db.session.begin_nested():
                results[source] = import_rates(fetch(url), source, url).as_dict()
        except (ValidationError, rate_files.RateFileError) as exc:
            results[source] = f"failed: {exc}"
    return results
