"""The access matrix's expectations, written out by hand: what each identity may do, who reads or changes each grid.

Nothing here is read from portal.security or the admin views: test_access_matrix.py checks that they agree with
these tables, so a wrong entry in either place fails instead of moving the expectations along with it.
"""

from __future__ import annotations

from dataclasses import dataclass

ANON = "anonymous"

# identity -> the capabilities (portal.security permission names) it holds.
MAY: dict[str, frozenset[str]] = {
    # An anonymous visitor may sign in and nothing else: every other page sends it to the sign-in form.
    ANON: frozenset(),
    # The admin may do everything staff can do: users, roles and the audit trail too; it has no customer portal.
    "admin": frozenset({"dashboard.view", "tasks.view", "tasks.manage", "masterdata.read", "masterdata.write",
                        "rates.read", "rates.write", "templates.read", "templates.write", "users.manage",
                        "billing.draft", "processes.read", "processes.deploy", "processes.operate", "audit.read",
                        "proformas.view"}),
    # A finance manager may see every task and hand it back or on, read (not change) master data, keep rates and
    # templates, draft proformas, read and operate (not deploy) processes and read the audit trail; not manage users.
    # It opens the proforma list and every case.
    "finance_manager": frozenset({"dashboard.view", "tasks.view", "tasks.manage", "masterdata.read", "rates.read",
                                  "rates.write", "templates.read", "templates.write", "billing.draft",
                                  "processes.read", "processes.operate", "audit.read", "proformas.view"}),
    # An accountant may keep master data and rates, read templates, draft proformas and work the inbox; it may not
    # change templates, see processes or read the audit trail. It opens the proforma list and cases, and drafts there.
    "accountant": frozenset({"dashboard.view", "tasks.view", "masterdata.read", "masterdata.write", "rates.read",
                             "rates.write", "templates.read", "billing.draft", "proformas.view"}),
    # An account manager may work the inbox, read master data and rates and open the proforma list and cases; it
    # changes nothing in the grids.
    "account_manager": frozenset({"dashboard.view", "tasks.view", "masterdata.read", "rates.read", "proformas.view"}),
    # A responsible manager, like the account manager: the inbox, reading master data, rates and proformas.
    "responsible_manager": frozenset({"dashboard.view", "tasks.view", "masterdata.read", "rates.read",
                                      "proformas.view"}),
    # An approver may open the inbox (approvals are tasks), read master data and rates and open the proformas; no
    # templates, no processes.
    "approver": frozenset({"dashboard.view", "tasks.view", "masterdata.read", "rates.read", "proformas.view"}),
    # A reviewer may open the inbox, read master data and rates and open the proformas, but not draft proformas or
    # deploy processes.
    "reviewer": frozenset({"dashboard.view", "tasks.view", "masterdata.read", "rates.read", "proformas.view"}),
    # An analyst may read rates and templates and read and deploy diagrams; it may not read master data, open the
    # proformas (customer data) or operate running instances.
    "analyst": frozenset({"dashboard.view", "tasks.view", "rates.read", "templates.read", "processes.read",
                          "processes.deploy"}),
    # A guest may read master data, rates, templates and the proforma list and cases; no inbox, no changes anywhere
    # (no "Draft period" either).
    "guest": frozenset({"dashboard.view", "masterdata.read", "rates.read", "templates.read", "proformas.view"}),
    # A customer may use the customer portal, for its own company only; no staff page at all.
    "customer": frozenset({"portal.view"}),
}

STAFF = frozenset({"admin", "finance_manager", "accountant", "account_manager", "responsible_manager", "approver",
                   "reviewer", "analyst", "guest"})


@dataclass(frozen=True)
class Grid:
    """Admin grids guarded alike: who may open them, who may change them, and what each lets a writer do."""

    views: dict[str, str]  # view endpoint -> what writers may do there: words of "create edit delete"; "" for none
    read: str  # the permission the views declare as read_permission
    readers: frozenset[str]
    write: str | None = None  # the views' write_permission; None: nobody changes anything here
    writers: frozenset[str] = frozenset()


GRIDS = (
    # /admin/ itself: every staff member may open the list of the grids it may use.
    Grid({"admin": ""}, "dashboard.view", STAFF),
    # Master data and the documents filed with projects: all staff but the analyst read them; only the admin and
    # the accountant add, edit or delete (a stored document is replaced, never edited).
    Grid({"customers": "create edit delete", "contracts": "create edit delete", "projects": "create edit delete",
          "fixed_lines": "create edit delete", "rate_cards": "create edit delete",
          "project_documents": "create delete"},
         "masterdata.read", frozenset({"admin", "finance_manager", "accountant", "account_manager",
                                       "responsible_manager", "approver", "reviewer", "guest"}),
         "masterdata.write", frozenset({"admin", "accountant"})),
    # Exchange rates: every staff member reads them; the admin, the finance manager and the accountant keep them.
    Grid({"exchange_rates": "create edit delete"}, "rates.read", STAFF,
         "rates.write", frozenset({"admin", "finance_manager", "accountant"})),
    # Document templates: admin, finance manager, accountant, analyst and guest read; admin and finance manager
    # upload and delete them.
    Grid({"document_templates": "create delete"},
         "templates.read", frozenset({"admin", "finance_manager", "accountant", "analyst", "guest"}),
         "templates.write", frozenset({"admin", "finance_manager"})),
    # Diagrams: the admin, the finance manager and the analyst read them; only the admin and the analyst deploy.
    Grid({"processes": ""}, "processes.read", frozenset({"admin", "finance_manager", "analyst"}),
         "processes.deploy", frozenset({"admin", "analyst"})),
    # Running instances and incidents: the same readers; the admin and the finance manager retry, cancel, migrate.
    Grid({"instances": "", "incidents": ""}, "processes.read", frozenset({"admin", "finance_manager", "analyst"}),
         "processes.operate", frozenset({"admin", "finance_manager"})),
    # Users and roles: the admin alone (roles are edited, never created or deleted).
    Grid({"users": "create edit delete", "roles": "edit"}, "users.manage", frozenset({"admin"}),
         "users.manage", frozenset({"admin"})),
    # The audit trail: the admin and the finance manager read it; nobody changes it.
    Grid({"audit": ""}, "audit.read", frozenset({"admin", "finance_manager"})),
)

