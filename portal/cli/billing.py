"""`flask billing draft`: one proforma per active contract and month."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.services.billing import drafting

billing_cli = AppGroup("billing", help="Proforma invoices.")


@billing_cli.command("draft")
@click.option("--period", required=True, help="The billing month, e.g. 2026-11.")
@click.option("--contract", "contract_number", default=None, help="Only this contract.")
def draft(period, contract_number):
    """Draft the proformas of a month (running it again creates no duplicates)."""
    from portal.cli import run_use_case

    report = run_use_case(lambda: drafting.draft_period(period, contract_number, prepared_by="cli"))
    for number in report.created:
        click.echo(f"drafted  {number}")
    for number in report.existing:
        click.echo(f"exists   {number}")
    for contract, error in report.failed.items():
        click.echo(f"FAILED   {contract}: {error}", err=True)
    click.echo(f"{len(report.created)} drafted, {len(report.existing)} already there, {len(report.failed)} failed.")
    if report.failed:
        raise SystemExit(1)
