"""Human tasks: who may see and do them, claim/unclaim/reassign, comments, completing with a form."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import or_, select
from sqlalchemy.orm import contains_eager

from portal.errors import Conflict, Forbidden, NotFound, ValidationError
from portal.extensions import db
from portal.infra.lookup import get_or_not_found
from portal.models import HumanTask, Role, TaskComment, User
from portal.models.types import utcnow
from portal.money import parse
from portal.security import can
from portal.services.workflow import instances, steps


def get(task_id: int) -> HumanTask:
    return get_or_not_found(HumanTask, task_id, "task")


def is_candidate(task: HumanTask, user: User) -> bool:
    """The user may pick up the task: named directly or holding one of its roles."""
    return user.email in (task.candidate_users or []) or bool(user.role_codes & set(task.candidate_roles or []))


def may_see(task: HumanTask, user: User) -> bool:
    return task.assignee == user.email or is_candidate(task, user) or task.completed_by == user.email \
        or can(user, "tasks.manage")


def refusal(task: HumanTask, user: User) -> str | None:
    """Why `user` may not complete the task now, or None if they may."""
    if task.state != "open":
        return f"the task is {task.state}"
    if user.email in (task.excluded_users or []):
        return "four-eyes rule: you worked on an earlier step of this case, so someone else must do this one"
    if task.assignee and task.assignee != user.email:
        return f"the task is assigned to {task.assignee}"
    if not task.assignee and not is_candidate(task, user):
        return "the task is for other roles"
    return None


def claim(task_id: int, user: User, expected_version: int | None = None) -> HumanTask:
    """Take an open task from the group queue; 409 if it changed since shown (with `expected_version`)."""
    row, task = instances.lock_for_task(task_id)
    _check_version(task, expected_version)
    if task.assignee == user.email:
        return task
    if task.assignee:
        raise Conflict(f"already claimed by {task.assignee}")
    reason = refusal(task, user)
    if reason:
        raise Forbidden(reason)
    task.assignee = user.email
    instances.history(row, "claimed", task.element_id, user.email)
    return task


def claim_to_complete(task_id: int, user: User, values: dict, outcome: str | None,
                      expected_version: int | None = None) -> HumanTask:
    """Claim an open task the user wants to complete with these values: refused (and not claimed) if they may
    not do it or the values are wrong, so that completing afterwards is one confirmation away."""
    _, task = instances.lock_for_task(task_id)
    _check_version(task, expected_version)
    reason = refusal(task, user)
    if reason:
        raise Conflict(reason) if task.state != "open" else Forbidden(reason)
    completion_values(task, values, outcome)
    return claim(task_id, user)


def unclaim(task_id: int, user: User) -> HumanTask:
    row, task = instances.lock_for_task(task_id)
    if task.state != "open":
        raise Conflict(f"the task is {task.state}")
    if not task.assignee:
        raise Conflict("nobody has claimed this task")
    if task.assignee != user.email and not can(user, "tasks.manage"):
        raise Forbidden("only the assignee or a finance manager can hand a task back")
    instances.history(row, "unclaimed", task.element_id, user.email, {"from": task.assignee})
    task.assignee = None
    return task


def reassign(task_id: int, manager: User, assignee_email: str) -> HumanTask:
    """A finance manager or admin gives an open task to someone who may do it."""
    if not can(manager, "tasks.manage"):
        raise Forbidden("only finance managers and admins reassign tasks")
    row, task = instances.lock_for_task(task_id)
    target = db.session.scalar(select(User).where(User.email == (assignee_email or "").strip().lower()))
    if target is None or not target.is_active:
        raise ValidationError("assignee", f"no active user {assignee_email}")
    previous, task.assignee = task.assignee, None
    reason = refusal(task, target)
    if reason:
        task.assignee = previous
        raise ValidationError("assignee", f"{target.email} cannot do this task: {reason}")
    task.assignee = target.email
    instances.history(row, "reassigned", task.element_id, manager.email, {"from": previous, "to": target.email})
    return task


COMMENT_LENGTH = 4000  # a case note, not a document: what is longer belongs in an attachment


def comment(task_id: int, user: User, body: str) -> TaskComment:
    """Add a comment to the task's case (every later task of the case shows it)."""
    task = visible(task_id, user)
    if not (body or "").strip():
        raise ValidationError("comment", "write something first")
    if len(body.strip()) > COMMENT_LENGTH:
        raise ValidationError("comment", f"allows at most {COMMENT_LENGTH:,} characters")
    note = TaskComment(task=task, author=user.email, body=body.strip())
    db.session.add(note)
    db.session.flush()
    return note


def _check_version(task: HumanTask, expected_version: int | None) -> None:
    if expected_version is not None and task.version != expected_version:
        raise Conflict("the task changed since you opened it; reload and try again")


def case_comments(task: HumanTask) -> list[TaskComment]:
    """Every comment on the task's case (all tasks of its process instance), oldest first, with its task."""
    return list(db.session.scalars(
        select(TaskComment).join(TaskComment.task).where(HumanTask.instance_id == task.instance_id)
        .options(contains_eager(TaskComment.task)).order_by(TaskComment.created_at, TaskComment.id)))


