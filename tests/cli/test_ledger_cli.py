"""`flask ledger CUSTOMER_CODE --currency --from --to [--format] [--base] [--output]`: the statement of account."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from portal.extensions import db
from portal.services.receivables import rendering
from tests.support import factories
from tests.support.receivables import invoice, pay, rate

PERIOD = ("--from", "2026-01-01", "--to", "2026-03-31")


@pytest.fixture(autouse=True)
def without_files(monkeypatch):
    """Issue without rendering the PDF and UBL files (seconds each); these tests are about the statement."""
    monkeypatch.setattr(rendering, "render_files", lambda document: [])


def run(app, *args):
    result = app.test_cli_runner().invoke(args=["ledger", *args])
    db.session.expire_all()
    return result


def ok(app, *args):
    result = run(app, *args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture
def customer(database):
    """EUR 300 invoiced in December (the opening); in the period EUR 1,000 invoiced, 400 paid, and USD 200
    invoiced. EUR is 1.00 USD in December and 1.10 USD from January."""
    customer = factories.CustomerFactory(code="ACME-1", name="Acme Trading", currency="EUR")
    rate("EUR", date(2025, 12, 1), "1.00")
    rate("EUR", date(2026, 1, 1), "1.10")
    invoice(customer, "300.00", "EUR", on=date(2025, 12, 15))
    invoice(customer, "1000.00", "EUR", on=date(2026, 1, 10), description="Service desk January")
    pay(customer, "400.00", "EUR", on=date(2026, 2, 5), text="part payment")
    invoice(customer, "200.00", "USD", on=date(2026, 2, 10))
    return customer


def test_json_is_the_default(app, customer):
    report = json.loads(ok(app, "ACME-1", "--currency", "EUR", *PERIOD).stdout)
    entries = report.pop("entries")
    assert report == {
        "customer_code": "ACME-1", "customer_name": "Acme Trading", "currency": "EUR", "in_base": False, "note": "",
        "start": "2026-01-01", "end": "2026-03-31", "opening_debit": "300.00", "opening_credit": "0.00",
        "total_debit": "1300.00", "total_credit": "400.00", "closing_debit": "900.00", "closing_credit": "0.00",
        "closing_balance": "900.00"}
    assert [(e["sl_num"], e["date"], e["particulars"].split()[0], e["debit"], e["credit"], e["balance"])
            for e in entries] == [(1, "2026-01-10", "Invoice", "1000.00", "0.00", "1300.00"),
                                  (2, "2026-02-05", "Payment", "0.00", "400.00", "900.00")]
    assert entries[0]["products"] == "Service desk January" and entries[0]["currency"] == "EUR"
    assert set(entries[0]) == {"sl_num", "date", "particulars", "narration", "products", "debit", "credit",
                               "balance", "currency"}


def test_the_currency_defaults_to_the_customers_own(app, customer):
    report = json.loads(ok(app, "ACME-1", *PERIOD).stdout)
    assert report["currency"] == "EUR" and report["closing_debit"] == "900.00"


def test_base_currency_at_historical_rates(app, customer):
    every = json.loads(ok(app, "ACME-1", "--base", *PERIOD).stdout)
    assert (every["currency"], every["in_base"]) == ("USD", True)
    assert every["note"] == "USD at each entry's historical rate, converted from EUR"
    assert [(e["debit"], e["credit"], e["currency"]) for e in every["entries"]] == [
        ("1100.00", "0.00", "EUR"), ("0.00", "440.00", "EUR"), ("200.00", "0.00", "USD")]
    assert (every["opening_debit"], every["closing_debit"]) == ("300.00", "1160.00")
    euro_only = json.loads(ok(app, "ACME-1", "--base", "--currency", "eur", *PERIOD).stdout)
    assert euro_only["currency"] == "USD" and euro_only["closing_debit"] == "960.00"


def test_csv_on_stdout(app, customer):
    lines = list(csv.reader(io.StringIO(ok(app, "ACME-1", "--currency", "EUR", "--format", "csv", *PERIOD).stdout)))
    assert lines[0] == ["sl_num", "date", "particulars", "narration", "products", "debit", "credit", "balance"]
    assert lines[1][2:] == ["Opening balance", "", "", "300.00", "0.00", "300.00"]
    assert [line[5:] for line in lines[2:4]] == [["1000.00", "0.00", "1300.00"], ["0.00", "400.00", "900.00"]]
    assert lines[-1] == ["", "2026-03-31", "Closing balance", "", "", "900.00", "0.00", "900.00"]


def test_csv_to_a_file(app, customer, tmp_path):
    target = tmp_path / "statement.csv"
    result = ok(app, "ACME-1", "--format", "csv", "--output", str(target), *PERIOD)
    assert result.stdout == "" and f"Wrote {target}." in result.stderr  # streamed: not counted
    assert target.read_text(encoding="utf-8").splitlines()[0] == "sl_num,date,particulars,narration,products,debit," \
                                                                  "credit,balance"
    assert not (tmp_path / "statement.csv.part").exists()


def test_xlsx_goes_to_a_file_named_after_the_statement(app, customer, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = ok(app, "ACME-1", "--currency", "EUR", "--format", "xlsx", *PERIOD)
    target = tmp_path / "ledger-ACME-1-EUR-2026-01-01-2026-03-31.xlsx"
    assert result.stdout == "" and "(2 entries)" in result.stderr
    values = list(load_workbook(target).active.iter_rows(values_only=True))
    assert values[1][1] == "ACME-1 — Acme Trading"
    assert values[-1][2] == "Closing balance" and Decimal(str(values[-1][5])) == Decimal("900.00")


def test_pdf_to_the_output_file(app, customer, tmp_path):
    target = tmp_path / "acme.pdf"
    ok(app, "ACME-1", "--base", "--format", "pdf", "--output", str(target), *PERIOD)
    text = " ".join(page.extract_text() for page in PdfReader(target).pages)
    assert "Acme Trading" in text and "Closing balance" in text and "1,160.00" in text
    assert "USD at each entry's historical rate, converted from EUR" in text


@pytest.mark.parametrize(("args", "message"), [
    (("NOPE", *PERIOD), "customer: no customer with the code “NOPE”"),
    (("ACME-1", "--currency", "EURO", *PERIOD), "currency: “EURO” is not an ISO 4217 currency code"),
    (("ACME-1", "--from", "2026-04-01", "--to", "2026-03-31"), "from: the start (2026-04-01) is after the end"),
    (("ACME-1", "--from", "01.04.2026", "--to", "2026-03-31"), "Invalid value for '--from'"),
    (("ACME-1", "--format", "docx", *PERIOD), "Invalid value for '--format'"),
])
def test_errors_name_the_field(app, customer, args, message):
    result = run(app, *args)
    assert result.exit_code != 0 and message in result.output
