"""Billing: the staff list of proformas: filters read from request arguments, sort, pages, totals per currency,
where each case is in its approval process, and the CSV/XLSX export of the filtered set."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import contains_eager

from portal.errors import ValidationError
from portal.exports import tables
from portal.extensions import db
from portal.models import Contract, Customer, HumanTask, ProcessDefinition, ProcessInstance, Proforma
from portal.models.billing import PROFORMA_STATES
from portal.models.user import ROLE_CATALOG
from portal.money import parse
from portal.services.billing.drafting import PROCESS, parse_period

STATUS_LABELS = {"draft": "Draft", "in_review": "In review", "approved": "Approved", "rejected": "Rejected",
                 "cancelled": "Cancelled"}
UNASSIGNED = "none"  # the assignee filter's "open task nobody has claimed": no e-mail address reads like it
PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = 50
EXPORT_LIMIT = 100_000  # the admin grids' export bound: a download never holds the whole table at any size
EXPORT_BATCH = 500  # rows fetched (and their open tasks looked up) per round trip while exporting
AMOUNT_PLACES = 2  # the scale of the Money() columns the amount filters compare with
# argument -> its label on the page, so an error names the field as the user sees it
LABELS = {"period_from": "From period", "period_to": "To period", "customer": "Customer", "contract": "Contract",
          "status": "Status", "gross_min": "Gross from", "gross_max": "Gross to", "task": "Current task",
          "assignee": "Assignee", "sort": "Sort"}
SORTS = {"number": Proforma.number, "period": Proforma.period, "customer": Customer.name,
         "contract": Contract.number, "status": Proforma.state, "gross": Proforma.gross_total,
         "issued": Proforma.issue_date, "due": Proforma.due_date}
DEFAULT_SORT = "-period"


@dataclass(frozen=True)
class Filters:
    """What the list shows and in which order; an empty field (or None) means "any"."""

    period_from: str = ""
    period_to: str = ""
    customer: int | None = None
    contract: str = ""
    status: str = ""
    gross_min: Decimal | None = None
    gross_max: Decimal | None = None
    task: str = ""  # element id of the case's open task
    assignee: str = ""  # e-mail of whoever holds the open task, or UNASSIGNED
    sort: str = DEFAULT_SORT  # a key of SORTS, "-" first for descending

    def args(self) -> dict[str, str]:
        """The filters as request arguments, empty ones and the default order left out (for links that keep them)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: str(value) for name, value in values.items()
                if value not in (None, "") and not (name == "sort" and value == DEFAULT_SORT)}

    @property
    def active(self) -> bool:
        """True if anything narrows the list (the order alone does not)."""
        return bool(set(self.args()) - {"sort"})


def parse_filters(args: Mapping[str, str]) -> Filters:
    """The list's filters from request arguments; one ValidationError names every bad one (by argument name)."""
    errors: dict[str, str] = {}
    values = {}
    for name, parser in _PARSERS.items():
        raw = (args.get(name) or "").strip()
        try:
            values[name] = parser(name, raw) if raw else getattr(_ANY, name)
        except ValidationError as exc:
            errors[name] = exc.message
    _check_range(values, errors, "period_from", "period_to")
    _check_range(values, errors, "gross_min", "gross_max")
    if errors:
        raise ValidationError.of(errors)
    return Filters(**values)


_ANY = Filters()


def labelled(errors: dict[str, str]) -> dict[str, str]:
    """The errors of parse_filters keyed by the fields' labels ("Gross from": ...), for a message."""
    return {LABELS.get(name, name): message for name, message in errors.items()}


def _period(name: str, raw: str) -> str:
    try:
        year, month = parse_period(raw)
    except ValidationError as exc:
        raise ValidationError(name, exc.message) from exc
    return f"{year}-{month:02d}"


def _customer(name: str, raw: str) -> int:
    if not raw.isdigit():
        raise ValidationError(name, "choose a customer from the list")
    return int(raw)


def _choice(choices, words: str):
    def parse_choice(name: str, raw: str) -> str:
        if raw not in choices:
            raise ValidationError(name, f"choose one of {words}")
        return raw
    return parse_choice


def _text(limit: int, lower: bool = False):
    def parse_text(name: str, raw: str) -> str:
        if len(raw) > limit:
            raise ValidationError(name, f"allows at most {limit} characters")
        return raw.lower() if lower else raw
    return parse_text


def _amount(name: str, raw: str) -> Decimal:
    return parse(raw, name, places=AMOUNT_PLACES)


def _sort(name: str, raw: str) -> str:
    if raw.removeprefix("-") not in SORTS:
        raise ValidationError(name, f"sort by one of {', '.join(SORTS)}")
    return raw


