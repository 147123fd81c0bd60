"""SQLAlchemy models, one module per aggregate; importing this package registers them all."""

from portal.models.audit import AuditEvent
from portal.models.billing import (
    IntegrationCache,
    Proforma,
    ProformaDocument,
    ProformaLine,
    ServiceRecord,
    UploadReceipt,
)
from portal.models.contract import Contract, FixedLineItem, Project, ProjectDocument
from portal.models.customer import Customer, CustomerBankAccount, CustomerContact
from portal.models.documents import DocumentTemplate
from portal.models.rates import ExchangeRate, RateCard, RateCardItem
from portal.models.receivables import DocumentSequence
from portal.models.user import Role, User
from portal.models.workflow import (
    HistoryEvent,
    HumanTask,
    ProcessDefinition,
    ProcessInstance,
    ServiceJob,
    TaskComment,
    WorkflowTimer,
)

__all__ = [
    "AuditEvent",
    "Contract",
    "Customer",
    "CustomerBankAccount",
    "CustomerContact",
    "DocumentSequence",
    "DocumentTemplate",
    "ExchangeRate",
    "FixedLineItem",
    "HistoryEvent",
    "HumanTask",
    "IntegrationCache",
    "ProcessDefinition",
    "ProcessInstance",
    "Proforma",
    "ProformaDocument",
    "ProformaLine",
    "Project",
    "ProjectDocument",
    "RateCard",
    "RateCardItem",
    "Role",
    "ServiceJob",
    "ServiceRecord",
    "TaskComment",
    "UploadReceipt",
    "User",
    "WorkflowTimer",
]
