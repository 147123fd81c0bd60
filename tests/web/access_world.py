"""Real rows for the access matrix: the signed-in customer's own data, another customer's, and one of
everything an admin grid or the inbox can show (tests/web/test_access_matrix.py)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent
from portal.services.billing import files
from tests.support import factories
from tests.support.paths import workflow_file

_seq = itertools.count(1)


@dataclass
class World:
    """Real rows for URL parameters; `own_*` belong to the signed-in customer user, `other_*` to another customer."""

    own_customer: object
    own_contract: object
    other_contract: object
    rows: dict  # admin endpoint -> id of a real row (details/edit)
    files: dict  # admin endpoint -> (id, content) of a stored file (download)
    task: object = None  # an open human task for reviewers
    own_proforma: object = None  # approved, with a stored PDF
    other_proforma: object = None  # approved, another customer's
    case: object = None  # a proforma in its approval process, waiting in the reviewers' queue


@pytest.fixture
def world(app):
    own = factories.CustomerFactory()
    own_contract = factories.ContractFactory(customer=own)
    other_contract = factories.ContractFactory()
    project = factories.ProjectFactory(contract=other_contract)
    line = factories.FixedLineFactory(contract=other_contract)
    template = files.upload_template("Proforma", "proforma_html", "proforma.html", b"<p>template</p>", "t@x.example")
    document = files.attach_project_document(project, "sow.pdf", b"%PDF-1.4 sow", "t@x.example")
    rows = {
        "customers": other_contract.customer_id, "contracts": other_contract.id, "projects": project.id,
        "fixed_lines": line.id, "rate_cards": factories.RateCardFactory().id,
        "exchange_rates": factories.ExchangeRateFactory().id, "document_templates": template.id,
        "project_documents": document.id, "users": factories.make_user("guest").id,
        "roles": factories.role("guest").id, "audit": db.session.scalar(select(func.max(AuditEvent.id))),
    }
    stored = {"document_templates": (template.id, b"<p>template</p>"),
              "project_documents": (document.id, b"%PDF-1.4 sow")}
    task = _open_review_task()
    rows.update(instances=task.instance_id, incidents=_incident(task.instance_id).id)
    rows.update(_receivables(other_contract.customer))
    return World(own, own_contract, other_contract, rows, stored, task, _approved_proforma(own_contract),
                 _approved_proforma(other_contract), _proforma_in_review(other_contract))


def _approved_proforma(contract):
    from decimal import Decimal

    from portal.models import Proforma, ProformaDocument

    proforma = Proforma(number=f"PF-{contract.number}-2026-11", contract=contract, period="2026-11", state="approved",
                        currency="EUR", issue_date=date(2026, 12, 1), due_date=date(2026, 12, 31),
                        net_total=Decimal("10.00"), tax_total=Decimal("0"), gross_total=Decimal("10.00"))
    db.session.add(proforma)
    db.session.flush()
    document = ProformaDocument(proforma_id=proforma.id, format="pdf")
    files.fill(document, f"{proforma.number}.pdf", b"%PDF-1.4 proforma")
    document.content_type = "application/pdf"
    db.session.add(document)
    db.session.flush()
    return proforma


def _proforma_in_review(contract):
    """October's proforma of the contract, drafted into its approval process, its first step run: review is open."""
    from portal.models import ServiceJob
    from portal.services.billing import drafting
    from portal.services.workflow import definitions, service_jobs
    from tests.support.paths import PROFORMA_PROCESS

    definitions.deploy(PROFORMA_PROCESS.read_text(), "test")
    factories.FixedLineFactory(contract=contract, description="Service desk")
    proforma, _ = drafting.draft_contract(contract, 2026, 10, "drafter@staff.example")
    for job in db.session.scalars(select(ServiceJob).where(ServiceJob.instance_id == proforma.process_instance_id)):
        service_jobs.run(job.id)
    return proforma


def _incident(instance_id):
    import uuid

    from portal.models import ServiceJob

    job = ServiceJob(instance_id=instance_id, task_guid=str(uuid.uuid4()), element_id="note", topic="history.note",
                     state="incident", attempts=1, last_error="ValidationError: text: the note is empty")
    db.session.add(job)
    db.session.flush()
    return job