_PARSERS = {
    "period_from": _period, "period_to": _period, "customer": _customer, "contract": _text(40),
    "status": _choice(PROFORMA_STATES, ", ".join(STATUS_LABELS.values())), "gross_min": _amount,
    "gross_max": _amount, "task": _text(120), "assignee": _text(254, lower=True), "sort": _sort,
}


def _check_range(values: dict, errors: dict[str, str], low: str, high: str) -> None:
    if values.get(low) not in (None, "") and values.get(high) not in (None, "") and values[low] > values[high]:
        errors.setdefault(high, f"is below {LABELS[low]}")


def page(filters: Filters, number: int = 1, size: int = DEFAULT_PAGE_SIZE) -> Pagination:
    """One page of the matching proformas in the chosen order, each with its contract and customer loaded."""
    query = (_filtered(select(Proforma), filters)
             .options(contains_eager(Proforma.contract).contains_eager(Contract.customer))
             .order_by(*_order(filters.sort)))
    # Past the last page: an empty page the list explains, as in the inbox.
    return db.paginate(query, page=number, per_page=size, max_per_page=None, error_out=False)


@dataclass(frozen=True)
class Total:
    """Count and sums of the matching proformas in one currency."""

    currency: str
    count: int
    net: Decimal
    tax: Decimal
    gross: Decimal


def totals(filters: Filters) -> list[Total]:
    """Count and sums per currency of every matching proforma (all pages, not just one), summed in SQL."""
    query = _filtered(select(Proforma.currency, func.count(Proforma.id), func.sum(Proforma.net_total),
                             func.sum(Proforma.tax_total), func.sum(Proforma.gross_total)), filters)
    rows = db.session.execute(query.group_by(Proforma.currency).order_by(Proforma.currency))
    return [Total(currency, count, net, tax, gross) for currency, count, net, tax, gross in rows]


def _filtered(query, filters: Filters):
    query = query.join(Contract, Proforma.contract_id == Contract.id)
    return query.join(Customer, Contract.customer_id == Customer.id).where(*_conditions(filters))


def _conditions(filters: Filters) -> list:
    conditions = []
    if filters.period_from:
        conditions.append(Proforma.period >= filters.period_from)
    if filters.period_to:
        conditions.append(Proforma.period <= filters.period_to)
    if filters.customer is not None:
        conditions.append(Contract.customer_id == filters.customer)
    if filters.contract:
        conditions.append(or_(Contract.number.icontains(filters.contract, autoescape=True),
                              Contract.title.icontains(filters.contract, autoescape=True)))
    if filters.status:
        conditions.append(Proforma.state == filters.status)
    if filters.gross_min is not None:
        conditions.append(Proforma.gross_total >= filters.gross_min)
    if filters.gross_max is not None:
        conditions.append(Proforma.gross_total <= filters.gross_max)
    if filters.task or filters.assignee:
        conditions.append(_open_task_matching(filters))
    return conditions


def _open_task_matching(filters: Filters):
    """EXISTS an open task of the proforma's process with that step and holder (one task must match both)."""
    task = select(HumanTask.id).where(HumanTask.instance_id == Proforma.process_instance_id, HumanTask.state == "open")
    if filters.task:
        task = task.where(HumanTask.element_id == filters.task)
    if filters.assignee == UNASSIGNED:
        task = task.where(HumanTask.assignee.is_(None))
    elif filters.assignee:
        task = task.where(HumanTask.assignee == filters.assignee)  # stored as the users' lower-case e-mails
    return task.exists()


def _order(sort: str) -> list:
    column = SORTS[sort.removeprefix("-")]
    descending = sort.startswith("-")
    # The number breaks ties, so pages never overlap or skip a row between requests.
    return [column.desc() if descending else column.asc(), Proforma.number.asc()]


@dataclass(frozen=True)
class OpenTask:
    """A case's open human task: what it is, who holds it (None: the candidates' queue), when it is due."""

    id: int
    name: str
    element_id: str
    assignee: str | None
    candidate_roles: tuple[str, ...]
    due_at: datetime | None


@dataclass(frozen=True)
class Position:
    """Where a case is in its approval process: the instance's status and its open tasks."""

    instance_id: int
    status: str
    tasks: tuple[OpenTask, ...] = ()

    @property
    def task(self) -> OpenTask | None:
        """The open task (the approval process has one at a time)."""
        return self.tasks[0] if self.tasks else None


def role_names(codes) -> str:
    """Candidate roles in words ("Reviewer, Finance manager"); "named people" for a task without roles."""
    return ", ".join(ROLE_CATALOG.get(code, (code,))[0] for code in codes or []) or "named people"


