"""Billing: draft one proforma per contract and period from call-logging records and fixed lines."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from portal import settings
from portal.errors import DomainError, NotFound, ValidationError
from portal.extensions import db
from portal.infra import audit
from portal.integrations import servicenow
from portal.models import Contract, Proforma, ProformaLine, ServiceRecord
from portal.models.billing import DISCOUNT, PROFORMA_STATES
from portal.models.types import utcnow
from portal.money import ZERO, D, display, quantize
from portal.services.billing import calllog
from portal.services.workflow import steps
from portal.services.workflow.operations import Parameter, operation

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass
class DraftReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def parse_period(period: str) -> tuple[int, int]:
    """'2026-11' → (2026, 11); anything else names the field."""
    match = _PERIOD.match((period or "").strip())
    if not match:
        raise ValidationError("period", f"{period!r} is not a month like 2026-11")
    return int(match.group(1)), int(match.group(2))


def period_bounds(year: int, month: int) -> tuple[date, date]:
    start = date(year, month, 1)
    return start, (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1))


FETCH_BATCH = 64  # contracts whose call-logging data is fetched side by side, one batch ahead


def draft_period(period: str, contract_number: str | None = None, prepared_by: str = "system",
                 now: datetime | None = None, fetch=None) -> DraftReport:
    """Draft every active contract of the period (or one); a contract that fails does not stop the others.

    The call-logging data of the next batch of contracts is fetched in the background, side by side
    (CALLLOG_FETCH_WORKERS threads, network only), while this batch is written one by one in this transaction.
    """
    year, month = parse_period(period)
    report = DraftReport()
    contracts = _contracts(year, month, contract_number)
    batches = [contracts[first:first + FETCH_BATCH] for first in range(0, len(contracts), FETCH_BATCH)]
    prefetch = None if fetch else calllog.Prefetch(year, month, settings.config()["CALLLOG_FETCH_WORKERS"])
    try:
        if prefetch and batches:
            prefetch.start(batches[0])
        for index, batch in enumerate(batches):
            batch_fetch = fetch or prefetch.take()
            if prefetch and index + 1 < len(batches):
                prefetch.start(batches[index + 1])
            _draft_batch(batch, year, month, prepared_by, now, batch_fetch, report)
    finally:
        if prefetch:
            prefetch.close()
    return report


def _draft_batch(batch: list[Contract], year: int, month: int, prepared_by: str, now: datetime | None, fetch,
                 report: DraftReport) -> None:
    for contract in batch:
        try:
            with db.session.begin_nested():
                proforma, created = draft_contract(contract, year, month, prepared_by, now, fetch)
        except DomainError as exc:
            report.failed[contract.number] = str(exc)
            continue
        (report.created if created else report.existing).append(proforma.number)


def _contracts(year: int, month: int, number: str | None) -> list[Contract]:
    start, end = period_bounds(year, month)
    # What every draft reads, loaded for all contracts at once instead of one query per contract.
    query = (select(Contract).where(Contract.valid_from <= end,
                                    or_(Contract.valid_to.is_(None), Contract.valid_to >= start))
             .options(selectinload(Contract.customer), selectinload(Contract.fixed_lines)))
    if number:
        contracts = list(db.session.scalars(query.where(Contract.number == number)))
        if not contracts:
            raise NotFound(f"no contract {number} active in {year}-{month:02d}")
        return contracts
    return list(db.session.scalars(query.order_by(Contract.number)))


def draft_contract(contract: Contract, year: int, month: int, prepared_by: str, now: datetime | None = None,
                   fetch=servicenow.fetch_period_cached) -> tuple[Proforma, bool]:
    """The contract's proforma for the month: the existing one, or a new draft (True)."""
    period = f"{year}-{month:02d}"
    existing = db.session.scalar(select(Proforma).where(Proforma.contract_id == contract.id,
                                                        Proforma.period == period))
    if existing is not None:
        return existing, False
    now = now or utcnow()
    records, stale, note = _fetch(contract.customer, year, month, fetch)
    stored = _store(contract.customer, period, records)
    proforma = Proforma(number=f"PF-{contract.number}-{period}", contract=contract, period=period,
                        currency=contract.currency, issue_date=now.date(),
                        due_date=now.date() + timedelta(days=contract.payment_terms_days),
                        source_stale=stale, source_note=note, editors=[prepared_by])
    lines = _record_lines(contract, stored) + _fixed_lines(contract, year, month)
    for position, line in enumerate(lines, start=1):
        line.position = position
        proforma.lines.append(line)
    recalculate(proforma)
    db.session.add(proforma)
    db.session.flush()
    start_review(proforma, prepared_by)
    return proforma, True


