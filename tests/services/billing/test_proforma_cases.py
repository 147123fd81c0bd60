"""The staff proforma list and case: each filter, sort, pages, totals per currency over the filtered set, refused
filters naming the field, export rows, inbox summaries, and the case's timeline of everything, newest first."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.errors import NotFound, ValidationError
from portal.extensions import db
from portal.infra import audit
from portal.models import Proforma, ServiceJob, UploadReceipt
from portal.services.billing import proforma_cases, proforma_list, proforma_review
from portal.services.billing.proforma_list import Filters
from portal.services.workflow import service_jobs, tasks, timers
from tests.support import factories
from tests.support.proforma import complete_steps, deploy_approval_process, draft_for, open_task
from tests.support.smtp_server import SmtpServer

_numbers = itertools.count(1)


def proforma(contract, period: str, state: str = "draft", gross: str = "100.00", currency: str = "EUR") -> Proforma:
    """A proforma row as drafting leaves it (no process): net = gross, no tax."""
    row = Proforma(number=f"PF-T{next(_numbers):04d}-{period}", contract=contract, period=period, state=state,
                   currency=currency, issue_date=date(2026, 12, 1), due_date=date(2026, 12, 31),
                   net_total=Decimal(gross), tax_total=Decimal("0"), gross_total=Decimal(gross))
    db.session.add(row)
    db.session.flush()
    return row


@pytest.fixture
def listed(app):
    """Four proformas of two customers in two currencies, three periods and four states."""
    alpha = factories.CustomerFactory(name="Alpha Freight AG")
    beta = factories.CustomerFactory(name="Beta Retail SE")
    a1 = factories.ContractFactory(customer=alpha, number="K-ALPHA-1", title="Service desk")
    b1 = factories.ContractFactory(customer=beta, number="K-BETA-1", title="Hosting", currency="USD")
    b2 = factories.ContractFactory(customer=beta, number="K-BETA-2", title="Field support")
    rows = {"a-oct": proforma(a1, "2026-10", "approved", "100.00"),
            "a-nov": proforma(a1, "2026-11", "draft", "2500.00"),
            "b-nov": proforma(b1, "2026-11", "in_review", "999.99", "USD"),
            "b-dec": proforma(b2, "2026-12", "rejected", "10000.00")}
    return {"alpha": alpha, "beta": beta, **rows}


def numbers(filters: Filters, size: int = 50) -> list[str]:
    return [p.number for p in proforma_list.page(filters, 1, size).items]


def names(listed, *keys) -> list[str]:
    return [listed[key].number for key in keys]


@pytest.mark.parametrize(("args", "expected"), [
    ({}, ["b-dec", "a-nov", "b-nov", "a-oct"]),  # newest period first, then by number
    ({"period_from": "2026-11"}, ["b-dec", "a-nov", "b-nov"]),
    ({"period_to": "2026-11"}, ["a-nov", "b-nov", "a-oct"]),
    ({"period_from": "2026-11", "period_to": "2026-11"}, ["a-nov", "b-nov"]),
    ({"contract": "beta-2"}, ["b-dec"]),  # part of the number, any case
    ({"contract": "hosting"}, ["b-nov"]),  # or of the title
    ({"status": "in_review"}, ["b-nov"]),
    ({"gross_min": "999.99"}, ["b-dec", "a-nov", "b-nov"]),  # bounds included
    ({"gross_max": "2 500,00"}, ["a-nov", "b-nov", "a-oct"]),  # typed as people type amounts
    ({"gross_min": "100.01", "gross_max": "9999.99"}, ["a-nov", "b-nov"]),
])
def test_each_filter_narrows_the_list(listed, args, expected):
    filters = proforma_list.parse_filters(args)
    assert numbers(filters) == names(listed, *expected)


def test_the_customer_filter_takes_the_customer_chosen_in_the_form(listed):
    filters = proforma_list.parse_filters({"customer": str(listed["alpha"].id)})
    assert numbers(filters) == names(listed, "a-nov", "a-oct")
    offered = proforma_list.filter_options()["customers"]
    assert (listed["alpha"].id, f"{listed['alpha'].code} — Alpha Freight AG") in offered


def test_filters_combine(listed):
    filters = proforma_list.parse_filters({"customer": str(listed["beta"].id), "status": "rejected",
                                           "period_from": "2026-12"})
    assert numbers(filters) == names(listed, "b-dec")


@pytest.mark.parametrize(("sort", "expected"), [
    ("gross", ["a-oct", "b-nov", "a-nov", "b-dec"]),
    ("-gross", ["b-dec", "a-nov", "b-nov", "a-oct"]),
    ("customer", ["a-oct", "a-nov", "b-nov", "b-dec"]),  # same customer and period: the number decides
    ("contract", ["a-oct", "a-nov", "b-nov", "b-dec"]),
    ("status", ["a-oct", "a-nov", "b-nov", "b-dec"]),  # approved, draft, in_review, rejected
    ("period", ["a-oct", "a-nov", "b-nov", "b-dec"]),
])
def test_sort_keys_order_the_list(listed, sort, expected):
    assert numbers(proforma_list.parse_filters({"sort": sort})) == names(listed, *expected)


def test_pages_split_the_filtered_set_and_totals_cover_all_of_it(listed):
    contract = factories.ContractFactory(customer=listed["alpha"])
    for month in range(1, 7):
        proforma(contract, f"2025-{month:02d}", "approved", f"{month}0.05")
    filters = proforma_list.parse_filters({"status": "approved"})  # 7 in EUR: a-oct and the six above
    pages = [proforma_list.page(filters, n, 3) for n in (1, 2, 3, 4)]
    assert [len(p.items) for p in pages] == [3, 3, 1, 0] and pages[0].total == 7 and pages[0].pages == 3
    seen = [p.number for page in pages for p in page.items]
    assert len(set(seen)) == 7 and seen[0] == listed["a-oct"].number  # newest period first, nothing twice
    (eur,) = proforma_list.totals(filters)
    assert (eur.currency, eur.count, eur.gross) == ("EUR", 7, Decimal("310.30"))  # 100 + 10.05 + ... + 60.05
    assert eur.gross != sum(p.gross_total for p in pages[0].items)  # not just the page shown


def test_totals_are_per_currency_and_follow_the_filters(listed):
    everything = {t.currency: t for t in proforma_list.totals(Filters())}
    assert {c: (t.count, t.gross) for c, t in everything.items()} == {
        "EUR": (3, Decimal("12600.00")), "USD": (1, Decimal("999.99"))}
    assert all(isinstance(t.gross, Decimal) and isinstance(t.net, Decimal) for t in everything.values())
    november = proforma_list.totals(proforma_list.parse_filters({"period_from": "2026-11", "period_to": "2026-11"}))
    assert [(t.currency, t.count, t.gross) for t in november] == [("EUR", 1, Decimal("2500.00")),
                                                                 ("USD", 1, Decimal("999.99"))]


@pytest.mark.parametrize(("args", "field", "words"), [
    ({"gross_min": "12,3x"}, "gross_min", "is not a number"),
    ({"gross_max": "1.005"}, "gross_max", "at most 2 decimal places"),
    ({"period_from": "2026-13"}, "period_from", "is not a month like 2026-11"),
    ({"period_to": "November"}, "period_to", "is not a month"),
    ({"status": "paid"}, "status", "choose one of Draft, In review"),
    ({"customer": "acme"}, "customer", "choose a customer from the list"),
    ({"sort": "amount; drop table proformas"}, "sort", "sort by one of number"),
    ({"gross_min": "500", "gross_max": "100"}, "gross_max", "is below Gross from"),
    ({"period_from": "2026-12", "period_to": "2026-01"}, "period_to", "is below From period"),
    ({"contract": "x" * 41}, "contract", "at most 40 characters"),
])
def test_a_bad_filter_is_refused_naming_the_field(app, args, field, words):
    with pytest.raises(ValidationError) as refused:
        proforma_list.parse_filters(args)
    assert list(refused.value.errors) == [field] and words in refused.value.errors[field]
    assert proforma_list.labelled(refused.value.errors) == {proforma_list.LABELS[field]: refused.value.errors[field]}


def test_every_bad_filter_is_named_at_once(app):
    with pytest.raises(ValidationError) as refused:
        proforma_list.parse_filters({"gross_min": "lots", "period_from": "soon", "status": "paid", "contract": "K"})
    assert set(refused.value.errors) == {"gross_min", "period_from", "status"}


@pytest.fixture
def in_process(app, make_user):
    """Three drafted proformas: review open in the queue, review claimed by a reviewer, approval open."""
    deploy_approval_process()
    reviewer, approver = make_user("reviewer"), make_user("approver")

    def drafted(name: str) -> Proforma:
        contract = factories.ContractFactory(customer=factories.CustomerFactory(name=name))
        factories.FixedLineFactory(contract=contract, unit_price=Decimal("900.00"), tax_rate=Decimal("0"))
        return draft_for(contract)

    queued, claimed, approving = drafted("Queued GmbH"), drafted("Claimed GmbH"), drafted("Approving GmbH")
    tasks.claim(open_task(claimed).id, reviewer)
    db.session.commit()
    complete_steps(approving, [(make_user("reviewer"), "submitted")])
    return {"queued": queued, "claimed": claimed, "approving": approving, "reviewer": reviewer,
            "approver": approver}


@pytest.mark.parametrize(("args", "expected"), [
    ({"task": "review"}, {"queued", "claimed"}),
    ({"task": "approve"}, {"approving"}),
    ({"assignee": "none"}, {"queued", "approving"}),
    ({"task": "review", "assignee": "none"}, {"queued"}),
    ({"task": "approve", "assignee": "none"}, {"approving"}),
])
def test_current_task_and_assignee_filters(in_process, args, expected):
    found = set(numbers(proforma_list.parse_filters(args)))
    assert found == {in_process[key].number for key in expected}


def test_the_assignee_filter_finds_whoever_holds_the_task(in_process):
    reviewer = in_process["reviewer"].email
    assert numbers(proforma_list.parse_filters({"assignee": reviewer.upper()})) == [in_process["claimed"].number]
    options = proforma_list.filter_options()
    assert options["assignees"] == [reviewer]
    assert dict(options["tasks"]) == {"review": "Review the proforma", "approve": "Approve the proforma"}


def test_positions_say_which_task_is_open_and_who_holds_it(in_process):
    rows = [in_process[key] for key in ("queued", "claimed", "approving")]
    where = proforma_list.positions([row.process_instance_id for row in rows] + [None])
    tasks_now = [(where[row.process_instance_id].task.element_id, where[row.process_instance_id].task.assignee)
                 for row in rows]
    assert tasks_now == [("review", None), ("review", in_process["reviewer"].email), ("approve", None)]
    assert where[rows[2].process_instance_id].task.candidate_roles == ("approver",)


def test_export_rows_are_the_filtered_set_in_the_lists_order(in_process):
    rows = list(proforma_list.export_rows(proforma_list.parse_filters({"task": "review", "sort": "customer"})))
    assert rows[0] == proforma_list.EXPORT_COLUMNS
    claimed, queued = in_process["claimed"], in_process["queued"]
    assert [row[0] for row in rows[1:]] == [claimed.number, queued.number]  # Claimed GmbH before Queued GmbH
    first = dict(zip(rows[0], rows[1], strict=True))
    assert (first["Customer"], first["Status"], first["Gross"], first["Current task"], first["Assignee"]) == (
        "Claimed GmbH", "In review", Decimal("900.00"), "Review the proforma", in_process["reviewer"].email)
    assert dict(zip(rows[0], rows[2], strict=True))["Assignee"] == "unassigned"


def test_export_is_bounded(listed):
    assert len(list(proforma_list.export_rows(Filters(), limit=2))) == 3  # the header and two rows


def test_summaries_tell_the_inbox_what_each_proforma_task_is_about(in_process):
    queued = in_process["queued"]
    found = proforma_list.summaries([queued.process_instance_id, 999_999, None])
    assert list(found) == [queued.process_instance_id]
    summary = found[queued.process_instance_id]
    assert (summary.proforma_id, summary.customer, summary.period, summary.gross_total, summary.currency) == (
        queued.id, "Queued GmbH", "2026-11", Decimal("900.00"), "EUR")


# ---- the case ----------------------------------------------------------------------------------------------

@pytest.fixture
def lived(app, make_user):
    """A proforma with a whole life: drafted, a line edited, a comment, claims, completions, service steps, an
    e-mail that failed into an incident, an operator's retry and the e-mail sent."""
    deploy_approval_process()
    factories.ExchangeRateFactory()  # the invoice issued after approval converts EUR to the base currency
    customer = factories.CustomerFactory(name="Lived Logistics")
    factories.ContactFactory(customer=customer, email="billing@lived.example")
    contract = factories.ContractFactory(customer=customer, tax_rate=Decimal("19"))
    factories.FixedLineFactory(contract=contract, description="Flat fee", unit_price=Decimal("900.00"))
    factories.FixedLineFactory(contract=contract, description="Hosting", unit_price=Decimal("100.00"))
    row = draft_for(contract)
    reviewer, approver = make_user("reviewer"), make_user("approver")
    review = open_task(row)
    tasks.claim(review.id, reviewer)
    db.session.commit()
    with audit.acting_as(audit.Actor(reviewer.email, reviewer.id)):  # as the web request names its user
        proforma_review.change_line(review.id, reviewer, row.lines[0].id,
                                    {"description": "Flat fee", "quantity": "2", "unit_price": "450.50"})
        db.session.commit()
    tasks.comment(review.id, reviewer, "Two half days, as agreed")
    tasks.complete(review.id, reviewer, {}, outcome="submitted")
    db.session.commit()
    tasks.claim(open_task(row).id, approver)
    db.session.commit()
    tasks.complete(open_task(row).id, approver, {}, outcome="approved")
    db.session.commit()  # approved, rendered, nothing to upload; the e-mail fails: no mail server is configured
    retrying = proforma_cases.case(row.id)
    job = db.session.scalar(select(ServiceJob).where(ServiceJob.instance_id == row.process_instance_id,
                                                     ServiceJob.topic == "proforma.email"))
    while job.state == "queued":  # the sweep's retries, each once its backoff has passed
        timers.sweep(job.next_attempt_at + timedelta(seconds=1))
        db.session.commit()
        db.session.refresh(job)
    assert job.state == "incident"
    incident = proforma_cases.case(row.id)
    with SmtpServer() as server:
        app.config["SMTP_URL"] = f"smtp://127.0.0.1:{server.port}"
        try:
            service_jobs.retry_incident(row.process_instance_id, "operator@staff.example")
            db.session.commit()
        finally:
            app.config["SMTP_URL"] = None
        assert len(server.received) == 1
    db.session.add(UploadReceipt(proforma_id=row.id, filename=f"{row.number}.pdf", channel="sftp://portal.example",
                                 location="/inbox", idempotency_key="k", status="stored", reference="sha256:abc"))
    db.session.commit()
    return {"proforma": row, "reviewer": reviewer, "approver": approver, "while_retrying": retrying,
            "while_failing": incident}


