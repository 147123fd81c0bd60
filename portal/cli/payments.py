"""`flask payments import FILE` (bank files into payments, previewed with --dry-run) and `flask payments export`."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import click
from flask.cli import AppGroup

from portal.services.receivables import payment_export, payment_import

payments_cli = AppGroup("payments", help="Payments received: bank-file import and export.")


@payments_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--account", "account_iban", default="", help="Our account (IBAN) the file is a statement of; "
              "required for CSV and XLSX, a filter for camt.053 and MT940 files of several accounts.")
@click.option("--mapping", "mapping_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="CSV/XLSX column mapping as JSON; remembered for the account once imported.")
@click.option("--format", "file_format", type=click.Choice(payment_import.FORMATS), default=None,
              help="Told by the file's content if left out.")
@click.option("--dry-run", is_flag=True, help="Show the preview; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def import_file(file: Path, account_iban, mapping_file, file_format, dry_run, as_json):
    """Import a bank statement (CSV, XLSX, camt.053 or MT940): payments, duplicates, skipped rows and errors."""
    from portal.cli import run_use_case

    content, mapping = file.read_bytes(), _mapping(mapping_file)

    def use_case():
        found = payment_import.preview(content, file.name, account_iban=account_iban, mapping=mapping,
                                       file_format=file_format)
        record = None if dry_run else payment_import.confirm_preview(found, f"cli:{getpass.getuser()}")
        return found, record

    found, record = run_use_case(use_case)
    if as_json:
        click.echo(json.dumps({**found.as_dict(), "dry_run": dry_run,
                               "import_id": record.id if record is not None else None}, indent=2))
        return
    _report(found, record, dry_run)


def _mapping(mapping_file: Path | None) -> dict | None:
    if mapping_file is None:
        return None
    try:
        return json.loads(mapping_file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"mapping: {mapping_file.name} is not JSON ({exc})") from None


def _report(found: payment_import.Preview, record, dry_run: bool) -> None:
    for row in found.rows:
        if row.status != payment_import.PAYMENT:
            click.echo(f"{row.status:9} {row.where}: {row.reason}", err=True)
    counts = found.counts
    summary = (f"{counts['payment']} payments ({found.unidentified} unidentified), {counts['duplicate']} duplicates, "
               f"{counts['skipped']} skipped, {counts['error']} errors")
    if found.already_imported is not None:
        earlier = found.already_imported
        click.echo(f"{found.filename}: already imported as import {earlier.id} by {earlier.imported_by}; "
                   f"nothing created.")
    elif dry_run:
        click.echo(f"{found.filename} ({found.file_format}), dry run: {summary}; nothing written.")
    else:
        click.echo(f"{found.filename} ({found.file_format}): import {record.id}: {summary}.")


@payments_cli.command("export")
@click.option("--format", "file_format", type=click.Choice(("csv", "xlsx")), default="csv", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              help="File to write (CSV goes to standard output without it; XLSX needs it).")
@click.option("--unidentified", is_flag=True, help="Only the payments no customer is matched to yet.")
@click.option("--customer", "customer_code", default="", help="Only this customer's payments (its code).")
@click.option("--import", "import_id", type=int, default=None, help="Only the payments of this import.")
@click.option("--from", "date_from", type=click.DateTime(("%Y-%m-%d",)), default=None, help="Value date from.")
@click.option("--to", "date_to", type=click.DateTime(("%Y-%m-%d",)), default=None, help="Value date to.")
def export(file_format, output: Path | None, unidentified, customer_code, import_id, date_from, date_to):
    """Export payments as CSV or XLSX."""
    filters = payment_export.Filters(unidentified=unidentified, customer_code=customer_code, import_id=import_id,
                                     date_from=date_from.date() if date_from else None,
                                     date_to=date_to.date() if date_to else None)
    rows = payment_export.export_rows(filters)
    if file_format == "xlsx":
        if output is None:
            raise click.UsageError("--output is required for XLSX (a workbook is not text)")
        output.write_bytes(payment_export.xlsx_bytes(rows))
        return
    if output is None:
        for chunk in payment_export.csv_chunks(rows):
            click.echo(chunk, nl=False)
        return
    with output.open("w", encoding="utf-8-sig", newline="") as target:  # the BOM makes Excel read UTF-8
        target.writelines(payment_export.csv_chunks(rows))
