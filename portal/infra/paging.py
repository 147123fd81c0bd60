"""One page of a query's rows, with what the pager needs (number, size, total, pages)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from portal.extensions import db


@dataclass(frozen=True)
class Page:
    items: list
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def paginate(query, page: int, size: int) -> Page:
    """Rows of page `page` (1-based) of an ordered SELECT, and how many rows there are in all."""
    page = max(1, page)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = list(db.session.scalars(query.limit(size).offset((page - 1) * size)))
    return Page(items, page, size, total)