def _fetch(customer, year: int, month: int, fetch):
    """Records from the customer's call-logging system (none configured: fixed lines only)."""
    connection = calllog.connection_for(customer)
    if connection is None:
        return [], False, "no call-logging system configured: fixed lines only"
    result = fetch(connection, year, month, calllog.DbCache())
    note = f"call-logging system unreachable; data as of {result.fetched_at:%Y-%m-%d %H:%M} UTC" if result.stale else ""
    return list(result.records), result.stale, note


def _store(customer, period: str, records) -> list[ServiceRecord]:
    """Upsert the fetched records (keyed by the external system's id): one read, one write."""
    ids = [record.external_id for record in records]
    existing = {row.external_id: row for row in db.session.scalars(select(ServiceRecord).where(
        ServiceRecord.customer_id == customer.id, ServiceRecord.external_id.in_(ids)))} if ids else {}
    stored = []
    with db.session.no_autoflush:
        for record in records:
            row = existing.get(record.external_id) or ServiceRecord(customer_id=customer.id,
                                                                     external_id=record.external_id)
            row.period, row.kind, row.number = period, record.kind, record.number
            row.priority, row.catalog_item = record.priority, record.catalog_item
            row.short_description, row.closed_at = record.short_description[:300], record.closed_at
            row.raw = record.raw
            db.session.add(row)
            stored.append(row)
    db.session.flush()
    return stored


def _record_lines(contract: Contract, records: list[ServiceRecord]) -> list[ProformaLine]:
    if records and contract.rate_card is None:
        raise ValidationError("rate_card", f"contract {contract.number} has records to bill but no rate card")
    lines = []
    for record in sorted(records, key=lambda r: (r.kind, r.closed_at, r.number)):
        key = record.priority if record.kind == "incident" else record.catalog_item
        price = contract.rate_card.price_for(record.kind, key)
        if price is None:
            raise ValidationError("rate_card", f"{record.number}: rate card {contract.rate_card.name} has no price "
                                               f"for {record.kind} {key!r}")
        label = f"Incident {record.number} ({record.priority})" if record.kind == "incident" \
            else f"Request {record.number}: {record.catalog_item}"
        lines.append(ProformaLine(
            kind=record.kind, description=f"{label} — {record.short_description}"[:300], quantity=Decimal(1),
            unit_price=price, tax_rate=tax_rate_for(contract, contract.tax_rate), source_ref=record.number,
            priority=record.priority, closed_at=record.closed_at, service_record_id=record.id))
    return lines


def _fixed_lines(contract: Contract, year: int, month: int) -> list[ProformaLine]:
    start, end = period_bounds(year, month)
    items = sorted((item for item in contract.fixed_lines  # loaded with the contracts (_contracts)
                    if item.valid_from <= end and (item.valid_to is None or item.valid_to >= start)),
                   key=lambda item: item.id)
    return [ProformaLine(kind=DISCOUNT if item.kind == DISCOUNT else "fixed", description=item.description,
                         quantity=item.quantity, unit_price=item.unit_price,
                         tax_rate=tax_rate_for(contract, item.tax_rate), source_ref="fixed")
            for item in items]


