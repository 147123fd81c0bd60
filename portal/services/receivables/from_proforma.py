"""An approved proforma becomes its invoice (once): the workflow's "Issue invoice" task and `flask invoices issue`."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from portal.errors import Conflict, NotFound
from portal.extensions import db
from portal.models import Invoice, Proforma
from portal.models.receivables import INVOICE
from portal.services.billing import drafting
from portal.services.billing.documents import DEFAULT_UNIT, UNIT_BY_KIND
from portal.services.billing.drafting import proforma_operation
from portal.services.receivables import invoicing
from portal.services.receivables.invoicing import LineInput

APPROVED = "approved"
WORKFLOW_ACTOR = "workflow"


def invoice_from_proforma(proforma: Proforma, issued_by: str, on: date | None = None) -> Invoice:
    """Issue the approved proforma's invoice with its lines, the contract's terms, references and tax rule.

    Safe to run twice: the proforma's row is locked and a second call returns the invoice the first one made.
    """
    _lock(proforma)
    existing = db.session.scalar(select(Invoice).where(Invoice.proforma_id == proforma.id))
    if existing is not None:
        return existing if existing.number is not None else invoicing.issue(existing, issued_by, on)
    if proforma.state != APPROVED:
        raise Conflict(f"proforma {proforma.number} is {proforma.state.replace('_', ' ')}: "
                       "only an approved proforma becomes an invoice")
    contract = proforma.contract
    draft = invoicing.create_draft(INVOICE, contract.customer, proforma.currency, invoice_lines(proforma),
                                   issue_date=on or invoicing.today(), created_by=issued_by, contract=contract)
    draft.proforma = proforma
    return invoicing.issue(draft, issued_by)


def invoice_lines(proforma: Proforma) -> list[LineInput]:
    """The proforma's lines as invoice lines, each with its UN/ECE unit by kind as billing's documents give it."""
    return [LineInput(line.description, line.quantity, line.unit_price, line.tax_rate,
                      UNIT_BY_KIND.get(line.kind, DEFAULT_UNIT), line.source_ref) for line in proforma.lines]


def by_number(number: str) -> Proforma:
    """The proforma numbered `number` (NotFound names it otherwise)."""
    found = db.session.scalar(select(Proforma).where(Proforma.number == (number or "").strip()))
    if found is None:
        raise NotFound(f"no proforma numbered {number}")
    return found


def _lock(proforma: Proforma) -> None:
    """Hold the proforma's row until the transaction ends, so a job and a command cannot both invoice it, and read
    its state as locked."""
    db.session.execute(select(Proforma).where(Proforma.id == proforma.id).with_for_update()
                       .execution_options(populate_existing=True))


@proforma_operation("invoice.issue", "Issue invoice",
                    "Turns the approved proforma into its invoice: numbered, converted to the base currency, posted "
                    "to the customer's account, its PDF and UBL stored. Running it again returns the same invoice.",
                    outputs=("invoice_number",), queue="billing")
def issue_invoice_operation(params: dict, context) -> dict:
    """invoice.issue: the approved proforma's invoice number (issued now, or earlier by the same task)."""
    invoice = invoice_from_proforma(drafting.get(params.get("proforma_id")), WORKFLOW_ACTOR)
    return {"invoice_number": invoice.number}
