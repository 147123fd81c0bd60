"""What a customer user may see: only rows of its own customer, only its contract's formats; else NotFound."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.errors import NotFound
from portal.extensions import db
from portal.models import Contract, Customer, Proforma, ProformaDocument, User

# A proforma's state as the customer reads it. Paid or unpaid is not known until invoices and receivables land.
STATE_LABELS = {"draft": "Draft", "in_review": "In review", "approved": "Approved", "rejected": "Rejected",
                "cancelled": "Cancelled"}


def own_customer(user: User) -> Customer:
    """The customer the user belongs to."""
    if user.customer_id is None:
        raise NotFound("this account belongs to no customer")
    return db.session.get(Customer, user.customer_id)


def own_contracts(user: User) -> list[Contract]:
    """The customer's contracts, newest first."""
    query = select(Contract).where(Contract.customer_id == user.customer_id).order_by(Contract.valid_from.desc())
    return list(db.session.scalars(query))


def own_contract(user: User, contract_id: int) -> Contract:
    """One of the customer's contracts; another customer's contract is reported as not found."""
    contract = db.session.get(Contract, contract_id)
    if contract is None or user.customer_id is None or contract.customer_id != user.customer_id:
        raise NotFound(f"no contract {contract_id}")
    return contract


def own_proformas(user: User) -> list[Proforma]:
    """The customer's approved proformas, newest period first."""
    query = (select(Proforma).join(Contract, Proforma.contract_id == Contract.id)
             .where(Contract.customer_id == user.customer_id, Proforma.state == "approved")
             .options(selectinload(Proforma.documents))  # the list links every file
             .order_by(Proforma.period.desc(), Proforma.number))
    return list(db.session.scalars(query))


def own_proforma(user: User, proforma_id: int) -> Proforma:
    """One approved proforma of the customer; anything else is reported as not found."""
    proforma = db.session.get(Proforma, proforma_id)
    if proforma is None or proforma.state != "approved" or user.customer_id is None \
            or proforma.contract.customer_id != user.customer_id:
        raise NotFound(f"no proforma {proforma_id}")
    return proforma


def own_document(user: User, proforma_id: int, fmt: str) -> ProformaDocument:
    """A rendered file of one of the customer's approved proformas, in a format its contract lets it download."""
    proforma = own_proforma(user, proforma_id)
    document = next((d for d in downloads(proforma) if d.format == fmt), None)
    if document is None:
        raise NotFound(f"proforma {proforma_id} has no {fmt} document to download")
    return document


def downloads(proforma: Proforma) -> list[ProformaDocument]:
    """The proforma's files the customer may download (the contract's portal formats), by format name."""
    allowed = set(proforma.contract.downloadable_formats)
    return sorted((d for d in proforma.documents if d.format in allowed), key=lambda d: d.format)


def state_label(proforma: Proforma) -> str:
    """The proforma's state in words, e.g. "In review" or "Approved"."""
    return STATE_LABELS.get(proforma.state, proforma.state.replace("_", " ").capitalize())
