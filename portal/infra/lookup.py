"""Finding a row by id for a use case: the row, or NotFound naming what was asked for."""

from __future__ import annotations

from portal.errors import NotFound
from portal.extensions import db


def get_or_not_found(model, row_id, what: str):
    """The `model` row with this primary key, or NotFound("no <what> <id>")."""
    row = db.session.get(model, row_id)
    if row is None:
        raise NotFound(f"no {what} {row_id}")
    return row
