"""Reviewing a proforma inside its review task: change, add and remove lines (audited), totals kept right."""

from __future__ import annotations

from sqlalchemy import select

from portal.errors import Forbidden, NotFound, ValidationError
from portal.extensions import db
from portal.models import HumanTask, Proforma, ProformaLine, User
from portal.models.billing import DISCOUNT
from portal.models.types import utcnow
from portal.services.billing import drafting
from portal.services.billing.review_changes import MANUAL  # a charge added in review; any added line's source_ref
from portal.services.masterdata import rules
from portal.services.workflow import instances, steps, tasks

REVIEW_STEP = "review"
DESCRIPTION_LENGTH = ProformaLine.__table__.c.description.type.length


def proforma_for(task: HumanTask) -> Proforma | None:
    """The proforma a task of the approval process is about (its business key), if any."""
    if task.instance.definition.key != drafting.PROCESS:
        return None
    return db.session.scalar(select(Proforma).where(Proforma.number == task.instance.business_key))


def may_edit(task: HumanTask, user: User) -> bool:
    return task.state == "open" and task.element_id == REVIEW_STEP and task.assignee == user.email \
        and tasks.refusal(task, user) is None


def change_line(task_id: int, user: User, line_id: int, values: dict) -> ProformaLine:
    """New description, quantity or unit price for a line (the tax rate is the contract's; a discount stays one)."""
    task, proforma = _editable(task_id, user)
    line = _line(proforma, line_id)
    line.description, line.quantity, line.unit_price = _line_values(values, discount=line.kind == DISCOUNT)
    _changed(task, proforma, user)
    return line


def add_line(task_id: int, user: User, values: dict) -> ProformaLine:
    """A manual line (a charge, or with `kind` "discount" a discount), taxed like the contract's other lines."""
    task, proforma = _editable(task_id, user)
    contract = proforma.contract
    kind = _added_kind(values.get("kind"))
    description, quantity, unit_price = _line_values(values, discount=kind == DISCOUNT)
    line = ProformaLine(kind=kind, description=description, quantity=quantity, unit_price=unit_price,
                        tax_rate=drafting.tax_rate_for(contract, contract.tax_rate), source_ref=MANUAL,
                        position=len(proforma.lines) + 1)
    proforma.lines.append(line)
    _changed(task, proforma, user)
    return line


def remove_line(task_id: int, user: User, line_id: int) -> None:
    task, proforma = _editable(task_id, user)
    proforma.lines.remove(_line(proforma, line_id))
    _changed(task, proforma, user)


def _editable(task_id: int, user: User) -> tuple[HumanTask, Proforma]:
    _, task = instances.lock_for_task(task_id)
    proforma = proforma_for(task)
    if proforma is None:
        raise NotFound(f"task {task_id} is not about a proforma")
    if not may_edit(task, user):
        raise Forbidden("only the reviewer who has claimed the open review task can change the proforma")
    return task, proforma


def _changed(task: HumanTask, proforma: Proforma, user: User) -> None:
    """Totals again, the editor noted (they may not approve), and the process told the new total."""
    for position, line in enumerate(proforma.lines, start=1):
        line.position = position
    drafting.recalculate(proforma)
    proforma.editors = sorted({*(proforma.editors or []), user.email})
    task.contributors = sorted({*(task.contributors or []), user.email})
    row = instances.lock(task.instance_id)
    instance = instances.load(row)
    instance.set_task_variables(task.task_guid, {"gross_total": proforma.gross_total})
    steps.sync(row, instance, utcnow())


def _line(proforma: Proforma, line_id: int) -> ProformaLine:
    line = next((line for line in proforma.lines if line.id == line_id), None)
    if line is None:
        raise NotFound(f"proforma {proforma.number} has no line {line_id}")
    return line


def _added_kind(kind) -> str:
    if kind in (None, "", MANUAL):
        return MANUAL
    if kind != DISCOUNT:
        raise ValidationError("kind", f"must be {MANUAL} or {DISCOUNT}")
    return DISCOUNT


def _line_values(values: dict, *, discount: bool) -> tuple:
    """Description, quantity and unit price as typed, checked like master data; every bad field reported at once."""
    checks = {"description": lambda: _description(values.get("description")),
              "quantity": lambda: rules.parse_quantity(values.get("quantity")),
              "unit_price": lambda: rules.parse_unit_price(values.get("unit_price"), discount=discount)}
    parsed, errors = {}, {}
    for field, check in checks.items():
        try:
            parsed[field] = check()
        except ValidationError as exc:
            errors[field] = exc.message
    if errors:
        raise ValidationError.of(errors)
    return parsed["description"], parsed["quantity"], parsed["unit_price"]


def _description(text) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError("description", "is required")
    if len(text) > DESCRIPTION_LENGTH:
        raise ValidationError("description", f"allows at most {DESCRIPTION_LENGTH} characters")
    return text