def test_the_case_has_header_lines_documents_receipts_and_emails(lived):
    row = lived["proforma"]
    case = proforma_cases.case(row.id)
    assert case.proforma.id == row.id and case.proforma.state == "approved"
    assert [line.description for line in case.proforma.lines] == ["Flat fee", "Hosting"]
    assert case.proforma.gross_total == Decimal("1191.19")  # (901.00 + 100.00) * 1.19
    assert case.position.status == "completed" and case.position.tasks == () and case.incidents == []
    assert [d.format for d in case.documents] == ["pdf"]
    assert [(r.filename, r.status) for r in case.receipts] == [(f"{row.number}.pdf", "stored")]
    assert len(case.emails) == 1 and case.emails[0].message_id.startswith("<")  # the mail's Message-ID
    assert case.recipients == ["billing@lived.example"]
    assert proforma_cases.document(row.id, "pdf").content.startswith(b"%PDF")


def test_while_the_email_is_retried_the_case_says_what_it_waits_for(lived):
    retrying = lived["while_retrying"]
    assert retrying.position.status == "running" and retrying.position.tasks == () and retrying.incidents == []
    (step,) = retrying.waiting
    assert (step.element, step.attempts, step.timer) == ("E-mail the customer", 1, False)
    assert "SMTP_URL" in step.error and step.next_at is not None


