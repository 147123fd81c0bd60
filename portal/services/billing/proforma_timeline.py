"""Billing: the timeline of a proforma case, newest first: its audit trail (the draft, each line edit with before and
after, status changes) and its process (tasks opened, comments, claims, completions, service steps, incidents)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, or_, select

from portal.extensions import db
from portal.models import AuditEvent, HistoryEvent, HumanTask, ProcessInstance, Proforma, TaskComment
from portal.services.billing.proforma_list import STATUS_LABELS, role_names
from portal.services.workflow import definitions, operations

TIMELINE_LIMIT = 500  # entries shown; a case edited for years still opens quickly
# Audit rows written by one flush (a draft, a re-draft) are a few milliseconds apart: one entry, not hundreds.
SAME_MOMENT = timedelta(seconds=2)
PROFORMA_FIELDS = {"state": "Status", "net_total": "Net", "tax_total": "Tax", "gross_total": "Gross",
                   "editors": "Prepared or edited by", "issue_date": "Issued", "due_date": "Due",
                   "source_stale": "Built from cached data", "source_note": "Data source note"}
LINE_FIELDS = {"description": "Description", "quantity": "Quantity", "unit_price": "Unit price",
               "tax_rate": "Tax rate %", "net_amount": "Net", "tax_amount": "Tax"}
RECALCULATED = {"Net", "Tax", "Gross", "Prepared or edited by"}  # what a line edit changes on the proforma
AMOUNTS = {"net_total", "tax_total", "gross_total", "unit_price", "net_amount", "tax_amount"}
NUMBERS = {"quantity", "tax_rate"}
CENTS = Decimal("0.01")  # the Money() columns' scale: "900.00" drafted and "450.5" typed read alike


@dataclass(frozen=True)
class Change:
    field: str
    before: object
    after: object
    amount: bool = False  # before and after are Decimal amounts in the proforma's currency


@dataclass(frozen=True)
class Entry:
    """One thing that happened to the case; `kind` groups them for the eye (drafted, line_changed, comment, ...)."""

    at: datetime
    kind: str
    title: str
    actor: str = ""
    changes: tuple[Change, ...] = ()
    text: str = ""
    items: tuple[str, ...] = ()  # rows folded into the entry (the lines of a draft)


def timeline(proforma: Proforma | None, instance: ProcessInstance | None,
             history: list[HistoryEvent] | None = None) -> list[Entry]:
    """Everything that happened to the case, newest first: the proforma's audit trail and its process instance's
    tasks, comments and history (either may be missing: a proforma without a process, a task about no proforma)."""
    if history is None:
        history = process_history(instance)
    audited = _audit_entries(proforma) if proforma is not None else []
    return _newest_first(audited + _process_entries(instance, history, element_names(instance)))


def process_history(instance: ProcessInstance | None) -> list[HistoryEvent]:
    """The instance's history events, oldest first (none without an instance)."""
    if instance is None:
        return []
    return list(db.session.scalars(select(HistoryEvent).where(HistoryEvent.instance_id == instance.id)
                                   .order_by(HistoryEvent.id)))


def element_names(instance: ProcessInstance | None) -> dict[str, str]:
    """Element id -> its name in the diagram the instance runs ("review" -> "Review the proforma")."""
    if instance is None:
        return {}
    spec = definitions.compiled(instance.definition).spec
    return {key: getattr(task_spec, "bpmn_name", None) or key for key, task_spec in spec.task_specs.items()}


def _newest_first(entries: list[Entry]) -> list[Entry]:
    # Each source comes oldest first; among equal moments the one recorded later comes first as well.
    ranked = sorted(enumerate(entries), key=lambda pair: (pair[1].at, pair[0]), reverse=True)
    return [entry for _, entry in ranked]


# ---- the audit trail: the proforma's own rows and its lines' (deleted lines too) ------------------------------

def _audit_events(proforma: Proforma) -> list[AuditEvent]:
    # A line keeps its proforma for life, so the lines it ever had are the ones created with its id.
    created_here = select(AuditEvent.entity_id).where(
        AuditEvent.entity_type == "ProformaLine", AuditEvent.action == "create",
        AuditEvent.changes[("proforma_id", 1)].as_integer() == proforma.id)
    current = [str(line.id) for line in proforma.lines]
    lines = and_(AuditEvent.entity_type == "ProformaLine",
                 or_(AuditEvent.entity_id.in_(current), AuditEvent.entity_id.in_(created_here)))
    own = and_(AuditEvent.entity_type == "Proforma", AuditEvent.entity_id == str(proforma.id))
    return list(db.session.scalars(select(AuditEvent).where(or_(own, lines)).order_by(AuditEvent.id)))


