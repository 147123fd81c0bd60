"""Shared infrastructure below the services: job outbox, unit of work, row lookup, audit trail, health checks.

Pages of rows come from Flask-SQLAlchemy's `db.paginate`, not from here.
"""
