"""Whose receivables a user sees: everyone's, the customers of the projects they manage, or their own company's."""

from __future__ import annotations

from sqlalchemy import or_, select

from portal.errors import NotFound
from portal.extensions import db
from portal.models import Contract, Project
from portal.models.user import CUSTOMER
from portal.security import RECEIVABLES_ALL_CUSTOMERS


def customer_ids(user) -> set[int] | None:
    """None when the user sees every customer; otherwise the ids of the customers they may see."""
    if user.role_codes & RECEIVABLES_ALL_CUSTOMERS:
        return None
    ids: set[int] = set()
    if CUSTOMER in user.role_codes and user.customer_id is not None:
        ids.add(user.customer_id)
    managed = (select(Contract.customer_id).join(Project, Project.contract_id == Contract.id)
               .where(or_(Project.account_manager_id == user.id, Project.responsible_manager_id == user.id)))
    ids.update(db.session.scalars(managed))
    return ids


def restrict(query, column, user):
    """The query limited to the customers `user` may see (on `column`, a customer id column)."""
    ids = customer_ids(user)
    return query if ids is None else query.where(column.in_(ids))


def check(user, customer_id: int | None) -> None:
    """NotFound (not Forbidden: a customer's existence is not told) when the user may not see this customer."""
    ids = customer_ids(user)
    if ids is not None and customer_id not in ids:
        raise NotFound("no such record")
