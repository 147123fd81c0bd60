"""Drafting, pinned to exact outcomes: what the mutation run found the broader tests in test_drafting.py left open."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from portal.errors import NotFound, ValidationError
from portal.extensions import db
from portal.integrations import servicenow
from portal.models import Customer, FixedLineItem, ProcessInstance, Proforma, ServiceRecord
from portal.services.billing import calllog, drafting
from portal.services.workflow import instances
from tests.support import factories
from tests.support.drafting import contract_for, customer_on

pytestmark = pytest.mark.usefixtures("proforma_process")

NOW = datetime(2026, 11, 3, 9, 30)


def drafted(contract) -> Proforma:
    return db.session.scalar(select(Proforma).where(Proforma.contract_id == contract.id))


def record(external_id="sys-1", number="INC0090001", description="Printer jammed", **overrides):
    values = {"kind": "incident", "external_id": external_id, "number": number, "priority": "P2",
              "catalog_item": None, "short_description": description, "closed_at": datetime(2026, 11, 5, 14, 0),
              "raw": {"sys_id": external_id}}
    return servicenow.ServiceRecord(**(values | overrides))


# ---- the period, the contracts, the document's dates ---------------------------------------------------------------

@pytest.mark.parametrize("period", ["", None, "2026-13", "2026-1", "Nov 2026"])
def test_a_period_that_is_not_a_month_is_named(period):
    with pytest.raises(ValidationError) as refused:
        drafting.parse_period(period)
    assert (refused.value.field, refused.value.message) == ("period", f"{period!r} is not a month like 2026-11")


@pytest.mark.parametrize(("year", "month", "first", "last"), [
    (2026, 11, date(2026, 11, 1), date(2026, 11, 30)), (2026, 12, date(2026, 12, 1), date(2026, 12, 31)),
    (2026, 1, date(2026, 1, 1), date(2026, 1, 31)), (2024, 2, date(2024, 2, 1), date(2024, 2, 29)),
    (2026, 2, date(2026, 2, 1), date(2026, 2, 28)),
])
def test_a_period_runs_from_the_first_to_the_last_day_of_its_month(year, month, first, last):
    assert drafting.period_bounds(year, month) == (first, last)


def test_contracts_are_drafted_in_the_order_of_their_numbers(app):
    later, earlier = factories.ContractFactory(number="K-B"), factories.ContractFactory(number="K-A")
    report = drafting.draft_period("2026-11")
    assert report.created == [f"PF-{earlier.number}-2026-11", f"PF-{later.number}-2026-11"]


def test_the_document_is_dated_at_the_given_moment_and_due_after_the_payment_terms(app):
    contract = factories.ContractFactory(payment_terms_days=14)
    drafting.draft_period("2026-11", contract.number, now=NOW)
    proforma = drafted(contract)
    assert (proforma.issue_date, proforma.due_date) == (date(2026, 11, 3), date(2026, 11, 17))


def test_a_draft_without_a_preparer_is_prepared_by_the_system(app):
    contract = factories.ContractFactory()
    drafting.draft_period("2026-11", contract.number)
    assert drafted(contract).editors == ["system"]


def test_a_contract_drafted_last_month_gets_a_new_document_this_month(app):
    contract = factories.ContractFactory(valid_from=date(2026, 1, 1))
    drafting.draft_period("2026-10", contract.number)
    report = drafting.draft_period("2026-11", contract.number)
    assert report.created == [f"PF-{contract.number}-2026-11"] and report.existing == []


def test_the_draft_starts_the_approval_process_with_its_number_amount_and_preparer(app):
    contract = factories.ContractFactory()
    factories.FixedLineFactory(contract=contract, unit_price=Decimal("100.00"), tax_rate=Decimal("19"))
    drafting.draft_period("2026-11", contract.number, prepared_by="alice")
    proforma = drafted(contract)
    row = db.session.get(ProcessInstance, proforma.process_instance_id)
    assert (row.business_key, row.started_by) == (proforma.number, "alice")
    variables = instances.load(row).variables()
    assert {name: variables[name] for name in ("proforma_id", "currency", "gross_total")} == {
        "proforma_id": proforma.id, "currency": "EUR", "gross_total": Decimal("119.00")}


def test_the_contracts_customers_and_fixed_lines_are_read_once_for_the_whole_run(app):
    for _ in range(3):
        factories.FixedLineFactory(contract=factories.ContractFactory())
    db.session.flush()
    db.session.expunge_all()  # nothing left in the identity map: every read below goes to the database
    statements = []
    engine = db.session.get_bind()

    def record_statement(conn, cursor, statement, *args):
        statements.append(statement)
    event.listen(engine, "before_cursor_execute", record_statement)
    try:
        report = drafting.draft_period("2026-11")
    finally:
        event.remove(engine, "before_cursor_execute", record_statement)
    assert len(report.created) == 3
    reads = {table: len([s for s in statements if s.lstrip().upper().startswith("SELECT") and f"FROM {table}" in s])
             for table in (Customer.__tablename__, FixedLineItem.__tablename__)}
    assert reads == {Customer.__tablename__: 1, FixedLineItem.__tablename__: 1}


# ---- what the call-logging system gave ------------------------------------------------------------------------------

def test_a_draft_from_a_live_answer_is_not_marked_stale(app, fake):
    contract = contract_for(customer_on(fake.base_url))
    drafting.draft_period("2026-11", contract.number)
    proforma = drafted(contract)
    assert (proforma.source_stale, proforma.source_note) == (False, "")


def test_without_a_call_logging_system_the_note_says_so_and_nothing_is_stale(app):
    contract = contract_for(factories.CustomerFactory())
    drafting.draft_period("2026-11", contract.number)
    proforma = drafted(contract)
    assert (proforma.source_stale, proforma.source_note) == (
        False, "no call-logging system configured: fixed lines only")


def test_a_fetch_given_by_the_caller_is_the_only_one_made(app, fake):
    contract = contract_for(customer_on(fake.base_url))
    drafting.draft_period("2026-11", contract.number, fetch=servicenow.fetch_period_cached)
    tables = [path for method, path, _ in fake.fake.log if path.startswith("/api/now/table/")]
    assert len(tables) == 2  # incidents and requests, once: no prefetch runs beside the caller's fetch


def test_each_batch_is_fetched_ahead_once_in_order(app, fake, monkeypatch):
    monkeypatch.setattr(drafting, "FETCH_BATCH", 1)
    contracts = [contract_for(customer_on(fake.base_url, code=f"BATCH{i}"), number=f"K-B{i}") for i in range(3)]
    started = []
    original = calllog.Prefetch.start

    def start(self, batch):
        started.append([contract.number for contract in batch])
        return original(self, batch)
    monkeypatch.setattr(calllog.Prefetch, "start", start)
    report = drafting.draft_period("2026-11")
    assert len(report.created) == 3
    assert started == [[contract.number] for contract in contracts]


# ---- storing the records ---------------------------------------------------------------------------------------------

def test_records_with_the_same_external_id_are_kept_per_customer(app, fake):
    first, second = (contract_for(customer_on(fake.base_url, code=code)) for code in ("ONE", "TWO"))
    drafting.draft_period("2026-11")  # both read the same company on the same instance: the same external ids
    per_customer = dict(db.session.execute(select(ServiceRecord.customer_id, func.count())
                                           .group_by(ServiceRecord.customer_id)).all())
    assert per_customer[first.customer_id] == per_customer[second.customer_id] > 0
    for contract in (first, second):
        owners = {db.session.get(ServiceRecord, line.service_record_id).customer_id
                  for line in drafted(contract).lines if line.kind != "fixed"}
        assert owners == {contract.customer_id}


def test_a_stored_record_keeps_the_raw_row_and_a_description_cut_to_its_column(app):
    customer = factories.CustomerFactory()
    [row] = drafting._store(customer, "2026-11", [record(description="x" * 400)])
    db.session.expire(row)
    assert (len(row.short_description), row.raw) == (300, {"sys_id": "sys-1"})


def test_storing_a_record_again_updates_its_row(app):
    customer = factories.CustomerFactory()
    [first] = drafting._store(customer, "2026-11", [record(description="Printer jammed")])
    [again] = drafting._store(customer, "2026-11", [record(description="Printer jammed again")])
    assert again.id == first.id and again.short_description == "Printer jammed again"


# ---- lines ----------------------------------------------------------------------------------------------------------

def record_lines_of(contract, records):
    return drafting._record_lines(contract, drafting._store(contract.customer, "2026-11", records))


def test_record_lines_name_the_record_and_keep_its_closing_time_and_row(app):
    contract = contract_for(factories.CustomerFactory())
    incident = record()
    request = record("sys-2", "RITM0090002", "Laptop for the new hire", kind="request", priority=None,
                     catalog_item="New laptop setup")
    lines = record_lines_of(contract, [incident, request])
    assert [(line.description, line.quantity, line.unit_price, line.closed_at) for line in lines] == [
        ("Incident INC0090001 (P2) — Printer jammed", Decimal(1), Decimal("220.00"), datetime(2026, 11, 5, 14, 0)),
        ("Request RITM0090002: New laptop setup — Laptop for the new hire", Decimal(1), Decimal("120.00"),
         datetime(2026, 11, 5, 14, 0))]
    rows = {row.external_id: row.id for row in db.session.scalars(select(ServiceRecord))}
    assert [line.service_record_id for line in lines] == [rows["sys-1"], rows["sys-2"]]


def test_a_record_line_description_is_cut_to_its_column(app):
    contract = contract_for(factories.CustomerFactory())
    [line] = record_lines_of(contract, [record(description="y" * 400)])
    assert len(line.description) == 300


def test_records_without_a_rate_card_name_the_rate_card(app):
    contract = factories.ContractFactory(rate_card=None)
    with pytest.raises(ValidationError) as refused:
        record_lines_of(contract, [record()])
    assert (refused.value.field, refused.value.message) == (
        "rate_card", f"contract {contract.number} has records to bill but no rate card")


def test_a_record_without_a_price_names_the_rate_card_and_the_record(app):
    contract = contract_for(factories.CustomerFactory())
    with pytest.raises(ValidationError) as refused:
        record_lines_of(contract, [record(priority="P9")])
    assert (refused.value.field, refused.value.message) == (
        "rate_card", f"INC0090001: rate card {contract.rate_card.name} has no price for incident 'P9'")


def test_lines_are_numbered_from_one_in_order(app, fake):
    contract = contract_for(customer_on(fake.base_url))
    drafting.draft_period("2026-11", contract.number)
    lines = drafted(contract).lines
    assert [line.position for line in lines] == list(range(1, len(lines) + 1))


def test_fixed_lines_valid_on_the_months_first_or_last_day_are_billed_in_the_order_they_were_added(app):
    contract = factories.ContractFactory()
    for description, valid_from, valid_to in [
            ("Ends on the first", date(2026, 1, 1), date(2026, 11, 1)),
            ("Starts on the last", date(2026, 11, 30), None),
            ("Ended the day before", date(2026, 1, 1), date(2026, 10, 31)),
            ("Starts the day after", date(2026, 12, 1), None),
            ("Open-ended", date(2026, 1, 1), None)]:
        factories.FixedLineFactory(contract=contract, description=description, valid_from=valid_from,
                                   valid_to=valid_to)
    drafting.draft_period("2026-11", contract.number)
    assert [(line.description, line.source_ref) for line in drafted(contract).lines] == [
        ("Ends on the first", "fixed"), ("Starts on the last", "fixed"), ("Open-ended", "fixed")]


def test_fixed_lines_follow_the_order_they_were_added_not_the_order_the_database_returns(app):
    """Rows inserted with descending ids: PostgreSQL returns them in insertion order, the draft sorts by id."""
    contract = factories.ContractFactory()
    for item_id, description in ((9002, "Second"), (9001, "First")):
        factories.FixedLineFactory(id=item_id, contract=contract, description=description)
    db.session.flush()
    db.session.expunge_all()
    contract = db.session.get(type(contract), contract.id)
    drafting.draft_period("2026-11", contract.number)
    assert [line.description for line in drafted(contract).lines] == ["First", "Second"]


def test_a_proforma_without_lines_totals_zero_as_decimals(app):
    proforma = Proforma(currency="EUR", lines=[])
    drafting.recalculate(proforma)
    totals = (proforma.net_total, proforma.tax_total, proforma.gross_total)
    assert totals == (Decimal(0),) * 3 and {type(total) for total in totals} == {Decimal}


# ---- finding a proforma ---------------------------------------------------------------------------------------------

def test_a_proforma_is_found_by_its_id_as_number_or_text(app):
    contract = factories.ContractFactory()
    drafting.draft_period("2026-11", contract.number)
    proforma = drafted(contract)
    assert drafting.get(proforma.id) is proforma and drafting.get(str(proforma.id)) is proforma


@pytest.mark.parametrize("proforma_id", ["999999", "abc", None, "-1"])
def test_an_unknown_proforma_is_not_found_by_name(app, proforma_id):
    with pytest.raises(NotFound) as missing:
        drafting.get(proforma_id)
    assert str(missing.value) == f"no proforma {proforma_id}"