def _audit_entries(proforma: Proforma) -> list[Entry]:
    entries: list[Entry] = []
    for group in _moments(_audit_events(proforma)):
        first = group[0]
        if first.entity_type == "Proforma":
            entries.extend(entry for entry in (_proforma_entry(event) for event in group) if entry)
        elif first.action == "update":
            entries.extend(entry for entry in (_line_update(event) for event in group) if entry)
        elif len(group) == 1:
            entries.append(_line_added_or_removed(first))
        else:
            entries.append(_lines_added_or_removed(group))
    return _fold_drafted_lines(entries)


def _moments(events: list[AuditEvent]) -> list[list[AuditEvent]]:
    """Runs of events of one kind (entity and action) by one actor within SAME_MOMENT of the run's first."""
    groups: list[list[AuditEvent]] = []
    for event in events:
        last = groups[-1][0] if groups else None
        if last is not None and (last.entity_type, last.action, last.actor) == (event.entity_type, event.action,
                                                                                event.actor) \
                and event.occurred_at - last.occurred_at <= SAME_MOMENT:
            groups[-1].append(event)
        else:
            groups.append([event])
    return groups


def _proforma_entry(event: AuditEvent) -> Entry | None:
    changes = _changes(event.changes, PROFORMA_FIELDS)
    if event.action == "create":
        facts = tuple(change for change in changes if change.field in ("Status", "Net", "Tax", "Gross"))
        return Entry(event.occurred_at, "drafted", "Drafted", event.actor, facts)
    if not changes:  # only bookkeeping columns (the process instance's id) changed
        return None
    state = (event.changes or {}).get("state")
    if state:
        title = f"Status set to {_status(state[1])}"
    elif {change.field for change in changes} <= RECALCULATED:
        title = "Totals recalculated"
    else:
        title = "Proforma changed"
    return Entry(event.occurred_at, "changed" if event.action == "update" else "deleted", title, event.actor, changes)


def _line_update(event: AuditEvent) -> Entry | None:
    changes = _changes(event.changes, LINE_FIELDS)
    if not changes:  # renumbered after another line was removed: nothing a reader needs
        return None
    return Entry(event.occurred_at, "line_changed", f"Line changed: {event.summary}", event.actor, changes)


def _line_added_or_removed(event: AuditEvent) -> Entry:
    added = event.action == "create"
    changes = _changes(event.changes, {k: v for k, v in LINE_FIELDS.items() if k != "description"})
    return Entry(event.occurred_at, "line_added" if added else "line_removed",
                 f"Line {'added' if added else 'removed'}: {event.summary}", event.actor, changes)


def _lines_added_or_removed(group: list[AuditEvent]) -> Entry:
    added = group[0].action == "create"
    return Entry(group[0].occurred_at, "lines_added" if added else "lines_removed",
                 f"{len(group)} lines {'added' if added else 'removed'}", group[0].actor,
                 items=tuple(event.summary for event in group))


def _fold_drafted_lines(entries: list[Entry]) -> list[Entry]:
    """The lines written with the draft belong to its "Drafted" entry, not beside it (they may come either side:
    one flush writes the proforma's row and its lines' in no set order)."""
    folded: list[Entry] = []
    for entry in entries:
        previous = folded[-1] if folded else None
        if previous is not None and _drafted_with(previous, entry):
            drafted, lines = (previous, entry) if previous.kind == "drafted" else (entry, previous)
            folded[-1] = _drafted(drafted, lines)
        else:
            folded.append(entry)
    return folded


def _drafted_with(one: Entry, other: Entry) -> bool:
    kinds = {one.kind, other.kind}
    return "drafted" in kinds and bool(kinds & {"line_added", "lines_added"}) and one.actor == other.actor \
        and abs(one.at - other.at) <= SAME_MOMENT


def _drafted(drafted: Entry, lines: Entry) -> Entry:
    items = lines.items or (lines.title.removeprefix("Line added: "),)
    return Entry(drafted.at, "drafted", f"Drafted with {len(items)} line{'s' * (len(items) != 1)}", drafted.actor,
                 drafted.changes, items=items)


