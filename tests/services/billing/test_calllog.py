"""The call-logging cache in the database: the newest good answer per key, on SQLite and PostgreSQL."""

from __future__ import annotations

from portal.extensions import db


def test_the_call_logging_cache_keeps_the_newest_answer(app):
    from portal.services.billing.calllog import DbCache

    cache = DbCache()
    cache.set("servicenow|x|Acme|2026-11", "first")
    cache.set("servicenow|x|Acme|2026-11", "second")
    db.session.flush()
    db.session.expire_all()
    assert cache.get("servicenow|x|Acme|2026-11") == "second" and cache.get("nothing") is None