def tax_rate_for(contract: Contract, rate) -> Decimal:
    """Reverse charge and exempt contracts carry no tax on the document."""
    return D(rate) if contract.tax_rule == "standard" else ZERO


def price_lines(document) -> None:
    """Line amounts and totals of a proforma or receivable document, quantized to its currency (line by line, then
    summed)."""
    for line in document.lines:
        line.net_amount = quantize(D(line.quantity) * D(line.unit_price), document.currency)
        line.tax_amount = quantize(line.net_amount * D(line.tax_rate) / 100, document.currency)
    document.net_total = sum((line.net_amount for line in document.lines), ZERO)
    document.tax_total = sum((line.tax_amount for line in document.lines), ZERO)
    document.gross_total = document.net_total + document.tax_total


def recalculate(proforma: Proforma) -> None:
    """Line amounts and totals, quantized to the currency; a negative proforma is refused."""
    price_lines(proforma)
    if proforma.net_total < 0:  # what corrects an invoice downwards is a credit note, not a negative proforma
        net = display(proforma.net_total, proforma.currency)
        raise ValidationError("lines", f"proforma {proforma.number}: the discounts exceed the charges (net {net}); "
                                       "a proforma cannot be negative")


PROCESS = "proforma_approval"


def start_review(proforma: Proforma, started_by: str) -> None:
    """Start the approval process for a drafted proforma (its number is the business key)."""
    row = steps.start(PROCESS, proforma.number, {"proforma_id": proforma.id, "currency": proforma.currency,
                                                   "gross_total": proforma.gross_total}, started_by=started_by)
    proforma.process_instance_id = row.id


def get(proforma_id) -> Proforma:
    proforma = db.session.get(Proforma, int(proforma_id)) if str(proforma_id).isdigit() else None
    if proforma is None:
        raise NotFound(f"no proforma {proforma_id}")
    return proforma


PROFORMA_ID = Parameter("proforma_id", "Proforma id", "${proforma_id}")


def proforma_operation(topic: str, label: str, description: str, *more_inputs: Parameter, **options):
    """@operation for a handler of one proforma, named by the process variable `proforma_id`."""
    return operation(topic=topic, label=label, description=description, inputs=(PROFORMA_ID, *more_inputs),
                     **options)


@proforma_operation("proforma.set_state", "Set the proforma's state",
                    "Marks the proforma in review, approved, rejected or cancelled.",
                    Parameter("state", "State", "approved"), max_attempts=3)
def set_state_operation(params: dict, context) -> dict:
    """proforma.set_state: in_review, approved, rejected or cancelled."""
    state = str(params.get("state") or "")
    if state not in PROFORMA_STATES:
        raise ValidationError("state", f"must be one of {', '.join(PROFORMA_STATES)}")
    get(params.get("proforma_id")).state = state
    db.session.flush()
    return {}


@proforma_operation("proforma.redraft", "Re-draft the proforma (fetch the data again)",
                    "Fetches the period's records from the call-logging system again and rebuilds those lines.",
                    outputs=("gross_total",), queue="integrations")
def redraft_operation(params: dict, context) -> dict:
    """proforma.redraft: fetch the period's records again and rebuild those lines (fixed, manual and discount
    lines stay)."""
    proforma = get(params.get("proforma_id"))
    contract = proforma.contract
    year, month = parse_period(proforma.period)
    records, stale, note = _fetch(contract.customer, year, month, servicenow.fetch_period_cached)
    kept = [line for line in proforma.lines if line.kind in ("fixed", "manual", DISCOUNT)]
    # The system replaces the record lines, whoever's step started it: review_changes tells them from removals.
    with audit.acting_as(audit.SYSTEM):
        proforma.lines = _record_lines(contract, _store(contract.customer, proforma.period, records)) + kept
        for position, line in enumerate(proforma.lines, start=1):
            line.position = position
        proforma.source_stale, proforma.source_note = stale, note
        recalculate(proforma)
        db.session.flush()
    return {"gross_total": proforma.gross_total}
