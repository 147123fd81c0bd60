"""Call-logging data for drafting: a customer's connection, and batches of contracts fetched ahead."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from portal.errors import ValidationError
from portal.extensions import db, on_postgresql
from portal.integrations import servicenow
from portal.models import Contract, IntegrationCache, Proforma
from portal.models.types import utcnow


class DbCache:
    """The call-logging client's last-good-result cache, kept in the database (shared by every host)."""

    def get(self, key: str) -> str | None:
        row = db.session.get(IntegrationCache, key)
        return row.value if row else None

    def set(self, key: str, value: str) -> None:
        """Insert or replace in one statement (INSERT ... ON CONFLICT, on PostgreSQL and SQLite alike)."""
        insert = postgresql.insert if on_postgresql() else sqlite.insert
        statement = insert(IntegrationCache).values(key=key, value=value, updated_at=utcnow())
        db.session.execute(statement.on_conflict_do_update(
            index_elements=[IntegrationCache.key],
            set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at}))


def connection_for(customer) -> servicenow.Connection | None:
    """The customer's call-logging system, or None when it has none."""
    if customer.calllog_auth == "none" or not customer.calllog_url:
        return None
    try:
        return servicenow.Connection(
            base_url=customer.calllog_url, company=customer.calllog_company or customer.name,
            auth=customer.calllog_auth, username=customer.calllog_username, secret=customer.calllog_secret or "",
            client_id=customer.calllog_client_id, client_secret=customer.calllog_client_secret or "")
    except ValueError as exc:
        raise ValidationError("calllog_url", f"customer {customer.code}: {exc}") from exc


class Prefetch:
    """Fetches the next batch's call-logging data in the background while this batch is drafted.

    Only the network work runs off the main thread: connections are built from the database here, and the
    answers are cached and turned into records by the caller, in its transaction.
    """

    def __init__(self, year: int, month: int, workers: int):
        self.year, self.month, self.workers = year, month, workers
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="calllog-prefetch")
        self._pending: Future | None = None
        self._stop = threading.Event()

    def start(self, contracts: list[Contract]) -> None:
        """Begin fetching for the contracts of the period that have no proforma yet."""
        connections = self._connections(contracts)
        self._pending = self._background.submit(servicenow.fetch_periods, connections, self.year, self.month,
                                                workers=self.workers, stop=self._stop) if connections else None

    def take(self):
        """A fetch for billing.draft_contract answering from what start() fetched (waits for it)."""
        answers = self._pending.result() if self._pending else {}
        self._pending = None
        year, month = self.year, self.month

        def fetch(connection, fetch_year, fetch_month, cache):
            answer = answers.get(connection) if (fetch_year, fetch_month) == (year, month) else None
            return servicenow.fetch_period_cached(connection, fetch_year, fetch_month, cache, answer=answer)
        return fetch

    def close(self) -> None:
        """Stop without waiting for a fetch nobody will use (a failed run): fetches not begun are skipped and
        retries stop; a request already on the wire ends within its timeout."""
        self._stop.set()
        self._background.shutdown(wait=False, cancel_futures=True)

    def _connections(self, contracts: list[Contract]) -> list[servicenow.Connection]:
        drafted = set(db.session.scalars(select(Proforma.contract_id).where(
            Proforma.contract_id.in_([c.id for c in contracts]),
            Proforma.period == f"{self.year}-{self.month:02d}")))
        connections = []
        for contract in contracts:
            if contract.id in drafted:
                continue
            try:
                connection = connection_for(contract.customer)
            except ValidationError:
                continue  # draft_contract reports it for this contract
            if connection is not None:
                connections.append(connection)
        return connections
