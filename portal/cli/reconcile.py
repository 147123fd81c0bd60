"""`flask reconcile suggest PAYMENT_ID` and `flask reconcile auto`: payments against open invoices (issue 11)."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from portal.money import display
from portal.services.receivables import payments, reconciliation

reconcile_cli = AppGroup("reconcile", help="Match payments to open invoices and due notes.")


@reconcile_cli.command("suggest")
@click.argument("payment_id")
@click.option("--limit", default=reconciliation.DEFAULT_LIMIT, show_default=True, type=click.IntRange(min=1),
              help="At most this many suggestions.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def suggest(payment_id, limit, as_json):
    """The open documents a payment may pay, best first, with the reasons for each."""
    from portal.cli import run_use_case

    report = run_use_case(lambda: _suggestions(payment_id, limit))
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"Payment {report['payment_id']}: {display(report['unapplied'], report['currency'])} unapplied"
               f"{'' if report['customer_code'] else ' (unidentified)'}.")
    if not report["suggestions"]:
        click.echo("No open invoice or due note to propose.")
    for row in report["suggestions"]:
        click.echo(f"{row['rank']:>3}. {row['number']:16} {row['customer_code']:12} due {row['due_date']}  "
                   f"open {display(row['open_amount'], row['currency']):>18}  "
                   f"allocate {display(row['proposed_amount'], row['currency']):>18}  score {row['score']}")
        for reason in row["reasons"]:
            click.echo(f"       - {reason}")


def _suggestions(payment_id, limit: int) -> dict:
    """The report, built inside the unit of work (the rows expire when it commits)."""
    payment = payments.get(payment_id)
    return {"payment_id": payment.id, "customer_code": payment.customer.code if payment.customer else None,
            "currency": payment.currency, "amount": str(payment.amount), "unapplied": str(payment.unapplied),
            "suggestions": [s.as_dict() for s in reconciliation.suggest(payment, limit)]}


@reconcile_cli.command("auto")
@click.option("--payment", "payment_ids", multiple=True, help="Only this payment (repeat for several).")
@click.option("--by", default="cli", show_default=True, help="Who allocates (kept on each allocation).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def auto(payment_ids, by, as_json):
    """Allocate payments whose text names a document number and whose amount equals its open amount."""
    from portal.cli import run_use_case

    done = run_use_case(lambda: _auto(payment_ids, by))
    if as_json:
        click.echo(json.dumps({"allocated": done}, indent=2))
        return
    for row in done:
        click.echo(f"payment {row['payment_id']} -> {row['number']} ({row['customer_code']}): "
                   f"{display(row['amount'], row['currency'])}")
    click.echo(f"{len(done)} allocated.")


def _auto(payment_ids, by: str) -> list[dict]:
    chosen = [payments.get(payment_id) for payment_id in payment_ids] if payment_ids else None
    return [row.as_dict() for row in reconciliation.auto_reconcile(by, chosen)]