def _changes(changes: dict | None, labels: dict[str, str]) -> tuple[Change, ...]:
    found = []
    for name, label in labels.items():
        if name in (changes or {}):
            before, after = (_shown(name, value) for value in changes[name])
            found.append(Change(label, before, after, amount=name in AMOUNTS))
    return tuple(found)


def _shown(name: str, value):
    """An audited value (JSON: Decimals as strings) as the page shows it."""
    if value is None:
        return None
    if name == "state":
        return _status(value)
    if name in AMOUNTS:
        return Decimal(str(value)).quantize(CENTS)
    if name in NUMBERS:
        return f"{Decimal(str(value)).normalize():f}"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def _status(state) -> str | None:
    return STATUS_LABELS.get(state, state) if state else None


# ---- the process: task rows, comments and the instance's history ----------------------------------------------

def _process_entries(instance, history: list[HistoryEvent], names: dict[str, str]) -> list[Entry]:
    if instance is None:
        return []
    task_rows = db.session.execute(select(HumanTask.id, HumanTask.element_id, HumanTask.name, HumanTask.created_at,
                                          HumanTask.candidate_roles)
                                   .where(HumanTask.instance_id == instance.id).order_by(HumanTask.id)).all()
    names = {**names, **{row.element_id: row.name for row in task_rows}}
    # Who a task was for when it opened: its roles (the assignee column says who holds it now, not then).
    opened = [Entry(row.created_at, "task_opened", f"{row.name}: ready", text=f"for {role_names(row.candidate_roles)}")
              for row in task_rows]
    comments = db.session.execute(select(TaskComment, HumanTask.name).join(HumanTask)
                                  .where(HumanTask.instance_id == instance.id).order_by(TaskComment.id))
    said = [Entry(note.created_at, "comment", f"Comment on {task}", note.author, text=note.body)
            for note, task in comments]
    return opened + said + [entry for entry in (_history_entry(e, names) for e in history) if entry]


def _history_entry(event: HistoryEvent, names: dict[str, str]) -> Entry | None:
    details = event.details or {}
    step = names.get(event.element_id, event.element_id)
    describe = _HISTORY.get(event.kind)
    if describe is None:
        return Entry(event.occurred_at, "process", event.kind.replace("_", " ").capitalize(), event.actor,
                     text=step)
    kind, title, text = describe(step, details)
    return Entry(event.occurred_at, kind, title, event.actor, text=text)


def _operation_label(topic: str, step: str) -> str:
    try:
        return operations.get(topic).label
    except KeyError:
        return step


_HISTORY = {
    "created": lambda step, d: ("process", "Process started", f"version {d.get('version', '?')}"),
    "claimed": lambda step, d: ("claimed", f"{step}: claimed", ""),
    "unclaimed": lambda step, d: ("claimed", f"{step}: handed back", f"was with {d.get('from') or 'nobody'}"),
    "reassigned": lambda step, d: ("claimed", f"{step}: reassigned",
                                   f"from {d.get('from') or 'nobody'} to {d.get('to')}"),
    "task_completed": lambda step, d: ("completed", f"{step}: completed",
                                       f"outcome: {d['outcome']}" if d.get("outcome") else ""),
    "service_task_run": lambda step, d: ("service", _operation_label(str(d.get("topic", "")), step),
                                         f"on attempt {d['attempt']}" if d.get("attempt", 1) > 1 else ""),
    "retried": lambda step, d: ("retried", f"{step}: failed, will try again", str(d.get("error", ""))) if step
    else ("retried", "Failed steps queued again", ", ".join(d.get("jobs") or [])),  # an operator's Retry
    "failed": lambda step, d: ("incident", f"Incident at {step}", str(d.get("error", ""))),
    "timer_fired": lambda step, d: ("service", f"{step}: timer fired", ""),
    "message_received": lambda step, d: ("service", f"{step}: message {d.get('message', '')} received", ""),
    "note": lambda step, d: ("service", f"Note: {d.get('text', '')}", ""),
    "migrated": lambda step, d: ("process", "Moved to a newer version of the process",
                                 f"version {d.get('from')} to {d.get('to')}"),
    "cancelled": lambda step, d: ("process", "Process cancelled", ""),
    "completed": lambda step, d: ("process", "Process finished", ""),
}
