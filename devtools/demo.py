"""Demo data for `make run`: roles, one user per role, customers, contracts, rates, proformas and receivables (issued
invoices, payments, a bank file to import: devtools/demo_receivables.py). Idempotent."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import click
from sqlalchemy import select

from devtools import demo_receivables
from portal.extensions import db
from portal.models import (
    Contract,
    Customer,
    CustomerContact,
    ExchangeRate,
    FixedLineItem,
    HumanTask,
    ProcessInstance,
    Proforma,
    Project,
    RateCard,
    RateCardItem,
    ServiceJob,
    User,
)
from portal.models.user import CUSTOMER, ROLE_CATALOG
from portal.money import D
from portal.services.billing import drafting
from portal.services.identity import users
from portal.services.masterdata import rules
from portal.services.workflow import definitions, service_jobs, steps, tasks

DEMO_DOMAIN = "ledgerflow.example"

CUSTOMERS = [
    # code, name, vat, currency, street, city, postcode, country, billing contact
    ("ACME", "Acme Logistics GmbH", "DE811907980", "EUR", "Hafenstraße 12", "Hamburg", "20457", "DE", ("Greta Bauer", "billing@acme.example")),
    ("GLOBEX", "Globex Corporation", "US941234567", "USD", "1 Globex Way", "Cypress Creek", "90210", "US", ("Hank Scorpio", "ap@globex.example")),
    ("INITECH", "Initech Services Ltd", "GB980780684", "GBP", "4 Office Park", "Reading", "RG1 1AA", "GB", ("Bill Lumbergh", "invoices@initech.example")),
]

CONTRACTS = [
    # number, customer, currency, terms, tax rate, tax rule, partner, company, formats
    ("C-2026-001", "ACME", "EUR", 30, "19", "standard", "0000100001", "1000", "pdf,html,idoc,ubl"),
    ("C-2026-002", "GLOBEX", "USD", 45, "0", "exempt", "0000100002", "2000", "pdf,sap_csv"),
    ("C-2026-003", "INITECH", "GBP", 30, "20", "standard", "0000100003", "3000", "pdf,html"),
]
# Per contract: the customer's references, how its SAP reads the CSV, what it downloads in the portal.
CONTRACT_SETTINGS = {
    "C-2026-001": {"purchase_order_number": "4500012345", "buyer_reference": "ACME-IT-OPS"},
    "C-2026-002": {"purchase_order_number": "GLX-PO-77812", "csv_delimiter": ",", "csv_decimal_separator": ".",
                   "portal_formats": "pdf,sap_csv"},
    "C-2026-003": {"portal_formats": "pdf,html"},
}

FIXED_LINES = [
    ("C-2026-001", "Service desk flat fee", "1", "4500.00", "19"),
    ("C-2026-001", "Monitoring licences", "25", "12.50", "19"),
    ("C-2026-002", "Managed hosting", "1", "8200.00", "0"),
    ("C-2026-003", "On-site support retainer", "1", "3100.00", "20"),
]

RATE_ITEMS = [
    ("incident", "P1", "Critical incident", "450.00"),
    ("incident", "P2", "High incident", "220.00"),
    ("incident", "P3", "Moderate incident", "95.00"),
    ("incident", "P4", "Low incident", "40.00"),
    ("request", "New laptop setup", "Laptop provisioning", "120.00"),
    ("request", "Access request", "Account or access change", "25.00"),
]

RATES = [("EUR", "1.08450000"), ("GBP", "1.26310000"), ("RUB", "0.01092000")]


def demo_password(role: str) -> str:
    return f"demo-{role.replace('_', '-')}-pass"


def demo_email(role: str) -> str:
    return f"{role.replace('_', '.')}@{DEMO_DOMAIN}"


def fake_servicenow_url() -> str:
    """Where `make run` serves the fake ServiceNow: port FAKE_SERVICENOW_PORT (8099) on loopback."""
    return f"http://127.0.0.1:{os.environ.get('FAKE_SERVICENOW_PORT') or 8099}"


def seed(calllog_url: str | None = None) -> list[tuple[str, str, str]]:
    """Create whatever demo data is missing, point the demo customers at `calllog_url`; returns the logins."""
    users.ensure_roles()
    calllog_url = calllog_url or fake_servicenow_url()
    for row in CUSTOMERS:
        _customer(*row, calllog_url)
    card = _rate_card()
    for row in CONTRACTS:
        _contract(*row, card)
    for row in FIXED_LINES:
        _fixed_line(*row)
    for currency, rate in RATES:
        _rate(currency, rate)
    logins = [_user(role) for role in ROLE_CATALOG if role != CUSTOMER]
    logins += [_user(CUSTOMER, customer_code=code) for code, *_ in CUSTOMERS]
    _projects()
    _workflows()
    demo_receivables.seed()  # before the proformas: the invoice issued on approval comes last, as it is dated today
    _proformas()
    db.session.flush()
    for line in demo_receivables.summary():  # printed before the logins, which stay last
        click.echo(line)
    return logins


DEMO_PERIOD = "2026-10"


def _proformas():
    """October's proformas, drafted from a fake ServiceNow run in-process; ACME's is approved (customer portal)."""
    from dataclasses import replace

    from devtools.fake_servicenow import start_fake_servicenow
    from portal.integrations import servicenow

    if _find(Proforma, period=DEMO_PERIOD) is None:
        running = start_fake_servicenow()
        try:
            drafting.draft_period(DEMO_PERIOD, prepared_by="demo seed", fetch=lambda connection, *args: (
                servicenow.fetch_period_cached(replace(connection, base_url=running.base_url), *args)))
        finally:
            running.stop()
    acme = _find(Proforma, number=f"PF-C-2026-001-{DEMO_PERIOD}")
    if acme is None or acme.state == "approved":
        return
    _run_queued_jobs(acme.process_instance_id)
    for role, outcome in (("reviewer", "submitted"), ("approver", "approved")):
        task = _find(HumanTask, instance_id=acme.process_instance_id, state="open")
        if task is not None:
            tasks.complete(task.id, _find(User, email=demo_email(role)), {}, outcome=outcome)
            _run_queued_jobs(acme.process_instance_id)


def _run_queued_jobs(instance_id: int) -> None:
    """Run the instance's waiting service tasks now, each once (a failure is left to the sweep's retries)."""
    tried: set[int] = set()
    while job := db.session.scalar(select(ServiceJob).where(ServiceJob.instance_id == instance_id,
                                                            ServiceJob.state == "queued",
                                                            ServiceJob.id.not_in(tried or {0}))):
        tried.add(job.id)
        service_jobs.run(job.id)


DEMO_PROCESS = Path(__file__).resolve().parents[1] / "workflows" / "definitions" / "approval.bpmn"
PROFORMA_PROCESS = DEMO_PROCESS.with_name("proforma_approval.bpmn")


def _workflows():
    """The sample approval process, with one case waiting for an accountant and one for a reviewer."""
    definitions.deploy(DEMO_PROCESS.read_text(encoding="utf-8"), "demo seed")
    definitions.deploy(PROFORMA_PROCESS.read_text(encoding="utf-8"), "demo seed")
    variables = {"currency": "EUR", "on": date(2026, 11, 2)}
    for key in ("DEMO-1", "DEMO-2"):
        if _find(ProcessInstance, business_key=key) is None:
            row = steps.start("approval", key, variables, started_by="demo seed")
            if key == "DEMO-2":
                accountant = _find(User, email=demo_email("accountant"))
                prepare = _find(HumanTask, instance_id=row.id, element_id="prepare")
                tasks.complete(prepare.id, accountant, {"amount": "12500", "note": "November support"})


def _find(model, **key):
    return db.session.scalar(select(model).filter_by(**key))


def _add(obj):
    rules.validate(obj)
    db.session.add(obj)
    db.session.flush()
    return obj


# The demo login of the fake ServiceNow that `make run` starts (devtools/fake_servicenow.py).
DEMO_CALLLOG = {"calllog_auth": "basic", "calllog_username": "ledgerflow", "calllog_secret": "demo-servicenow-pass"}
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _customer(code, name, vat, currency, street, city, postcode, country, contact, calllog_url):
    customer = _find(Customer, code=code)
    if customer is None:
        customer = _add(Customer(code=code, name=name, vat_id=vat, currency=currency, billing_street=street,
                                 billing_city=city, billing_postcode=postcode, billing_country=country,
                                 calllog_company=name, calllog_url=calllog_url, **DEMO_CALLLOG))
        _add(CustomerContact(customer=customer, kind="billing", name=contact[0], email=contact[1]))
    elif customer.calllog_url != calllog_url and _is_local_fake(customer.calllog_url):
        # The fake moved to another port: follow it. An address someone set in the grid is theirs to keep.
        customer.calllog_url = calllog_url
        rules.validate(customer)
        db.session.flush()


def _is_local_fake(url: str) -> bool:
    """Whether `url` is a plain http address on this machine, as the demo's fake ServiceNow has."""
    parts = urlsplit(url or "")
    return parts.scheme == "http" and parts.hostname in LOOPBACK and parts.path in ("", "/")


