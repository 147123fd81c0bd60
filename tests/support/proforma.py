"""Shared by the proforma tests: deploy the approval process, draft a contract, walk its tasks."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import HumanTask, Proforma
from portal.services.billing import drafting
from portal.services.workflow import definitions, tasks
from tests.support.paths import PROFORMA_PROCESS

PROCESS_FILE = PROFORMA_PROCESS


def deploy_approval_process() -> None:
    definitions.deploy(PROCESS_FILE.read_text(), "test")


def draft_for(contract) -> Proforma:
    """Draft the contract's November proforma and let its first service task run (after the commit)."""
    drafting.draft_period("2026-11", contract.number)
    db.session.commit()
    return db.session.scalar(select(Proforma).where(Proforma.contract_id == contract.id))


def open_task(proforma: Proforma) -> HumanTask | None:
    db.session.expire_all()
    return db.session.scalar(select(HumanTask).where(HumanTask.instance_id == proforma.process_instance_id,
                                                     HumanTask.state == "open"))


def complete_steps(proforma: Proforma, steps) -> Proforma:
    """Complete the open task with each (user, outcome) in turn, committing after each like a request."""
    for user, outcome in steps:
        tasks.complete(open_task(proforma).id, user, {}, outcome=outcome)
        db.session.commit()
    db.session.refresh(proforma)
    return proforma