def complete(task_id: int, user: User, values: dict, expected_version: int | None = None,
             outcome: str | None = None, now: datetime | None = None) -> HumanTask:
    """Complete a task with its form values; 409 if it changed since shown, 403 if the user may not."""
    now = now or utcnow()
    row, task = instances.lock_for_task(task_id)
    _check_version(task, expected_version)
    reason = refusal(task, user)
    if reason:
        raise Conflict(reason) if task.state != "open" else Forbidden(reason)
    data = completion_values(task, values, outcome)
    instance = instances.load(row)
    task.state, task.outcome, task.completed_by, task.completed_at = "completed", outcome, user.email, now
    instances.history(row, "task_completed", task.element_id, user.email, {"outcome": outcome} if outcome else {})
    steps.act(row, instance, instance.complete_user_task, now, task.task_guid, data, user.email,
                finished=task.task_guid)
    return task


def completion_values(task: HumanTask, values: dict, outcome: str | None) -> dict:
    """What completing the task with these form values and outcome hands the process; ValidationError if wrong."""
    data = parse_form(task.form or [], values)
    if task.outcomes and outcome not in task.outcomes:
        raise ValidationError("outcome", f"choose one of {', '.join(task.outcomes)}")
    if outcome:
        data["outcome"] = outcome
    return data


def parse_form(fields: list[dict], values: dict) -> dict:
    """Typed, validated values of a generated form; one error names every bad field."""
    data, errors = {}, {}
    for field in fields:
        try:
            present, value = _field_value(field, values.get(field["id"]))
        except ValidationError as exc:
            errors[field["id"]] = exc.message
            continue
        if present:
            data[field["id"]] = value
    if errors:
        raise ValidationError.of(errors)
    return data


def _field_value(field: dict, raw) -> tuple[bool, object]:
    """(True, typed value), or (False, None) for an optional field left empty."""
    raw = raw.strip() if isinstance(raw, str) else raw
    rules = field.get("validation") or {}
    if raw in (None, "") and field["type"] != "boolean":
        if "required" in rules:
            raise ValidationError(field["id"], "is required")
        return False, None
    value = _typed(field, raw)
    _check_limits(field, value, rules)
    return True, value


def _typed(field: dict, raw):
    kind = field["type"]
    if kind in ("decimal", "money"):
        return parse(raw, field["id"], places=MONEY_PLACES if kind == "money" else None)
    try:
        if kind == "long":
            return _whole(raw)
        if kind == "boolean":
            return str(raw).lower() in ("1", "true", "on", "yes", "y")
        if kind == "date":
            return raw if isinstance(raw, date) else date.fromisoformat(str(raw))
    except (ValueError, TypeError) as exc:
        raise ValidationError(field["id"], f"“{raw}” is not {_KIND_NAMES.get(kind, kind)}") from exc
    if kind == "enum" and raw not in {o["id"] for o in field.get("options", [])}:
        raise ValidationError(field["id"], "choose one of the offered values")
    return raw


def _whole(raw) -> int:
    """A whole number as typed ("12") or given by the CLI (12, Decimal("12")); 2.5 is refused, never cut to 2."""
    if isinstance(raw, bool):
        raise ValueError(raw)
    if isinstance(raw, Decimal) and raw == raw.to_integral_value():
        return int(raw)
    if isinstance(raw, int) or (isinstance(raw, str) and re.fullmatch(r"[+-]?\d+", raw)):
        return int(raw)
    raise ValueError(raw)


_KIND_NAMES = {"long": "a whole number", "date": "a date (YYYY-MM-DD)"}
MONEY_PLACES = 2  # a "money" field is stored like the Money() columns


def _check_limits(field: dict, value, rules: dict) -> None:
    if isinstance(value, str):
        if "minlength" in rules and len(value) < _limit(field, rules, "minlength"):
            raise ValidationError(field["id"], f"needs at least {rules['minlength']} characters")
        if "maxlength" in rules and len(value) > _limit(field, rules, "maxlength"):
            raise ValidationError(field["id"], f"allows at most {rules['maxlength']} characters")
    elif isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        if "min" in rules and value < _limit(field, rules, "min"):
            raise ValidationError(field["id"], f"must be at least {rules['min']}")
        if "max" in rules and value > _limit(field, rules, "max"):
            raise ValidationError(field["id"], f"must be at most {rules['max']}")


def _limit(field: dict, rules: dict, name: str) -> Decimal:
    """A limit from the diagram (checked at deploy now; versions deployed before may hold anything)."""
    try:
        limit = Decimal(str(rules[name]).strip())
        if limit.is_finite():
            return limit
    except InvalidOperation:
        pass
    raise ValidationError(field["id"], f"the diagram's {name} rule {rules[name]!r} is not a number; an analyst "
                                       "must fix the process")


def visible(task_id: int, user: User) -> HumanTask:
    """The task if `user` may see it; else NotFound, worded as for a task that does not exist."""
    task = get(task_id)
    if not may_see(task, user):
        raise NotFound(f"no task {task_id}")
    return task


def eligible_users(task: HumanTask) -> list[str]:
    """Emails of the active users who may pick up the task (candidates, less the four-eyes exclusions), sorted."""
    candidate = or_(User.email.in_(task.candidate_users or []),
                    User.roles.any(Role.code.in_(task.candidate_roles or [])))
    return list(db.session.scalars(select(User.email).where(
        User.active.is_(True), candidate, User.email.not_in(task.excluded_users or [])).order_by(User.email)))
