"""`flask ledger CUSTOMER_CODE`: the customer's statement of account as JSON, CSV, XLSX or PDF."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from portal.services.receivables import ledger_export

BINARY_FORMATS = ("xlsx", "pdf")
_UNSAFE_IN_NAMES = re.compile(r"[^A-Za-z0-9_.-]+")


@click.command("ledger")
@click.argument("customer_code")
@click.option("--currency", default=None, help="The currency of the statement (default: the customer's own; "
                                               "with --base and none given: all of them).")
@click.option("--from", "start", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="First day, YYYY-MM-DD.")
@click.option("--to", "end", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="Last day, YYYY-MM-DD.")
@click.option("--format", "fmt", type=click.Choice(ledger_export.FORMATS), default="json", show_default=True)
@click.option("--base", "in_base", is_flag=True, help="In the base currency at each entry's historical rate.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (xlsx and pdf always go to a file; named after the statement by default).")
def ledger(customer_code, currency, start, end, fmt, in_base, output):
    """The statement of account of a customer for a period: opening, entries, running balance, closing."""
    from portal.cli import run_use_case

    def export():
        # CSV and XLSX stream the rows from the database: a statement of any length in little memory.
        statement = ledger_export.statement_for(customer_code, currency, start.date(), end.date(), in_base=in_base,
                                                stream=fmt in ("csv", "xlsx"))
        target = output or (_default_name(statement, fmt) if fmt in BINARY_FORMATS else None)
        if target is None:
            _write_text(statement, fmt, sys.stdout)
            return None
        return target, _write_file(statement, fmt, target)

    written = run_use_case(export)
    if written is not None:
        entries = "" if written[1] is None else f" ({written[1]} entries)"
        click.echo(f"Wrote {written[0]}{entries}.", err=True)


def _default_name(statement, fmt: str) -> Path:
    code = _UNSAFE_IN_NAMES.sub("_", statement.customer.code)
    return Path(f"ledger-{code}-{statement.currency}-{statement.start.isoformat()}-{statement.end.isoformat()}"
                f".{fmt}")


def _write_text(statement, fmt: str, out) -> None:
    if fmt == "json":
        out.write(json.dumps(ledger_export.as_dict(statement), indent=2, ensure_ascii=False) + "\n")
    else:
        ledger_export.write_csv(statement, out)


def _write_file(statement, fmt: str, target: Path) -> int | None:
    """Written beside the target and renamed at the end, so a failed export leaves no half-written file; the number
    of entries written, when known (a streamed CSV does not count them)."""
    partial = target.with_name(target.name + ".part")
    count = None
    try:
        if fmt in BINARY_FORMATS:
            with partial.open("wb") as out:
                if fmt == "xlsx":
                    count = ledger_export.write_xlsx(statement, out)
                else:
                    out.write(ledger_export.write_pdf(statement))
                    count = len(statement.rows)
        else:
            with partial.open("w", encoding="utf-8", newline="") as out:
                _write_text(statement, fmt, out)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return count
