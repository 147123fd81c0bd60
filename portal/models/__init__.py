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
from portal.models.ledger import CustomerBalance, LedgerEntry
from portal.models.payments import Allocation, BankImportMapping, Payment, PaymentImport, PendingBankFile, Refund
from portal.models.rates import ExchangeRate, RateCard, RateCardItem
from portal.models.receivables import (
    Adjustment,
    CreditNote,
    DocumentLine,
    DocumentSequence,
    DueNote,
    Invoice,
    ReceivableDocument,
    ReceivableFile,
)
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
    "Adjustment",
    "Allocation",
    "AuditEvent",
    "BankImportMapping",
    "Contract",
    "CreditNote",
    "Customer",
    "CustomerBalance",
    "CustomerBankAccount",
    "CustomerContact",
    "DocumentLine",
    "DocumentSequence",
    "DocumentTemplate",
    "DueNote",
    "ExchangeRate",
    "FixedLineItem",
    "HistoryEvent",
    "HumanTask",
    "IntegrationCache",
    "Invoice",
    "LedgerEntry",
    "Payment",
    "PaymentImport",
    "PendingBankFile",
    "ProcessDefinition",
    "ProcessInstance",
    "Proforma",
    "ProformaDocument",
    "ProformaLine",
    "Project",
    "ProjectDocument",
    "RateCard",
    "RateCardItem",
    "ReceivableDocument",
    "ReceivableFile",
    "Refund",
    "Role",
    "ServiceJob",
    "ServiceRecord",
    "TaskComment",
    "UploadReceipt",
    "User",
    "WorkflowTimer",
]
