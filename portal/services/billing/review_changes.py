"""What the review changed on a proforma since it was drafted, read from the audit trail of its lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Proforma, ProformaLine

MANUAL = "manual"  # the source_ref of a line added in review, a charge or a discount (proforma_review.add_line)
COMPARED = ("description", "quantity", "unit_price")


@dataclass
class ReviewChanges:
    changed: dict[int, dict[str, object]] = field(default_factory=dict)  # line id -> field -> drafted value
    added: set[int] = field(default_factory=set)  # ids of lines added in review
    removed: list[dict] = field(default_factory=list)  # drafted lines taken out: their drafted values

    def __bool__(self) -> bool:
        return bool(self.changed or self.added or self.removed)


def review_changes(proforma: Proforma) -> ReviewChanges:
    """The lines changed since the draft (with the drafted values), added in review, and removed."""
    drafted = _drafted_lines(proforma)
    changes = ReviewChanges()
    for line in proforma.lines:
        if line.source_ref == MANUAL:
            changes.added.add(line.id)
        elif line.id in drafted:
            differing = _differences(line, drafted[line.id])
            if differing:
                changes.changed[line.id] = differing
    changes.removed = [drafted[line_id] for line_id in _removed_by_people(set(drafted))]
    return changes


def _removed_by_people(line_ids: set[int]) -> list[int]:
    """The ids among `line_ids` a person deleted (a re-draft, run by the system, replaces lines: not a change)."""
    if not line_ids:
        return []
    return [int(entity_id) for entity_id in db.session.scalars(select(AuditEvent.entity_id).where(
        AuditEvent.entity_type == ProformaLine.__name__, AuditEvent.action == "delete",
        AuditEvent.entity_id.in_([str(i) for i in line_ids]), AuditEvent.actor_id.is_not(None))
        .order_by(AuditEvent.id))]


def _drafted_lines(proforma: Proforma) -> dict[int, dict]:
    """Line id -> the values the line was created with, for the lines drafted for this proforma (not manual)."""
    created_for = AuditEvent.changes[("proforma_id", 1)].as_integer()
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity_type == ProformaLine.__name__, AuditEvent.action == "create",
        created_for == proforma.id).order_by(AuditEvent.id))
    drafted = {}
    for event in events:
        values = {name: pair[1] for name, pair in (event.changes or {}).items()}
        if values.get("source_ref") != MANUAL:
            drafted[int(event.entity_id)] = values
    return drafted


def _differences(line: ProformaLine, drafted: dict) -> dict[str, object]:
    differing = {}
    for name in COMPARED:
        before, now = drafted.get(name), getattr(line, name)
        if isinstance(now, Decimal):
            before = Decimal(str(before)) if before is not None else None
        if before != now:
            differing[name] = before
    return differing


