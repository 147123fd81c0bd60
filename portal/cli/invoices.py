"""`flask invoices issue` (an approved proforma's invoice) and `flask invoices create` (a standalone invoice)."""

from __future__ import annotations

import getpass
import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from portal.errors import NotFound, ValidationError
from portal.extensions import db
from portal.models import Contract, Customer, ReceivableDocument
from portal.models.receivables import INVOICE
from portal.money import display
from portal.services.billing.drafting import tax_rate_for
from portal.services.receivables import from_proforma, invoicing
from portal.services.receivables.invoicing import LineInput

invoices_cli = AppGroup("invoices", help="Invoices: from approved proformas or standalone.")
LINE_FORMAT = "description;quantity;unit price[;tax rate]"


@invoices_cli.command("issue")
@click.argument("proforma_number")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def issue(proforma_number, as_json):
    """Issue the invoice of an approved proforma (running it again shows the invoice already issued)."""
    from portal.cli import run_use_case

    invoice = run_use_case(lambda: from_proforma.invoice_from_proforma(from_proforma.by_number(proforma_number),
                                                                       _by()))
    _print(invoice, as_json)


@invoices_cli.command("create")
@click.option("--customer", "customer_code", required=True, help="The customer's code.")
@click.option("--line", "lines", multiple=True, required=True,
              help=f'"{LINE_FORMAT}"; repeat for several lines. Without a tax rate, the contract\'s (else 0).')
@click.option("--currency", default=None, help="ISO 4217 code; the contract's, else the customer's, if left out.")
@click.option("--date", "issue_date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Issue date, YYYY-MM-DD (today if left out).")
@click.option("--contract", "contract_number", default=None, help="The customer's contract: terms and references.")
@click.option("--issue", "issue_now", is_flag=True, help="Issue it at once (number, ledger, PDF and UBL).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def create(customer_code, lines, currency, issue_date, contract_number, issue_now, as_json):
    """Create a standalone invoice with lines, as a draft or issued at once."""
    from portal.cli import run_use_case

    day = issue_date.date() if issue_date else None
    document = run_use_case(lambda: standalone(customer_code, lines, currency, day, contract_number, issue_now))
    _print(document, as_json)


def standalone(customer_code: str, raw_lines, currency, day, contract_number, issue_now: bool) -> ReceivableDocument:
    """The standalone invoice: looked up, parsed, drafted, and issued when asked."""
    customer = _customer(customer_code)
    contract = _contract(contract_number, customer)
    default_tax = tax_rate_for(contract, contract.tax_rate) if contract is not None else "0"
    draft = invoicing.create_draft(
        INVOICE, customer, currency or (contract.currency if contract is not None else customer.currency),
        [parse_line(raw, position, default_tax) for position, raw in enumerate(raw_lines, start=1)],
        issue_date=day or invoicing.today(), created_by=_by(), contract=contract)
    return invoicing.issue(draft, _by()) if issue_now else draft


def parse_line(raw: str, position: int, default_tax) -> LineInput:
    """A typed line such as "Support;10;95.00;19"; the money parser checks its figures when the draft is made."""
    parts = [part.strip() for part in raw.split(";")]
    if len(parts) not in (3, 4):
        raise ValidationError(f"line {position}", f"write {LINE_FORMAT}, not “{raw}”")
    description, quantity, unit_price, *tax = parts
    return LineInput(description, quantity, unit_price, tax[0] if tax else str(default_tax))


def _customer(code: str) -> Customer:
    customer = db.session.scalar(select(Customer).where(Customer.code == (code or "").strip()))
    if customer is None:
        raise NotFound(f"no customer with code {code}")
    return customer


def _contract(number: str | None, customer: Customer) -> Contract | None:
    if not number:
        return None
    contract = db.session.scalar(select(Contract).where(Contract.number == number.strip()))
    if contract is None:
        raise NotFound(f"no contract {number}")
    if contract.customer_id != customer.id:
        raise ValidationError("contract", f"{contract.number} is a contract of another customer")
    return contract


def _by() -> str:
    return f"cli:{getpass.getuser()}"


def _print(document: ReceivableDocument, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(as_dict(document), indent=2))
        return
    what = document.number or f"draft invoice {document.id}"
    due = f", due {document.due_date.isoformat()}" if document.number else ""
    click.echo(f"{what}: {document.customer.code}, {display(document.gross_total, document.currency)} gross{due} "
               f"({document.state.replace('_', ' ')})")


def as_dict(document: ReceivableDocument) -> dict:
    """The invoice as JSON values: amounts and dates as strings, never floats."""
    return {"id": document.id, "number": document.number, "state": document.state,
            "customer": document.customer.code, "contract": document.contract.number if document.contract else None,
            "proforma": document.proforma.number if document.proforma else None, "currency": document.currency,
            "issue_date": document.issue_date.isoformat(), "due_date": document.due_date.isoformat(),
            "net_total": str(document.net_total), "tax_total": str(document.tax_total),
            "gross_total": str(document.gross_total),
            "files": sorted(f"{row.filename} sha256:{row.sha256}" for row in document.files)}