def test_while_the_email_fails_the_case_shows_the_incident(lived):
    failing = lived["while_failing"]
    assert failing.position.status == "incident" and failing.emails == [] and failing.waiting == []
    (incident,) = failing.incidents
    assert incident.element == "E-mail the customer" and "SMTP_URL" in incident.error and incident.attempts == 5


def test_the_timeline_has_every_kind_of_event_newest_first(lived):
    timeline = proforma_cases.case(lived["proforma"].id).timeline
    assert [entry.at for entry in timeline] == sorted((entry.at for entry in timeline), reverse=True)
    kinds = [entry.kind for entry in timeline]
    for kind in ("drafted", "line_changed", "comment", "claimed", "completed", "service", "retried", "incident",
                 "task_opened", "process", "changed"):
        assert kind in kinds, kind
    assert kinds.index("retried") < kinds.index("incident") < kinds.index("completed")  # newest first
    drafted = next(e for e in timeline if e.kind == "drafted")
    assert drafted.title == "Drafted with 2 lines" and drafted.items == ("1. Flat fee", "2. Hosting")
    assert kinds[-1] in ("drafted", "process")  # the draft is among the oldest things


def test_a_line_edit_shows_before_and_after(lived):
    timeline = proforma_cases.case(lived["proforma"].id).timeline
    (edit,) = [e for e in timeline if e.kind == "line_changed"]
    assert edit.actor == lived["reviewer"].email and "Flat fee" in edit.title
    changes = {c.field: (c.before, c.after) for c in edit.changes}
    assert changes["Quantity"] == ("1", "2")
    assert changes["Unit price"] == (Decimal("900.00"), Decimal("450.50"))
    assert changes["Net"] == (Decimal("900.00"), Decimal("901.00"))
    assert all(c.amount == (c.field in ("Unit price", "Net", "Tax")) for c in edit.changes)
    assert "Description" not in changes  # unchanged fields are not listed


