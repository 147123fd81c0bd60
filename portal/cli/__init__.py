"""Command-line edge: `flask users ...`, `flask demo seed`, `flask worker`, `flask jobs check`."""

from __future__ import annotations

import getpass
import time

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from devtools import demo
from portal.errors import DomainError
from portal.extensions import db
from portal.infra import audit, unit_of_work
from portal.services.identity import auth, users

users_cli = AppGroup("users", help="Create users and manage their second factor.")
demo_cli = AppGroup("demo", help="Demo data.")
jobs_cli = AppGroup("jobs", help="Background jobs.")


def init_cli(app: Flask) -> None:
    from portal.cli import invoices, ledger, reconcile
    from portal.cli.billing import billing_cli
    from portal.cli.payments import payments_cli
    from portal.cli.rates import rates_cli
    from portal.cli.workflows import workflows_cli

    for group in (users_cli, demo_cli, jobs_cli, workflows_cli, billing_cli, rates_cli, payments_cli,
                  reconcile.reconcile_cli, ledger.ledger, invoices.invoices_cli):
        app.cli.add_command(group)
    app.cli.add_command(worker)
    app.cli.add_command(scheduler)


def run_use_case(use_case):
    """One command, one transaction: commit on success, roll back and explain on a domain error."""
    with audit.acting_as(audit.Actor(f"cli:{getpass.getuser()}")):
        try:
            return unit_of_work.run(use_case)
        except DomainError as exc:
            raise click.ClickException(str(exc)) from exc


@users_cli.command("create")
@click.argument("email")
@click.option("--role", "roles", multiple=True, required=True, help="Role code; repeat for several roles.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", default="", help="Display name.")
@click.option("--customer", "customer_code", default=None, help="Customer code (for the customer role).")
def create_user(email, roles, password, name, customer_code):
    """Create a user and print its authenticator provisioning URI."""
    min_length = current_app.config["PASSWORD_MIN_LENGTH"]
    user = run_use_case(lambda: users.create_user(email, password, roles, name=name, customer_code=customer_code,
                                                  password_min_length=min_length))
    click.echo(f"Created {user.email} with roles {', '.join(sorted(user.role_codes))}.")
    click.echo("Add this to an authenticator app (or scan the QR code shown at first sign-in):")
    click.echo(auth.provisioning_uri(user, current_app.config["TOTP_ISSUER"]))


@users_cli.command("reset-2fa")
@click.argument("email")
def reset_2fa(email):
    """Remove a user's authenticator; the next sign-in enrolls a new one."""
    user = run_use_case(lambda: users.reset_second_factor(email))
    click.echo(f"Second factor reset for {user.email}; it enrolls a new authenticator at the next sign-in.")


@users_cli.command("list")
def list_users():
    """List users with roles and second-factor status."""
    from sqlalchemy import select

    from portal.models import User

    for user in db.session.scalars(select(User).order_by(User.email)):
        state = "2FA" if user.has_second_factor else "no 2FA"
        click.echo(f"{user.email:45} {','.join(sorted(user.role_codes)):30} {state}")


@demo_cli.command("seed")
@click.option("--calllog-url", default=demo.fake_servicenow_url,
              show_default="http://127.0.0.1:$FAKE_SERVICENOW_PORT, 8099 when unset",
              help="The fake ServiceNow the demo customers use (customers given another address keep theirs).")
def seed(calllog_url):
    """Create the demo data (idempotent) and print the demo logins."""
    logins = run_use_case(lambda: demo.seed(calllog_url))
    click.echo("Demo logins (staff enroll an authenticator app at first sign-in; the page shows a QR code):")
    for role, email, password in logins:
        click.echo(f"  {role:22} {email:45} {password}")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--queue", "queues", multiple=True, help="Queues to listen to (default: all, in priority order).")
def worker(burst, queues):
    """Run an RQ worker for this app's queues (needs REDIS_URL)."""
    from rq import SimpleWorker

    from portal.jobs import QUEUES, redis_connection

    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set: without Redis, jobs run inside the web process.")
    # SimpleWorker runs jobs in this process: no fork per job, so many small workflow steps stay cheap
    # (about 3x the throughput of the forking Worker here); jobs open their own app context.
    listening = list(queues or QUEUES)
    if "exports" in listening:
        _preload_pdf_font()
    rq_worker = SimpleWorker(listening, connection=redis_connection())
    rq_worker.work(burst=burst, with_scheduler=True)


def _preload_pdf_font() -> None:
    """Parse the PDF font once at start, not during the first proforma render (30-130 ms)."""
    from portal.exports import pdf

    try:
        pdf.preload()
    except pdf.PdfFontError as exc:  # the other queues still work; rendering will report the missing font
        click.echo(f"warning: {exc}", err=True)


@jobs_cli.command("check")
@click.option("--timeout", default=30, help="Seconds to wait for a worker.")
def check_jobs(timeout):
    """Send a job to the workers and print what the worker that ran it sees."""
    from portal.jobs import enqueue
    from portal.jobs.system import check_database

    job = enqueue(check_database, queue="workflow")
    deadline = time.monotonic() + timeout
    while job.get_status() not in ("finished", "failed") and time.monotonic() < deadline:
        time.sleep(0.1)
    if job.get_status() != "finished":
        raise click.ClickException(f"no worker finished the job within {timeout}s (status {job.get_status()})")
    click.echo(job.return_value())


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Run every periodic job once and stop.")
def scheduler(once):
    """Run the periodic jobs (timer sweep, retries, ...) on their intervals."""
    from portal.jobs import schedule

    if once:
        for name in schedule.run_due({}, time.monotonic()):
            click.echo(f"ran: {name}")
        return
    click.echo("Scheduler running: " + ", ".join(f"{p.name} every {p.every_seconds}s" for p in schedule.PERIODIC))
    schedule.loop()
