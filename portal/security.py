"""Who may do what: permissions per role, checked by the web layer, the admin and the navigation."""

from __future__ import annotations

from portal.models.user import (
    ACCOUNT_MANAGER,
    ACCOUNTANT,
    ADMIN,
    ANALYST,
    APPROVER,
    CUSTOMER,
    FINANCE_MANAGER,
    GUEST,
    RESPONSIBLE_MANAGER,
    REVIEWER,
    ROLE_CATALOG,
)

STAFF_ROLES = frozenset(ROLE_CATALOG) - {CUSTOMER}
_MASTERDATA_READERS = frozenset(
    {ADMIN, FINANCE_MANAGER, ACCOUNTANT, ACCOUNT_MANAGER, RESPONSIBLE_MANAGER, APPROVER, REVIEWER, GUEST}
)

# permission -> roles that hold it. One place, read by views, admin grids and navigation.
PERMISSIONS: dict[str, frozenset[str]] = {
    "dashboard.view": STAFF_ROLES,
    "tasks.view": STAFF_ROLES - {GUEST},
    # See every open task, hand back or reassign anyone's.
    "tasks.manage": frozenset({ADMIN, FINANCE_MANAGER}),
    "masterdata.read": _MASTERDATA_READERS,
    # The proforma list and case pages (read only): whoever reads the customers and contracts they are about.
    "proformas.view": _MASTERDATA_READERS,
    "masterdata.write": frozenset({ADMIN, ACCOUNTANT}),
    "rates.read": _MASTERDATA_READERS | {ANALYST},
    "rates.write": frozenset({ADMIN, ACCOUNTANT, FINANCE_MANAGER}),
    "templates.read": frozenset({ADMIN, FINANCE_MANAGER, ACCOUNTANT, ANALYST, GUEST}),
    "templates.write": frozenset({ADMIN, FINANCE_MANAGER}),
    "users.manage": frozenset({ADMIN}),
    "billing.draft": frozenset({ADMIN, FINANCE_MANAGER, ACCOUNTANT}),
    "processes.read": frozenset({ADMIN, FINANCE_MANAGER, ANALYST}),
    "processes.deploy": frozenset({ADMIN, ANALYST}),
    "processes.operate": frozenset({ADMIN, FINANCE_MANAGER}),
    "audit.read": frozenset({ADMIN, FINANCE_MANAGER}),
    "portal.view": frozenset({CUSTOMER}),
    # Receivables: account and responsible managers read only their projects' customers (services.receivables.scope).
    "receivables.read": frozenset({ADMIN, FINANCE_MANAGER, ACCOUNTANT, ACCOUNT_MANAGER, RESPONSIBLE_MANAGER, GUEST}),
    # Record and import payments, reconcile, issue invoices and due notes.
    "receivables.record": frozenset({ADMIN, FINANCE_MANAGER, ACCOUNTANT}),
    # Adjust accounts, cancel and credit invoices, refund.
    "receivables.correct": frozenset({ADMIN, FINANCE_MANAGER}),
}
# Who sees every customer's receivables; the other readers see those of the projects they manage.
RECEIVABLES_ALL_CUSTOMERS = frozenset({ADMIN, FINANCE_MANAGER, ACCOUNTANT, GUEST})


def can(user, permission: str) -> bool:
    """True if the signed-in user holds the permission through any of its roles."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return bool(user.role_codes & PERMISSIONS[permission])