def positions(instance_ids: Iterable[int | None]) -> dict[int, Position]:
    """Instance id -> where that case is, for many cases in one query."""
    ids = sorted({instance_id for instance_id in instance_ids if instance_id is not None})
    if not ids:
        return {}
    rows = db.session.execute(
        select(ProcessInstance.id, ProcessInstance.status, HumanTask.id, HumanTask.name, HumanTask.element_id,
               HumanTask.assignee, HumanTask.candidate_roles, HumanTask.due_at)
        .outerjoin(HumanTask, and_(HumanTask.instance_id == ProcessInstance.id, HumanTask.state == "open"))
        .where(ProcessInstance.id.in_(ids)).order_by(ProcessInstance.id, HumanTask.id))
    statuses: dict[int, str] = {}
    open_tasks: dict[int, list[OpenTask]] = defaultdict(list)
    for instance_id, status, *task in rows:
        statuses[instance_id] = status
        if task[0] is not None:
            open_tasks[instance_id].append(OpenTask(*task[:4], tuple(task[4] or ()), task[5]))
    return {instance_id: Position(instance_id, status, tuple(open_tasks[instance_id]))
            for instance_id, status in statuses.items()}


def filter_options() -> dict[str, list]:
    """What the filter form offers: customers, the steps cases wait in now, who holds them."""
    open_tasks = (select(HumanTask.element_id, HumanTask.name, HumanTask.assignee)
                  .join(ProcessInstance, HumanTask.instance_id == ProcessInstance.id)
                  .join(ProcessDefinition, ProcessInstance.definition_id == ProcessDefinition.id)
                  .where(ProcessDefinition.key == PROCESS, HumanTask.state == "open").subquery())
    steps = db.session.execute(select(open_tasks.c.element_id, func.min(open_tasks.c.name))
                               .group_by(open_tasks.c.element_id).order_by(func.min(open_tasks.c.name)))
    holders = db.session.scalars(select(open_tasks.c.assignee).distinct()
                                 .where(open_tasks.c.assignee.is_not(None)).order_by(open_tasks.c.assignee))
    customers = db.session.execute(select(Customer.id, Customer.code, Customer.name).order_by(Customer.code))
    return {"customers": [(cid, f"{code} — {name}") for cid, code, name in customers],
            "tasks": [tuple(row) for row in steps], "assignees": list(holders)}


EXPORT_COLUMNS = ("Number", "Customer code", "Customer", "Contract", "Period", "Status", "Currency", "Net", "Tax",
                  "Gross", "Issued", "Due", "Current task", "Assignee")


def export_rows(filters: Filters, limit: int = EXPORT_LIMIT) -> Iterator[tuple]:
    """The header, then one row of plain values per matching proforma in the list's order (at most `limit`)."""
    yield EXPORT_COLUMNS
    query = _filtered(select(Proforma.number, Customer.code, Customer.name, Contract.number, Proforma.period,
                             Proforma.state, Proforma.currency, Proforma.net_total, Proforma.tax_total,
                             Proforma.gross_total, Proforma.issue_date, Proforma.due_date,
                             Proforma.process_instance_id), filters)
    result = db.session.execute(query.order_by(*_order(filters.sort)).limit(limit)
                                .execution_options(yield_per=EXPORT_BATCH))
    for batch in result.partitions():
        where = positions(row.process_instance_id for row in batch)
        for *values, instance_id in batch:
            task = where[instance_id].task if instance_id in where else None
            values[5] = STATUS_LABELS.get(values[5], values[5])
            yield (*values, task.name if task else "", (task.assignee or "unassigned") if task else "")


def csv_chunks(rows: Iterable[tuple]) -> Iterator[str]:
    """The rows as CSV text, one chunk per row, so a response or a file can stream them."""
    return tables.csv_chunks(rows)


def xlsx_bytes(rows: Iterable[tuple]) -> bytes:
    """The rows as an XLSX workbook (portal.exports.tables)."""
    return tables.xlsx_bytes(rows, "Proformas")


@dataclass(frozen=True)
class CaseSummary:
    """What an inbox row shows of the proforma its task is about."""

    proforma_id: int
    number: str
    customer: str
    period: str
    gross_total: Decimal
    currency: str


def summaries(instance_ids: Iterable[int | None]) -> dict[int, CaseSummary]:
    """Process instance id -> the proforma whose approval it runs (instances of other processes: absent); one query."""
    ids = sorted({instance_id for instance_id in instance_ids if instance_id is not None})
    if not ids:
        return {}
    rows = db.session.execute(
        select(Proforma.process_instance_id, Proforma.id, Proforma.number, Customer.name, Proforma.period,
               Proforma.gross_total, Proforma.currency)
        .join(Contract, Proforma.contract_id == Contract.id).join(Customer, Contract.customer_id == Customer.id)
        .where(Proforma.process_instance_id.in_(ids)))
    return {instance_id: CaseSummary(*values) for instance_id, *values in rows}
