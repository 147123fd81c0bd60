"""Billing: one proforma as a case: header, where it is in its process, lines, documents, upload receipts,
e-mails sent, and one timeline of everything that happened to it (audit trail, tasks, service steps), newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.errors import NotFound
from portal.extensions import db
from portal.models import (
    Contract,
    Customer,
    HistoryEvent,
    ProcessInstance,
    Proforma,
    ProformaDocument,
    ServiceJob,
    UploadReceipt,
    WorkflowTimer,
)
from portal.services.billing.proforma_list import Position, positions
from portal.services.billing.proforma_timeline import TIMELINE_LIMIT, Entry, element_names, process_history, timeline
from portal.services.workflow import instances

EMAIL_TOPIC = "proforma.email"


@dataclass(frozen=True)
class Step:
    """A step the case waits for without people: failed for good (an incident), queued (perhaps to try again after
    failed attempts), or a timer not yet due."""

    element: str
    attempts: int = 0
    error: str = ""
    next_at: datetime | None = None
    timer: bool = False


@dataclass(frozen=True)
class SentEmail:
    at: datetime
    attempt: int
    message_id: str  # known for the newest send only: the process keeps the last Message-ID


@dataclass(frozen=True)
class Case:
    proforma: Proforma
    position: Position | None
    incidents: list[Step]
    waiting: list[Step]
    documents: list[ProformaDocument]
    receipts: list[UploadReceipt]
    emails: list[SentEmail]
    recipients: list[str]  # the customer's billing contacts now (mails do not record whom they went to)
    timeline: list[Entry]
    timeline_total: int


def case(proforma_id: int) -> Case:
    """Everything the case page shows of one proforma; NotFound if there is none."""
    proforma = _proforma(proforma_id)
    instance = db.session.get(ProcessInstance, proforma.process_instance_id) if proforma.process_instance_id else None
    history = process_history(instance)
    names = element_names(instance)
    entries = timeline(proforma, instance, history)
    return Case(proforma=proforma, position=positions([proforma.process_instance_id]).get(proforma.process_instance_id),
                incidents=_incidents(instance, history, names), waiting=_waiting(instance, names),
                documents=_documents(proforma.id), receipts=_receipts(proforma.id), emails=_emails(instance, history),
                recipients=[c.email for c in proforma.contract.customer.contacts if c.kind == "billing"],
                timeline=entries[:TIMELINE_LIMIT], timeline_total=len(entries))


def document(proforma_id: int, fmt: str) -> ProformaDocument:
    """One rendered file of the proforma, with its content; NotFound if it was not rendered in that format."""
    found = db.session.scalar(select(ProformaDocument).where(ProformaDocument.proforma_id == proforma_id,
                                                             ProformaDocument.format == fmt))
    if found is None:
        raise NotFound(f"proforma {proforma_id} has no {fmt} document")
    return found


def _proforma(proforma_id: int) -> Proforma:
    found = db.session.scalar(
        select(Proforma).where(Proforma.id == proforma_id)
        .options(selectinload(Proforma.lines),
                 selectinload(Proforma.contract).selectinload(Contract.customer).selectinload(Customer.contacts)))
    if found is None:
        raise NotFound(f"no proforma {proforma_id}")
    return found


def _documents(proforma_id: int) -> list[ProformaDocument]:
    query = select(ProformaDocument).where(ProformaDocument.proforma_id == proforma_id)
    return list(db.session.scalars(query.order_by(ProformaDocument.format)))  # content stays deferred


def _receipts(proforma_id: int) -> list[UploadReceipt]:
    query = select(UploadReceipt).where(UploadReceipt.proforma_id == proforma_id)
    return list(db.session.scalars(query.order_by(UploadReceipt.uploaded_at.desc(), UploadReceipt.id.desc())))


def _incidents(instance, history: list[HistoryEvent], names: dict[str, str]) -> list[Step]:
    """The failed steps waiting for a retry: job incidents, or the engine's own failure from the history."""
    if instance is None or instance.status != "incident":
        return []
    jobs = db.session.scalars(select(ServiceJob).where(ServiceJob.instance_id == instance.id,
                                                       ServiceJob.state == "incident").order_by(ServiceJob.id))
    found = [Step(names.get(job.element_id, job.element_id), job.attempts, job.last_error) for job in jobs]
    if not found:
        failure = next((event for event in reversed(history) if event.kind == "failed"), None)
        if failure is not None:
            found.append(Step(names.get(failure.element_id, failure.element_id),
                              int(failure.details.get("attempts", 1)), str(failure.details.get("error", ""))))
    return found


def _waiting(instance, names: dict[str, str]) -> list[Step]:
    """What a running case waits for besides people: its queued service steps and its timers."""
    if instance is None or instance.status != "running":
        return []
    jobs = db.session.scalars(select(ServiceJob).where(ServiceJob.instance_id == instance.id,
                                                       ServiceJob.state == "queued").order_by(ServiceJob.id))
    timers = db.session.scalars(select(WorkflowTimer).where(WorkflowTimer.instance_id == instance.id,
                                                            WorkflowTimer.fired_at.is_(None)).order_by(WorkflowTimer.id))
    return [Step(names.get(job.element_id, job.element_id), job.attempts, job.last_error, job.next_attempt_at)
            for job in jobs] + [Step(names.get(timer.element_id, timer.element_id), next_at=timer.due_at, timer=True)
                                for timer in timers]


def _emails(instance, history: list[HistoryEvent]) -> list[SentEmail]:
    """The e-mail steps that went through, newest first."""
    sent = [event for event in history if event.kind == "service_task_run"
            and (event.details or {}).get("topic") == EMAIL_TOPIC]
    if not sent:
        return []
    last_id = str(instances.load(instance).variables().get("mail_message_id") or "")
    newest_first = list(reversed(sent))
    return [SentEmail(event.occurred_at, int(event.details.get("attempt", 1)), last_id if index == 0 else "")
            for index, event in enumerate(newest_first)]


