"""Workflow persistence: deployed definitions, running instances, human tasks, jobs, timers, history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.types import Timestamp, utcnow

INSTANCE_STATUSES = ("running", "completed", "cancelled", "incident")
TASK_STATES = ("open", "completed", "cancelled")
JOB_STATES = ("queued", "done", "incident", "cancelled")


class ProcessDefinition(db.Model):
    """One deployed version of a BPMN process; versions count up per process key."""

    __tablename__ = "process_definitions"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200), default="")
    bpmn_xml: Mapped[str] = mapped_column(Text, deferred=True)  # compiled once per process, cached by id
    sha256: Mapped[str] = mapped_column(String(64))
    deployed_by: Mapped[str] = mapped_column(String(254), default="")
    deployed_at = mapped_column(Timestamp(), default=utcnow)

    def __str__(self) -> str:
        return f"{self.key} v{self.version}"


class ProcessInstance(db.Model):
    """A running (or finished) process; its engine state is stored without the spec."""

    __tablename__ = "process_instances"

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id", ondelete="RESTRICT"), index=True)
    business_key: Mapped[str] = mapped_column(String(120), default="", index=True)
    status: Mapped[str] = mapped_column(String(20), default="running", index=True)
    state: Mapped[str] = mapped_column(Text)
    serializer_version: Mapped[str] = mapped_column(String(20))
    # What the engine waited for at the last step (task guids, job guids, timer dues): lets a step write
    # only the task/job/timer rows that changed, without reading them first.
    waiting: Mapped[dict] = mapped_column(JSON, default=dict)
    row_version: Mapped[int] = mapped_column(Integer, default=1)
    started_by: Mapped[str] = mapped_column(String(254), default="")
    started_at = mapped_column(Timestamp(), default=utcnow)
    ended_at = mapped_column(Timestamp())

    definition = relationship(ProcessDefinition)
    __mapper_args__ = {"version_id_col": row_version}

    def __str__(self) -> str:
        return f"#{self.id} {self.definition.key if self.definition else ''} {self.business_key}".strip()


class HumanTask(db.Model):
    """A user task waiting for (or done by) a person; one row per ready task of an instance."""

    __tablename__ = "human_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"), index=True)
    task_guid: Mapped[str] = mapped_column(String(36), unique=True)
    element_id: Mapped[str] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(200))
    candidate_roles: Mapped[list] = mapped_column(JSON, default=list)
    candidate_users: Mapped[list] = mapped_column(JSON, default=list)
    excluded_users: Mapped[list] = mapped_column(JSON, default=list)
    contributors: Mapped[list] = mapped_column(JSON, default=list)  # who changed the case during this task
    assignee: Mapped[str | None] = mapped_column(String(254), index=True)
    due_at: Mapped[datetime | None] = mapped_column(Timestamp())
    form: Mapped[list] = mapped_column(JSON, default=list)
    outcomes: Mapped[list] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(20), default="open", index=True)
    outcome: Mapped[str | None] = mapped_column(String(60))
    completed_by: Mapped[str | None] = mapped_column(String(254))
    completed_at = mapped_column(Timestamp())
    created_at = mapped_column(Timestamp(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    instance = relationship(ProcessInstance)
    comments = relationship("TaskComment", back_populates="task", order_by="TaskComment.id",
                            cascade="all, delete-orphan")
    __mapper_args__ = {"version_id_col": version}


class TaskComment(db.Model):
    __tablename__ = "task_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(254))
    body: Mapped[str] = mapped_column(Text)
    created_at = mapped_column(Timestamp(), default=utcnow)

    task = relationship(HumanTask, back_populates="comments")


class ServiceJob(db.Model):
    """An external service task handed to a worker; retried with backoff, an incident after the last try."""

    __tablename__ = "service_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"), index=True)
    task_guid: Mapped[str] = mapped_column(String(36), unique=True)
    element_id: Mapped[str] = mapped_column(String(120))
    topic: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    next_attempt_at = mapped_column(Timestamp(), index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at = mapped_column(Timestamp(), default=utcnow)
    finished_at = mapped_column(Timestamp())

    instance = relationship(ProcessInstance)

    @property
    def idempotency_key(self) -> str:
        """Stable per task: external calls carry it so a repeated run is recognised."""
        return f"ledgerflow-{self.instance_id}-{self.task_guid}"


class WorkflowTimer(db.Model):
    """A waiting timer; the sweep fires it once due (Redis may be flushed: the database remembers)."""

    __tablename__ = "workflow_timers"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"), index=True)
    task_guid: Mapped[str] = mapped_column(String(36), unique=True)
    element_id: Mapped[str] = mapped_column(String(120))
    due_at = mapped_column(Timestamp(), index=True)
    fired_at = mapped_column(Timestamp())
    # Firing raised something the step could not turn into an incident: the sweep passes the timer over
    # until Retry on the instance clears these.
    failed_at = mapped_column(Timestamp())
    last_error: Mapped[str] = mapped_column(Text, default="")

    instance = relationship(ProcessInstance)


class HistoryEvent(db.Model):
    """What happened to an instance: created, task completed (by whom), service run, retried, failed, ..."""

    __tablename__ = "workflow_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"), index=True)
    occurred_at = mapped_column(Timestamp(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(30))
    element_id: Mapped[str] = mapped_column(String(120), default="")
    actor: Mapped[str] = mapped_column(String(254), default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)

    instance = relationship(ProcessInstance)