def _start_review():

    from portal.services.workflow import definitions, steps

    definitions.deploy(workflow_file("single_review.bpmn"), "test")
    return steps.start("single_review", f"BK-{next(_seq)}")


def _open_review_task():
    from portal.models import HumanTask

    instance = _start_review()
    return db.session.scalar(select(HumanTask).where(HumanTask.instance_id == instance.id))


def _disposable_project_document(w):
    project = factories.ProjectFactory(contract=w.other_contract)
    return files.attach_project_document(project, "d.txt", b"d", "t@x.example")


# ---- receivables: one row of every receivables grid, all another customer's -----------------------------------

RECEIVABLES_GRIDS = ("invoices", "credit_notes", "due_notes", "payments", "allocations", "refunds", "adjustments",
                     "ledger_entries", "customer_balances", "payment_imports", "bank_import_mappings")


def _receivables(customer) -> dict:
    """Admin endpoint -> the key of a posted row of `customer` (in the base currency: no rate needed), issued without
    rendering files (tests/services/receivables/test_rendering.py covers those)."""
    from unittest import mock

    from flask_admin.tools import iterencode

    from portal.models import BankImportMapping, LedgerEntry, PaymentImport
    from portal.services.receivables import allocations, corrections, payments, rendering
    from portal.services.receivables.invoicing import LineInput
    from portal.services.receivables.payments import PaymentInput
    from tests.support.receivables import BY, invoice

    statement = PaymentImport(filename="statement.csv", sha256="0" * 64, file_format="csv", imported_by=BY)
    mapping = BankImportMapping(account_iban="DE89370400440532013000", settings={"amount": "Betrag"})
    db.session.add_all([statement, mapping])
    db.session.flush()
    with mock.patch.object(rendering, "render_files", lambda document: []):
        target = invoice(customer, "100.00")
        note = corrections.credit_note(target, [LineInput("Goodwill", "1", "10.00")], "Goodwill", BY)
        due = corrections.due_note(customer, "USD", [LineInput("Late fee", "1", "5.00")], "Late fee", BY)
    payment = payments.record(PaymentInput(amount="50.00", currency="USD", value_date=date(2026, 1, 20),
                                           customer_code=customer.code), BY, import_id=statement.id)
    entry = db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.document_id == target.id))
    return {"invoices": target.id, "credit_notes": note.id, "due_notes": due.id, "payments": payment.id,
            "allocations": allocations.allocate(payment, target, "20.00", BY).id,
            "refunds": payments.refund("5.00", BY, payment=payment, reason="Overpaid").id,
            "adjustments": corrections.adjust(customer, "USD", "debit", "1.00", "Bank charges", BY).id,
            "ledger_entries": entry, "customer_balances": iterencode((customer.id, "USD")),
            "payment_imports": statement.id, "bank_import_mappings": mapping.id}


def _kept(endpoint: str):
    """The world's row of a grid that deletes nothing (posted receivables, the ledger): the delete must leave it."""
    return lambda w: SimpleNamespace(id=w.rows[endpoint])


# admin endpoint -> a fresh row that a delete (or the mass "delete" action) may remove
DISPOSABLE = {
    "customers": lambda w: factories.CustomerFactory(),
    "contracts": lambda w: factories.ContractFactory(customer=w.own_customer),
    "projects": lambda w: factories.ProjectFactory(contract=w.other_contract),
    "fixed_lines": lambda w: factories.FixedLineFactory(contract=w.other_contract),
    "rate_cards": lambda w: factories.RateCardFactory(),
    "exchange_rates": lambda w: factories.ExchangeRateFactory(rate_date=date(2000, 1, 1) + timedelta(next(_seq))),
    "document_templates": lambda w: files.upload_template(f"Tmp {next(_seq)}", "other", "t.txt", b"t", "t@x.example"),
    "project_documents": _disposable_project_document,
    "users": lambda w: factories.make_user("guest"),
    "instances": lambda w: _start_review(),
    "incidents": lambda w: _incident(w.task.instance_id),
    "roles": lambda w: factories.role("reviewer"),  # roles are never deleted: it must survive
    "audit": lambda w: db.session.get(AuditEvent, w.rows["audit"]),  # the trail is append-only: it must survive
    **{endpoint: _kept(endpoint) for endpoint in RECEIVABLES_GRIDS},
}


