"""Drafting throughput on PostgreSQL: N contracts (default 1,000), each fetched over HTTP from the fake
ServiceNow (in its own process), priced, stored as a proforma and started in its approval process, through
billing.draft_period.

    .venv/bin/python bench/draft_throughput.py [--contracts 1000] [--latency-ms 0]

CALLLOG_FETCH_WORKERS (environment) sets how many fetches run side by side (default 8).

Needs PostgreSQL (BENCH_POSTGRES_URL; a scratch database is created and dropped).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, make_app, scratch_database

PRICES = {("incident", "P1"): "450.00", ("incident", "P2"): "220.00", ("incident", "P3"): "95.00",
          ("incident", "P4"): "40.00", ("request", "New laptop setup"): "120.00",
          ("request", "Access request"): "25.00"}


def prepare(app, base_url: str, contracts: int) -> None:
    """Customers on the fake ServiceNow, each its own company there, a rate card, contracts, fixed lines."""
    from flask_migrate import upgrade

    from devtools.fake_servicenow import company_name
    from portal.extensions import db
    from portal.models import Contract, Customer, FixedLineItem, RateCard, RateCardItem
    from portal.services.workflow import definitions

    with app.app_context():
        upgrade()
        definitions.deploy((ROOT / "workflows" / "definitions" / "proforma_approval.bpmn").read_text(), "bench")
        card = RateCard(name="Bench", currency="EUR", valid_from=date(2026, 1, 1),
                        items=[RateCardItem(kind=k, key=key, unit_price=Decimal(p)) for (k, key), p in PRICES.items()])
        db.session.add(card)
        for i in range(contracts):
            customer = Customer(code=f"B{i:05d}", name=f"Bench customer {i}", currency="EUR",
                                calllog_url=base_url, calllog_company=company_name(i), calllog_auth="basic",
                                calllog_username="ledgerflow", calllog_secret="demo-servicenow-pass")
            contract = Contract(customer=customer, number=f"BENCH-{i:05d}", currency="EUR", tax_rate=Decimal("19"),
                                rate_card=card, valid_from=date(2026, 1, 1))
            db.session.add_all([customer, contract, FixedLineItem(
                contract=contract, description="Flat fee", quantity=Decimal(1), unit_price=Decimal("1000.00"),
                tax_rate=Decimal("19"), valid_from=date(2026, 1, 1))])
        db.session.commit()


def draft(app, contracts: int) -> dict:
    from portal.extensions import db
    from portal.services.billing import drafting

    with app.app_context():
        started = time.perf_counter()
        report = drafting.draft_period("2026-11", prepared_by="bench")
        db.session.commit()
        elapsed = time.perf_counter() - started
    assert len(report.created) == contracts and not report.failed, report.failed
    return {"contracts": contracts, "seconds": round(elapsed, 2), "proformas_per_second": round(contracts / elapsed, 1),
            "ms_per_proforma": round(elapsed / contracts * 1000, 2)}


@contextmanager
def fake_servicenow(companies: int, latency_ms: float = 0.0):
    """The fake ServiceNow in its own process, as the real one is a remote system, with the demo records for
    `companies` numbered companies and `latency_ms` added to every answer; yields its base URL."""
    proc = subprocess.Popen([sys.executable, "-m", "devtools.fake_servicenow", "--port", "0",
                             "--companies", str(companies), "--latency-ms", str(latency_ms)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        banner = proc.stdout.readline()  # "Fake ServiceNow on http://127.0.0.1:PORT (...)"
        match = re.search(r"(http://\S+)", banner)
        if not match:
            raise RuntimeError(f"the fake ServiceNow did not start: {banner!r}")
        yield match.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contracts", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="added by the fake to every answer, as a remote ServiceNow takes")
    args = parser.parse_args()
    with fake_servicenow(args.contracts, args.latency_ms) as base_url, scratch_database() as url:
        prepare(make_app(url), base_url, args.contracts)
        print(f"drafting on PostgreSQL against the fake ServiceNow: {draft(make_app(url), args.contracts)}")


if __name__ == "__main__":
    main()