def test_comments_claims_completions_and_service_steps_read_in_words(lived):
    timeline = proforma_cases.case(lived["proforma"].id).timeline
    reviewer, approver = lived["reviewer"].email, lived["approver"].email
    said = [(e.title, e.actor, e.text) for e in timeline if e.kind == "comment"]
    assert said == [("Comment on Review the proforma", reviewer, "Two half days, as agreed")]
    claims = [(e.title, e.actor) for e in timeline if e.kind == "claimed"]
    assert claims == [("Approve the proforma: claimed", approver), ("Review the proforma: claimed", reviewer)]
    done = [(e.title, e.text) for e in timeline if e.kind == "completed"]
    assert done == [("Approve the proforma: completed", "outcome: approved"),
                    ("Review the proforma: completed", "outcome: submitted")]
    steps = [e.title for e in timeline if e.kind == "service"]
    assert steps[0] == "E-mail the proforma to the customer" and "Render proforma documents (PDF, HTML, SAP, UBL)" \
        in steps and steps.count("Set the proforma's state") == 2
    (failed,) = [e for e in timeline if e.kind == "incident"]
    assert failed.title == "Incident at E-mail the customer" and "SMTP_URL" in failed.text
    operator = next(e for e in timeline if e.kind == "retried" and e.actor)
    assert (operator.title, operator.actor) == ("Failed steps queued again", "operator@staff.example")
    changed = [e.title for e in timeline if e.kind == "changed"]
    assert changed == ["Status set to Approved", "Totals recalculated", "Status set to In review"]
    assert ("Approve the proforma: ready", "for Approver") in [(e.title, e.text) for e in timeline]


