"""The service operations diagrams may call (camunda:topic), with parameters and retry policy.

Handlers are dotted paths resolved by the portal, so this package stays free of Flask and SQLAlchemy.
The same list is served to the BPMN editor as Camunda element templates.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Parameter:
    name: str
    label: str
    default: str = ""
    required: bool = True


@dataclass(frozen=True)
class Operation:
    topic: str
    label: str
    description: str
    handler: str
    inputs: tuple[Parameter, ...] = ()
    outputs: tuple[str, ...] = ()
    max_attempts: int = 3
    backoff_seconds: int = 10
    queue: str = "workflow"
    tags: tuple[str, ...] = field(default_factory=tuple)
    # False only for handlers that run no SQL and at most add new rows: no SAVEPOINT around them, and a failing
    # call has the rows it added dropped. Anything that queries or changes rows keeps the SAVEPOINT, which also
    # keeps a database error inside the handler from aborting the whole transaction.
    savepoint: bool = True

    def backoff(self, attempt: int) -> int:
        """Seconds to wait before retry number `attempt` (1-based): doubles each time."""
        return self.backoff_seconds * 2 ** (attempt - 1)


OPERATIONS: dict[str, Operation] = {}


def register(operation: Operation) -> Operation:
    OPERATIONS[operation.topic] = operation
    return operation


def queue_of(topic: str) -> str:
    """The RQ queue a topic's jobs go to; an unknown topic's go to the default queue, whose worker records the
    incident."""
    operation = OPERATIONS.get(topic)
    return operation.queue if operation else Operation.queue


def get(topic: str) -> Operation:
    try:
        return OPERATIONS[topic]
    except KeyError:
        raise KeyError(f"unknown operation topic {topic!r}") from None


register(Operation(
    topic="fx.convert",
    label="Convert an amount to the base currency",
    description="Looks up the last exchange rate on or before the date and converts the amount.",
    handler="portal.services.workflow.operations:convert_to_base",
    inputs=(Parameter("amount", "Amount", "${amount}"), Parameter("currency", "Currency", "${currency}"),
            Parameter("on", "Date (YYYY-MM-DD)", "${on}")),
    outputs=("base_amount", "rate", "rate_date", "rate_source"),
))
register(Operation(
    topic="history.note",
    label="Write a note in the instance history",
    description="Records a line in the instance's history, e.g. to mark a milestone for auditors.",
    handler="portal.services.workflow.operations:history_note",
    inputs=(Parameter("text", "Text", "Milestone reached"),),
    max_attempts=1,
    savepoint=False,
))


register(Operation(
    topic="proforma.set_state",
    label="Set the proforma's state",
    description="Marks the proforma in review, approved, rejected or cancelled.",
    handler="portal.services.billing.drafting:set_state_operation",
    inputs=(Parameter("proforma_id", "Proforma id", "${proforma_id}"), Parameter("state", "State", "approved")),
    max_attempts=3,
))
register(Operation(
    topic="proforma.redraft",
    label="Re-draft the proforma (fetch the data again)",
    description="Fetches the period's records from the call-logging system again and rebuilds those lines.",
    handler="portal.services.billing.drafting:redraft_operation",
    inputs=(Parameter("proforma_id", "Proforma id", "${proforma_id}"),),
    outputs=("gross_total",),
    queue="integrations",
))


register(Operation(
    topic="proforma.render_documents",
    label="Render proforma documents (PDF, HTML, SAP, UBL)",
    description="Renders every format the contract asks for and stores them with the proforma.",
    handler="portal.services.billing.documents:render_documents_operation",
    inputs=(Parameter("proforma_id", "Proforma id", "${proforma_id}"),),
    outputs=("documents",),
    queue="exports",
))


register(Operation(
    topic="proforma.upload",
    label="Upload the proforma files to the customer's portal",
    description="Sends the rendered files over the contract's channel (SFTP or HTTPS) with an idempotency key.",
    handler="portal.services.billing.delivery:upload_operation",
    inputs=(Parameter("proforma_id", "Proforma id", "${proforma_id}"),),
    outputs=("uploaded",),
    max_attempts=4,
    backoff_seconds=60,
    queue="integrations",
))
register(Operation(
    topic="proforma.email",
    label="E-mail the proforma to the customer",
    description="Sends the PDF to the customer's billing contacts (SMTP_URL).",
    handler="portal.services.billing.delivery:email_operation",
    inputs=(Parameter("proforma_id", "Proforma id", "${proforma_id}"),),
    outputs=("mail_message_id",),
    max_attempts=5,
    backoff_seconds=30,
    queue="notifications",
))


def element_templates() -> list[dict]:
    """Camunda 7 element templates: analysts pick an operation by its label instead of typing a topic."""
    return [_template(operation) for operation in OPERATIONS.values()]


def _template(operation: Operation) -> dict:
    fixed = [
        {"label": "Implementation", "type": "Hidden", "value": "external",
         "binding": {"type": "property", "name": "camunda:type"}},
        {"label": "Topic", "type": "Hidden", "value": operation.topic,
         "binding": {"type": "property", "name": "camunda:topic"}},
    ]
    inputs = [
        {"label": p.label, "type": "String", "value": p.default,
         "binding": {"type": "camunda:inputParameter", "name": p.name},
         "constraints": {"notEmpty": p.required}}
        for p in operation.inputs
    ]
    return {
        "$schema": "https://unpkg.com/@camunda/element-templates-json-schema/resources/schema.json",
        "name": operation.label, "id": f"ledgerflow.{operation.topic}", "version": 1,
        "description": operation.description, "appliesTo": ["bpmn:ServiceTask"],
        "properties": fixed + inputs,
    }

