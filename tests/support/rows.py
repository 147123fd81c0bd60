"""Row queries several tests ask: how many rows match, the one task of an instance."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import HumanTask


def count(model, *where) -> int:
    """How many rows of `model` match `where` (all rows without it)."""
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def task_of(instance_id: int, *where) -> HumanTask | None:
    """The (first) task of an instance that matches `where`, in creation order."""
    query = select(HumanTask).where(HumanTask.instance_id == instance_id, *where).order_by(HumanTask.id)
    return db.session.scalars(query).first()
