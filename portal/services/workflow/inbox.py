"""Inbox queries: my tasks, my groups' queue, what I completed; with filters and paging."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import cast, exists, func, literal, or_, select
from sqlalchemy.dialects.postgresql import JSONB

from portal.extensions import db, on_postgresql
from portal.models import HumanTask, ProcessDefinition, ProcessInstance, User
from portal.models.types import utcnow

VIEWS = ("mine", "queue", "completed")
DUE_FILTERS = ("overdue", "today", "week")


@dataclass(frozen=True)
class Filters:
    process: str = ""
    business_key: str = ""
    due: str = ""


def tasks(user: User, view: str, filters: Filters, page: int = 1, size: int = 25,
          now: datetime | None = None) -> Pagination:
    """One page of the chosen inbox view."""
    now = now or utcnow()
    query = _base(filters, now)
    if view == "completed":
        query = query.where(HumanTask.completed_by == user.email).order_by(HumanTask.completed_at.desc())
        return _page(query, page, size)
    query = query.where(HumanTask.state == "open").order_by(HumanTask.due_at.is_(None), HumanTask.due_at,
                                                             HumanTask.id)
    if view == "mine":
        return _page(query.where(HumanTask.assignee == user.email), page, size)
    candidate = or_(_json_list_has(HumanTask.candidate_users, user.email),
                    *(_json_list_has(HumanTask.candidate_roles, role) for role in sorted(user.role_codes)))
    # Four-eyes: a task the user is excluded from is not offered to them (they could not claim it).
    return _page(query.where(HumanTask.assignee.is_(None), candidate,
                         ~_json_list_has(HumanTask.excluded_users, user.email)), page, size)


def counts(user: User, known: dict[str, int] | None = None) -> dict[str, int]:
    """How many tasks are in each view (for the tabs and the dashboard); `known` totals are not counted again."""
    known = known or {}
    return {view: known[view] if view in known else tasks(user, view, Filters(), size=1).total for view in VIEWS}


def _page(query, page: int, size: int) -> Pagination:
    # A page past the end is an empty page the inbox explains, not a 404; the size is ours, not the request's,
    # so it is not capped (max_per_page would cut it at 100).
    return db.paginate(query, page=page, per_page=size, max_per_page=None, error_out=False)


def _base(filters: Filters, now: datetime):
    query = (select(HumanTask).join(ProcessInstance, HumanTask.instance_id == ProcessInstance.id)
             .join(ProcessDefinition, ProcessInstance.definition_id == ProcessDefinition.id))
    if filters.process:
        query = query.where(ProcessDefinition.key == filters.process)
    if filters.business_key:
        query = query.where(ProcessInstance.business_key.ilike(f"%{filters.business_key.strip()}%"))
    if filters.due in DUE_FILTERS:
        limit = {"overdue": now, "today": now.replace(hour=23, minute=59, second=59),
                 "week": now + timedelta(days=7)}[filters.due]
        query = query.where(HumanTask.due_at.is_not(None), HumanTask.due_at <= limit)
    return query


def _json_list_has(column, value: str):
    """SQL for "the JSON list in `column` has an element equal to `value`" (exact, case-sensitive)."""
    if on_postgresql():
        return cast(column, JSONB).contains([value])
    elements = func.json_each(column).table_valued("value").alias("element")  # SQLite's JSON1
    return exists(select(literal(1)).select_from(elements).where(elements.c.value == value))
