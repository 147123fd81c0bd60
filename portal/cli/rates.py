"""`flask rates import FILE`: the ECB's and the Bank of Russia's official files into exchange rates."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup

from portal.integrations.rate_files import SOURCES
from portal.services.masterdata import rate_import

rates_cli = AppGroup("rates", help="Exchange rates.")


@rates_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", type=click.Choice(SOURCES), default=None, help="Told by the file's content if left out.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def import_file(file: Path, source, as_json):
    """Import an ECB (eurofxref CSV or XML, zipped or not) or Bank of Russia (XML_daily) file."""
    from portal.cli import run_use_case

    report = run_use_case(lambda: rate_import.import_rates(file.read_bytes(), source, file.name))
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    days = report.days
    span = days[0].isoformat() if len(days) == 1 else f"{days[0].isoformat()} to {days[-1].isoformat()}"
    click.echo(f"{report.source}: {span} into {report.base}: {report.created} new, {report.updated} changed, "
               f"{report.unchanged} unchanged, {len(report.skipped)} skipped.")
    for what, why in report.skipped.items():
        click.echo(f"skipped  {what}: {why}", err=True)