def test_removed_and_added_lines_are_in_the_timeline(app, make_user):
    deploy_approval_process()
    contract = factories.ContractFactory(customer=factories.CustomerFactory(), tax_rate=Decimal("0"))
    for text in ("One", "Two"):
        factories.FixedLineFactory(contract=contract, description=text, tax_rate=Decimal("0"))
    row = draft_for(contract)
    reviewer = make_user("reviewer")
    review = open_task(row)
    tasks.claim(review.id, reviewer)
    proforma_review.remove_line(review.id, reviewer, row.lines[0].id)
    db.session.commit()
    proforma_review.add_line(review.id, reviewer, {"description": "Extra", "quantity": "1", "unit_price": "5.00"})
    db.session.commit()
    timeline = proforma_cases.case(row.id).timeline
    lines = [(e.kind, e.title) for e in timeline if e.kind.startswith("line")]
    assert lines == [("line_added", "Line added: 2. Extra"), ("line_removed", "Line removed: 1. One")]
    assert not [e for e in timeline if e.kind == "line_changed"]  # "Two" renumbered 2 -> 1: not a change to show


def test_a_proforma_without_a_process_has_a_case_too(listed):
    case = proforma_cases.case(listed["a-oct"].id)
    assert case.position is None and case.incidents == [] and case.emails == [] and case.documents == []
    assert [e.kind for e in case.timeline] == ["drafted"]


def test_a_missing_proforma_or_document_is_not_found(listed):
    with pytest.raises(NotFound):
        proforma_cases.case(999_999)
    with pytest.raises(NotFound):
        proforma_cases.document(listed["a-oct"].id, "pdf")
