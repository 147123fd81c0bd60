"""Audit trail: every flush of audited models writes AuditEvent rows in the same transaction."""

from __future__ import annotations

import contextlib
import enum
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, configure_mappers
from sqlalchemy.orm.base import NO_VALUE

from portal.extensions import db
from portal.models import AuditEvent
from portal.models.types import utcnow

REDACTED = "[redacted]"


@dataclass(frozen=True)
class Actor:
    label: str
    user_id: int | None = None
    ip: str = ""


SYSTEM = Actor("system")
_actor: ContextVar[Actor] = ContextVar("audit_actor", default=SYSTEM)


def set_actor(actor: Actor):
    """Name who is acting for the audit trail in this context; returns a token for reset_actor."""
    return _actor.set(actor)


def reset_actor(token) -> None:
    _actor.reset(token)


@contextlib.contextmanager
def acting_as(actor: Actor):
    """Run a block with a given actor (CLI commands, jobs, the demo seed)."""
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor() -> Actor:
    return _actor.get()


def install() -> None:
    """Hook the trail onto every ORM session (idempotent)."""
    if not event.contains(Session, "after_flush", _record_flush):
        event.listen(Session, "before_flush", _refuse_audit_changes)
        event.listen(Session, "after_flush", _record_flush)
        event.listen(Session, "do_orm_execute", _refuse_bulk_audit_changes)
    if not event.contains(db.Model, "after_delete", _record_delete):
        # Per row, inside the flush: rows deleted as orphans (a line taken out of a collection) never appear in
        # session.deleted, so the flush hook alone would miss them.
        event.listen(db.Model, "after_delete", _record_delete, propagate=True)
    _load_old_values_on_set()


def _load_old_values_on_set() -> None:
    """After a commit attributes are expired; make a set load the old value so `before` is never lost."""
    configure_mappers()
    for mapper in AuditEvent.registry.mappers:
        if not getattr(mapper.class_, "__audited__", False):
            continue
        for attr in mapper.column_attrs:
            target = getattr(mapper.class_, attr.key)
            if not event.contains(target, "set", _keep_old_value):
                event.listen(target, "set", _keep_old_value, active_history=True)


def _keep_old_value(target, value, oldvalue, initiator):
    return value


def _refuse_audit_changes(session, flush_context, instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent):
            raise PermissionError("audit events are append-only")


def _refuse_bulk_audit_changes(state) -> None:
    if (state.is_update or state.is_delete) and state.bind_mapper is not None \
            and state.bind_mapper.class_ is AuditEvent:
        raise PermissionError("audit events are append-only")


def _record_flush(session, flush_context) -> None:
    actor = current_actor()
    rows = [row for obj in session.new if (row := _event_row(obj, "create", actor))]
    rows += [row for obj in session.dirty if (row := _event_row(obj, "update", actor))]
    if rows:
        # Core insert on the flush's connection: same transaction, no second flush loop.
        session.connection().execute(AuditEvent.__table__.insert(), rows)


def _record_delete(mapper, connection, target) -> None:
    row = _event_row(target, "delete", current_actor())
    if row:
        connection.execute(AuditEvent.__table__.insert(), [row])


def _event_row(obj, action: str, actor: Actor) -> dict | None:
    if not getattr(type(obj), "__audited__", False):
        return None
    changes = _changes(obj, action)
    if action == "update" and not changes:
        return None
    return {
        "occurred_at": utcnow(),
        "actor": actor.label,
        "actor_id": actor.user_id,
        "ip": actor.ip,
        "action": action,
        "entity_type": type(obj).__name__,
        "entity_id": _identity(obj),
        "summary": str(obj)[:300],
        "changes": changes,
    }


def _identity(obj) -> str:
    # Read the key columns: a row inserted by this flush has no identity key until the flush ends.
    state = inspect(obj)
    return ",".join(str(part) for part in state.mapper.primary_key_from_instance(obj) if part is not None)


def _changes(obj, action: str) -> dict:
    """{attribute: [before, after]} for columns and many-to-many collections that changed."""
    state = inspect(obj)
    redacted = set(getattr(type(obj), "__audit_redacted__", ()))
    ignored = {"id", *getattr(type(obj), "__audit_ignored__", ())}
    changes = {}
    for attr in state.mapper.column_attrs:
        if attr.key in ignored:
            continue
        pair = _column_change(state, attr.key, action)
        if pair is not None:
            changes[attr.key] = [REDACTED if attr.key in redacted and v is not None else v for v in pair]
    for rel in state.mapper.relationships:
        if rel.secondary is not None:
            pair = _collection_change(state, rel.key, action)
            if pair is not None:
                changes[rel.key] = pair
    return changes


def _column_change(state, key: str, action: str):
    if action == "create":  # after the INSERT every column, defaults included, is in the instance's dict
        value = state.dict.get(key)
        return None if value is None else [None, _plain(value)]
    if action == "delete":
        value = state.attrs[key].loaded_value
        return None if value is None or value is NO_VALUE else [_plain(value), None]
    history = state.attrs[key].history  # costly: only for updates
    if not history.has_changes():
        return None
    before = history.deleted[0] if history.deleted else None
    after = history.added[0] if history.added else None
    if _plain(before) == _plain(after):
        return None
    return [_plain(before), _plain(after)]


def _collection_change(state, key: str, action: str):
    history = state.attrs[key].history
    if action == "update" and not history.has_changes():
        return None
    current = sorted(str(item) for item in (state.attrs[key].value or []))
    before = sorted(str(item) for item in [*history.unchanged, *history.deleted]) if action != "create" else []
    after = current if action != "delete" else []
    return None if before == after else [before, after]


def _plain(value):
    """A JSON-safe form of a column value; Decimal and dates as strings, bytes as a size."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value
