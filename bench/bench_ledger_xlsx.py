"""Benchmark (d), issue 11: the ledger XLSX of 100,000 rows (ledger_export.statement_for(..., stream=True) and
ledger_export.write_xlsx into memory, as the web's ledger export does) next to a bare openpyxl write-only loop over
the same rows. Targets: within 1.2 × the bare loop, peak RSS growth under 64 MB.

    .venv/bin/python bench/bench_ledger_xlsx.py [--rounds 5] [--database URL] [--profile]

The database is loaded by bench/receivables_load.py (rows inserted directly, not through the services); the big
customer has 100,000 entries in the year. Timed side by side, alternately, in one process:
- "service": statement_for + write_xlsx into a BytesIO (the rows streamed from the database, 2,000 at a time);
- "bare loop": Workbook(write_only=True), one sheet, sheet.append() of each row's eight values (sl_num, date,
  particulars, narration, products, debit, credit, balance: what the export writes per entry), save into a BytesIO;
  the rows were read into a list before the clock starts. This is the floor the target names;
- "bare loop fed by psycopg": the same loop reading the rows from a plain psycopg server-side cursor (2,000 at a
  time) while it writes, for the share of the database reading.
Peak RSS growth is measured in a fresh process per path (this script run with --child): modules imported, app and
connection made, then the peak RSS is reset (/proc/self/clear_refs) and read again after the export (VmHWM), so
that memory freed by earlier rounds cannot hide growth.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from common import make_app
from openpyxl import Workbook
from receivables_load import BIG_CUSTOMER, add_arguments, customer_code, customer_currency, loaded_database

ROWS = ("SELECT entry_date, kind, reference, narration, products, debit, credit FROM ledger_entries"
        " WHERE customer_id = %s AND currency = %s AND entry_date >= %s AND entry_date <= %s ORDER BY entry_date, id")
PARTICULARS = {"invoice": "Invoice", "due_note": "Due note", "credit_note": "Credit note", "payment": "Payment",
               "refund": "Refund", "adjustment": "Adjustment"}


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def memory() -> dict[str, int]:
    """Current and peak resident set size in kB (Linux)."""
    status = Path("/proc/self/status").read_text()
    return {key: int(re.search(rf"{key}:\s+(\d+)", status).group(1)) for key in ("VmRSS", "VmHWM")}


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def service(app, code: str, currency: str, start, end) -> tuple[float, int, int]:
    from portal.extensions import db
    from portal.services.receivables import ledger_export

    with app.app_context():
        db.session.execute(db.text("SELECT 1"))  # a connection from the pool, as a request has
        began = time.perf_counter()
        out = io.BytesIO()
        statement = ledger_export.statement_for(code, currency, start, end, stream=True)
        count = ledger_export.write_xlsx(statement, out)
        elapsed = time.perf_counter() - began
        db.session.remove()
    return elapsed, count, len(out.getvalue())


def plain_rows(conn, customer_id: int, currency: str, start, end, opening=0):
    """The eight values per entry the export writes, from a plain psycopg server-side cursor."""
    balance = opening
    with conn.cursor(name="ledger_rows") as cursor:
        cursor.itersize = 2000
        cursor.execute(ROWS, [customer_id, currency, start, end])
        for number, (day, kind, reference, narration, products, debit, credit) in enumerate(cursor, start=1):
            balance += debit - credit
            yield (number, day, f"{PARTICULARS.get(kind, kind)} {reference}", narration, products, debit, credit,
                   balance)


def bare(rows) -> tuple[float, int, int]:
    began = time.perf_counter()
    out = io.BytesIO()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Ledger")
    count = 0
    for row in rows:
        sheet.append(row)
        count += 1
    workbook.save(out)
    return time.perf_counter() - began, count, len(out.getvalue())


def child(path: str, url: str, start, end) -> None:
    """One export in this fresh process; prints its time and RSS figures as JSON."""
    from datetime import date

    start, end = date.fromisoformat(start), date.fromisoformat(end)
    app = make_app(url)
    import portal.services.receivables.ledger_export  # noqa: F401  (imports done before the baseline)

    currency, code = customer_currency(BIG_CUSTOMER), customer_code(BIG_CUSTOMER)
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        rows = list(plain_rows(conn, BIG_CUSTOMER, currency, start, end)) if path == "bare" else None
        conn.commit()
        with app.app_context():
            from portal.extensions import db

            db.session.execute(db.text("SELECT 1"))
            db.session.remove()
        before = memory()["VmRSS"]
        reset_peak()
        if path == "service":
            elapsed, count, size = service(app, code, currency, start, end)
        elif path == "bare":
            elapsed, count, size = bare(rows)
        else:
            elapsed, count, size = bare(plain_rows(conn, BIG_CUSTOMER, currency, start, end))
        peak = memory()["VmHWM"]
    print(json.dumps({"path": path, "seconds": elapsed, "rows": count, "bytes": size, "rss_before_kb": before,
                      "peak_kb": peak, "growth_kb": peak - before}))


def measure_rss(path: str, url: str, start, end) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", path, "--database", url, "--span", start.isoformat(),
                           end.isoformat()], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="profile one more service export and print it")
    parser.add_argument("--child", choices=("service", "bare", "bare_psycopg"), help=argparse.SUPPRESS)
    parser.add_argument("--span", nargs=2, help=argparse.SUPPRESS)
    add_arguments(parser)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.database, *args.span)
        return
    with loaded_database(args.database) as loaded:
        app = make_app(loaded.url)
        currency, code = customer_currency(loaded.big_customer_id), loaded.big_customer_code
        span = (loaded.year_start, loaded.year_end)
        times: dict[str, list[float]] = {"service": [], "bare loop": [], "bare loop fed by psycopg": []}
        loads, sizes = [], {}
        with psycopg.connect(loaded.libpq) as conn:
            rows = list(plain_rows(conn, loaded.big_customer_id, currency, *span))
            conn.commit()
            service(app, code, currency, *span)  # untimed: imports and caches
            for _ in range(args.rounds):
                loads.append(load_average())
                elapsed, count, sizes["service"] = service(app, code, currency, *span)
                assert count == len(rows), (count, len(rows))
                times["service"].append(elapsed)
                elapsed, _, sizes["bare loop"] = bare(rows)
                times["bare loop"].append(elapsed)
                elapsed, _, sizes["bare loop fed by psycopg"] = bare(
                    plain_rows(conn, loaded.big_customer_id, currency, *span))
                conn.commit()
                times["bare loop fed by psycopg"].append(elapsed)
        print(f"ledger XLSX of customer {code} in {currency}, {span[0]} to {span[1]}: {len(rows):,} entries, "
              f"{args.rounds} rounds (load average at each round: {'; '.join(loads)})")
        floor = times["bare loop"]
        for name, seconds in times.items():
            ratios = sorted(s / f for s, f in zip(seconds, floor, strict=True))
            print(f"  {name:26} median {statistics.median(seconds):6.2f} s  fastest {min(seconds):6.2f} s  × bare loop:"
                  f" median/median {statistics.median(seconds) / statistics.median(floor):.2f}, fastest/fastest"
                  f" {min(seconds) / min(floor):.2f}, per round {ratios[0]:.2f}–{ratios[-1]:.2f} (median"
                  f" {statistics.median(ratios):.2f})  ({sizes[name] / 1e6:.1f} MB workbook)")
        ratio = statistics.median(s / f for s, f in zip(times["service"], floor, strict=True))
        print(f"  time target: within 1.2 × the bare loop (judged on the median of the per-round ratios): "
              f"{'met' if ratio <= 1.2 else 'NOT met'} ({ratio:.2f} ×)")
        rss = {path: measure_rss(path, loaded.url, *span) for path in ("service", "bare", "bare_psycopg")}
        for path, found in rss.items():
            print(f"  peak RSS growth, {path:13} {found['growth_kb'] / 1024:6.1f} MB (from "
                  f"{found['rss_before_kb'] / 1024:.0f} MB to a peak of {found['peak_kb'] / 1024:.0f} MB; "
                  f"{found['seconds']:.2f} s in that process)")
        growth = rss["service"]["growth_kb"] / 1024
        print(f"  memory target: peak RSS growth under 64 MB: {'met' if growth < 64 else 'NOT met'} ({growth:.1f} MB);"
              f" load average now {load_average()}")
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            service(app, code, currency, *span)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
