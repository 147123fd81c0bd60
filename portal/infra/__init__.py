"""Shared infrastructure below the services: paging, the job outbox, row lookup, the audit trail, health checks."""