# Every capability some probe's expectation depended on; a permission never in here is one the matrix ignores.
RELIED_ON: set[str] = set()


def may(identity: str, capability: str) -> bool:
    """True if the matrix expects `identity` to hold `capability`."""
    if not any(capability in held for held in MAY.values()):
        raise KeyError(f"no identity may {capability!r}: a typo, or MAY lacks a new permission")
    RELIED_ON.add(capability)
    return capability in MAY[identity]


def grid(view_endpoint: str) -> Grid:
    """The grid entry of an admin view; KeyError for a view GRIDS does not list."""
    found = [g for g in GRIDS if view_endpoint in g.views]
    if len(found) != 1:
        raise KeyError(f"admin view {view_endpoint!r} is in {len(found)} entries of GRIDS, not one")
    return found[0]


def reads(identity: str, view_endpoint: str) -> bool:
    """True if the matrix expects `identity` to open the admin view."""
    entry = grid(view_endpoint)
    RELIED_ON.add(entry.read)
    return identity in entry.readers


def writes(identity: str, view_endpoint: str, change: str | None = None) -> bool:
    """True if `identity` may change things in the view (`change`: "create", "edit" or "delete" it must allow)."""
    entry = grid(view_endpoint)
    if entry.write:
        RELIED_ON.add(entry.write)
    allowed = change is None or change in entry.views[view_endpoint].split()
    return allowed and identity in entry.writers


# ---- receivables: the admin grids (the site's receivables routes are in access_receivables.py) -----------------
# The finance office and the guest read every customer's receivables; account and responsible managers read those of
# the customers of their projects only (a row of another customer is not found: the grid sends them back to its
# list). The admin and the finance manager also correct (adjust, credit, refund); the accountant records (payments,
# imports, reconciling) but does not correct.
RECEIVABLES_MAY = {
    "admin": {"receivables.read", "receivables.record", "receivables.correct"},
    "finance_manager": {"receivables.read", "receivables.record", "receivables.correct"},
    "accountant": {"receivables.read", "receivables.record"},
    "account_manager": {"receivables.read"},
    "responsible_manager": {"receivables.read"},
    "guest": {"receivables.read"},
}
for _identity, _held in RECEIVABLES_MAY.items():
    MAY[_identity] = MAY[_identity] | _held

RECEIVABLES_READERS = frozenset({"admin", "finance_manager", "accountant", "account_manager", "responsible_manager",
                                 "guest"})
OWN_CUSTOMERS_ONLY = frozenset({"account_manager", "responsible_manager"})
GRIDS = (
    *GRIDS,
    # Posted receivables and the ledger: read only, by everyone (the admin too); documents are issued, payments
    # recorded and allocations made by the use cases, never in a grid.
    Grid({"invoices": "", "credit_notes": "", "due_notes": "", "payments": "", "allocations": "", "refunds": "",
          "ledger_entries": "", "customer_balances": "", "payment_imports": ""},
         "receivables.read", RECEIVABLES_READERS),
    # Adjustments: the admin and the finance manager make one (through its use case, which posts it); none is
    # edited or deleted.
    Grid({"adjustments": "create"}, "receivables.read", RECEIVABLES_READERS,
         "receivables.correct", frozenset({"admin", "finance_manager"})),
    # Bank import mappings: settings of our own bank accounts, kept (not deleted) by those who record payments.
    Grid({"bank_import_mappings": "create edit"}, "receivables.read", RECEIVABLES_READERS,
         "receivables.record", frozenset({"admin", "finance_manager", "accountant"})),
)
# Grids whose rows belong to customers: OWN_CUSTOMERS_ONLY readers find only their customers' rows there.
CUSTOMER_ROWS = frozenset({"invoices", "credit_notes", "due_notes", "payments", "allocations", "refunds",
                           "adjustments", "ledger_entries", "customer_balances", "payment_imports"})


def finds_row(identity: str, view_endpoint: str) -> bool:
    """True if a reader of the grid finds the world's row in it (the world's receivables belong to no customer of
    a project the signed-in identity manages)."""
    return not (view_endpoint in CUSTOMER_ROWS and identity in OWN_CUSTOMERS_ONLY)
