"""Move a running instance to the newest version of its process, when the difference allows it."""

from __future__ import annotations

from datetime import datetime

from portal.errors import Conflict
from portal.models.types import utcnow
from portal.services.workflow import definitions, instances, steps
from workflows import engine
from workflows.migration import migration_blockers


def check(row) -> tuple[object, list[str]]:
    """The newest definition and the reasons the instance cannot move to it (empty list: it can)."""
    newest = definitions.latest(row.definition.key)
    if newest.id == row.definition_id:
        return newest, ["the instance already runs the newest version"]
    if row.status not in ("running", "incident"):
        return newest, [f"the instance is {row.status}"]
    old = instances.load(row)
    reasons = migration_blockers(old.workflow, definitions.compiled(newest))
    return newest, reasons


def migrate(instance_id: int, by: str, now: datetime | None = None):
    """Re-attach the instance's state to the newest version; Conflict says why when it is not safe."""
    row = instances.lock(instance_id)
    newest, reasons = check(row)
    if reasons:
        raise Conflict("cannot migrate: " + "; ".join(reasons))
    previous = row.definition.version
    instance = engine.Instance.load(definitions.compiled(newest), row.state)
    row.definition = newest
    instances.history(row, "migrated", actor=by, details={"from": previous, "to": newest.version})
    steps.act(row, instance, instance.advance, now or utcnow())
    steps.refresh_open_tasks(row, instance, now or utcnow())
    return row
