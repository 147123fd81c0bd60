"""What a customer user may see: only rows of its own customer; anything else is NotFound."""

from __future__ import annotations

from sqlalchemy import select

from portal.errors import NotFound
from portal.extensions import db
from portal.models import Contract, Customer, User


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