def _rate_card() -> RateCard:
    card = _find(RateCard, name="Standard 2026")
    if card is None:
        card = _add(RateCard(name="Standard 2026", currency="EUR", valid_from=date(2026, 1, 1)))
        for kind, key, description, price in RATE_ITEMS:
            _add(RateCardItem(rate_card=card, kind=kind, key=key, description=description, unit_price=D(price)))
    return card


def _contract(number, customer_code, currency, terms, tax, rule, partner, company, formats, card):
    if _find(Contract, number=number):
        return
    _add(Contract(number=number, customer=_find(Customer, code=customer_code), title=f"Managed services {number}",
                  currency=currency, payment_terms_days=terms, billing_cycle="monthly", tax_rate=D(tax),
                  tax_rule=rule, rate_card=card, sap_partner_code=partner, sap_company_code=company,
                  document_formats=formats, valid_from=date(2026, 1, 1), **CONTRACT_SETTINGS.get(number, {})))


def _fixed_line(number, description, quantity, price, tax):
    contract = _find(Contract, number=number)
    if _find(FixedLineItem, contract_id=contract.id, description=description):
        return
    _add(FixedLineItem(contract=contract, description=description, quantity=D(quantity), unit_price=D(price),
                       tax_rate=D(tax), valid_from=date(2026, 1, 1)))


def _rate(currency, rate):
    if _find(ExchangeRate, currency=currency, rate_date=date(2026, 11, 2), source="manual"):
        return
    _add(ExchangeRate(currency=currency, rate_date=date(2026, 11, 2), rate=D(rate), source="manual"))


def _user(role, customer_code=None):
    email = demo_email(role) if customer_code is None else f"portal@{customer_code.lower()}.{DEMO_DOMAIN}"
    if _find(User, email=email) is None:
        users.create_user(email, demo_password(role), [role], customer_code=customer_code,
                          name=ROLE_CATALOG[role][0] if customer_code is None else f"{customer_code} portal user",
                          with_authenticator=False)
    return role, email, demo_password(role)


def _projects():
    account = _find(User, email=demo_email("account_manager"))
    responsible = _find(User, email=demo_email("responsible_manager"))
    for number, *_ in CONTRACTS:
        code = f"P-{number}"
        if _find(Project, code=code) is None:
            _add(Project(code=code, name=f"Service operations {number}", contract=_find(Contract, number=number),
                         account_manager=account, responsible_manager=responsible))
