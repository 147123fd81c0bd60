"""Every module holding @operation handlers, imported in one place: the app factory calls register_all()."""

from __future__ import annotations

from portal.services.workflow import operations
from workflows.operations import Registry


def register_all() -> Registry:
    """Import each handler module so its @operation handlers are in the registry (idempotent); the registry."""
    # Billing and receivables may use workflow, never the reverse, so workflow cannot import these itself: the web
    # app, the CLI and an `rq worker` (which builds its app lazily) all pass through create_app, which calls this.
    from portal.services.billing import delivery, documents, drafting  # noqa: F401 - registered on import
    from portal.services.receivables import from_proforma  # noqa: F401 - registered on import

    return operations.REGISTRY
