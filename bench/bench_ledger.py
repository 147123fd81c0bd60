"""Benchmark (a), issue 11: the ledger of one customer for one year through the service
(statement.customer_ledger: the opening and range sums, the rows with their running balance, the currencies),
next to one plain psycopg query returning the same rows, measured side by side. Target: at most 3 × the plain query.

    .venv/bin/python bench/bench_ledger.py [--rounds 7] [--database URL] [--profile]

The database is loaded by bench/receivables_load.py (1,000,000 ledger entries inserted directly, not through the
services; the big customer has 100,000 of them in the year). Each round runs, in turn: the service as a list
(stream=False, what the JSON view and the PDF read), the service streamed and consumed (stream=True, what CSV and
XLSX read), and the plain query (fetchall of the same columns, same WHERE and ORDER BY, on its own connection).
The customer row is read before the clock starts; the session is emptied between rounds. Median and fastest of the
rounds are printed, with the load average, since the machine is shared.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from common import make_app
from receivables_load import add_arguments, customer_currency, loaded_database

PLAIN = ("SELECT entry_date, kind, reference, narration, products, debit, credit, currency FROM ledger_entries"
         " WHERE customer_id = %s AND currency = %s AND entry_date >= %s AND entry_date <= %s"
         " ORDER BY entry_date, id")


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def service(app, customer_id: int, currency: str, start, end, stream: bool) -> tuple[float, int]:
    from portal.extensions import db
    from portal.models import Customer
    from portal.services.receivables import statement

    with app.app_context():
        customer = db.session.get(Customer, customer_id)
        began = time.perf_counter()
        ledger = statement.customer_ledger(customer, currency, start, end, stream=stream)
        count = sum(1 for _ in ledger.rows) if stream else len(ledger.rows)
        elapsed = time.perf_counter() - began
        db.session.remove()
    return elapsed, count


def plain(conn, customer_id: int, currency: str, start, end) -> tuple[float, int]:
    began = time.perf_counter()
    rows = conn.execute(PLAIN, [customer_id, currency, start, end]).fetchall()
    elapsed = time.perf_counter() - began
    conn.commit()
    return elapsed, len(rows)


def report(name: str, seconds: list[float], floor: list[float] | None) -> None:
    median, fastest = statistics.median(seconds), min(seconds)
    ratio = ""
    if floor is not None:
        ratios = sorted(s / f for s, f in zip(seconds, floor, strict=True))
        ratio = (f"  × plain: per round {ratios[0]:.2f}–{ratios[-1]:.2f} (median {statistics.median(ratios):.2f}),"
                 f" median/median {median / statistics.median(floor):.2f}, fastest/fastest {fastest / min(floor):.2f}")
    print(f"  {name:34} median {median * 1000:7.1f} ms  fastest {fastest * 1000:7.1f} ms{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="profile one more service call (list) and print it")
    add_arguments(parser)
    args = parser.parse_args()
    with loaded_database(args.database) as loaded:
        app = make_app(loaded.url)
        customer, currency = loaded.big_customer_id, customer_currency(loaded.big_customer_id)
        span = (loaded.year_start, loaded.year_end)
        figures: dict[str, list[float]] = {"service, list": [], "service, streamed": [], "plain psycopg": []}
        loads = []
        with psycopg.connect(loaded.libpq) as conn:
            # One untimed pass of each, so that both read from a warm cache.
            service(app, customer, currency, *span, False)
            plain(conn, customer, currency, *span)
            counts = set()
            for _ in range(args.rounds):
                loads.append(load_average())
                for name, stream in (("service, list", False), ("service, streamed", True)):
                    elapsed, count = service(app, customer, currency, *span, stream)
                    figures[name].append(elapsed)
                    counts.add(count)
                elapsed, count = plain(conn, customer, currency, *span)
                figures["plain psycopg"].append(elapsed)
                counts.add(count)
        assert len(counts) == 1, counts
        print(f"ledger of customer {loaded.big_customer_code} in {currency}, {span[0]} to {span[1]}: "
              f"{counts.pop():,} rows, {args.rounds} rounds (load average at each round: {'; '.join(loads)})")
        floor = figures["plain psycopg"]
        report("plain psycopg query (floor)", floor, None)
        report("service, list (stream=False)", figures["service, list"], floor)
        report("service, streamed and consumed", figures["service, streamed"], floor)
        for name in ("service, list", "service, streamed"):
            ratio = statistics.median(s / f for s, f in zip(figures[name], floor, strict=True))
            print(f"  target for {name}: at most 3 × the plain query (judged on the median of the per-round ratios):"
                  f" {'met' if ratio <= 3 else 'NOT met'} ({ratio:.2f} ×)")
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            service(app, customer, currency, *span, False)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
