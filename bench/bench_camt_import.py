"""Benchmark (b), issue 11: importing a camt.053 file of 100,000 transactions through the web import, the same code
staff use: the upload page, the preview request (payment_import.preview, the file kept as a PendingBankFile, the
preview page rendered) and the confirm request (payment_import.confirm in the unit of work, committed). Targets:
at least 5,000 payments per second, peak RSS under 300 MB.

    .venv/bin/python bench/bench_camt_import.py [--transactions 100000] [--database URL] [--profile preview|confirm]

The database is loaded by bench/receivables_load.py (rows inserted directly, not through the services). The file
is generated here as camt.053.001.02 (one statement per business day, compact XML, about 5 % of the entries
batches of 2-5 transactions; 1 % outgoing debits and 0.5 % pending entries, which the import skips). Of the credits,
about half come from a customer's known IBAN, 15 % name one of the loaded open invoices' numbers, 15 % carry a
customer's name and 20 % match nobody. Bank references carry a per-run salt, so a rerun on a kept database imports
new payments instead of duplicates. To stay under the upload limit (50 MiB, portal.integrations.untrusted) the file
leaves out optional elements banks often send: the EndToEndId of 70 % of the transactions and the Refs of unbatched
ones, and it uses the short proprietary bank transaction code; with them, 100,000 transactions come to about 60 MB.

Each web request runs in a fresh process of its own (this script with --child preview / --child confirm), as two
gunicorn workers would serve them, through Flask's test client, signed in as an accountant the way the tests sign
in, with the CSRF tokens of the pages: the views, the multipart upload parsing (the file goes to a temporary file
past 500 kB) and the templates are the web's own; there is no network or gunicorn in between. Each process's peak
RSS (VmHWM, reset once signed in) is the figure for the target. Three floors, each in a fresh process too, all
rolled back at the end:
- floor: parse the file with lxml's etree.fromstring (the parser settings of portal.integrations.untrusted), take
  each credit's fields and COPY one row per credit into payments;
- floor-streaming: the same with etree.iterparse, each entry dropped once read;
- floor-full: the streamed parse, then per chunk of 2,000 credits a COPY each into payments (converted at the day's
  rate, the payer found by IBAN in a dictionary), audit_events and ledger_entries (balance and hash chained with
  posting.entry_hash), and the balances updated: what the import writes, without its duplicate checks, name and
  number matching, or validation.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import pstats
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from common import make_app
from receivables_load import OUR_ACCOUNT, add_arguments, customer_iban, loaded_database

STAFF = "accountant@bench.example"
FIRST_VALUE_DAY, LAST_VALUE_DAY = date(2026, 11, 2), date(2026, 12, 2)
NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
# The German banks' proprietary codes (DK transaction codes): shorter than the ISO domain form, equally valid.
BOOKING = "<BkTxCd><Prtry><Cd>NTRF+166</Cd><Issr>DK</Issr></Prtry></BkTxCd>"
FEE_CODE = "<BkTxCd><Prtry><Cd>NCHG+805</Cd><Issr>DK</Issr></Prtry></BkTxCd>"
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def memory() -> dict[str, int]:
    """Current and peak resident set size in kB (Linux)."""
    status = Path("/proc/self/status").read_text()
    return {key: int(re.search(rf"{key}:\s+(\d+)", status).group(1)) for key in ("VmRSS", "VmHWM")}


def reset_peak() -> None:
    """Start the peak (VmHWM) afresh from the current RSS, so that it measures what comes next."""
    Path("/proc/self/clear_refs").write_text("5")


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---- the file ----------------------------------------------------------------------------------------------------


def payers(conn) -> dict:
    """What the file's payers are drawn from: EUR customers with their names, open EUR invoices."""
    customers = conn.execute("SELECT id, name FROM customers WHERE currency = 'EUR' ORDER BY id").fetchall()
    invoices = conn.execute(
        "SELECT customer_id, number, gross_total - allocated_total - credited_total FROM receivable_documents"
        " WHERE kind = 'invoice' AND state IN ('issued', 'partially_paid', 'overdue') AND currency = 'EUR'"
        " ORDER BY id").fetchall()
    by_customer: dict[int, list] = {}
    for customer_id, number, amount in invoices:
        by_customer.setdefault(customer_id, []).append((number, amount))
    return {"customers": customers, "invoices": invoices, "by_customer": by_customer}


def transaction(rng: random.Random, world: dict, n: int, salt: str) -> dict:
    """One credit: who pays (known IBAN, named invoice, name, nobody), how much, with what text."""
    month = MONTHS[rng.randrange(10, 12)]
    amount = Decimal(rng.randrange(1_000, 1_500_000)).scaleb(-2)
    draw = rng.random()
    reference = f"{salt}{n:07d}"
    if draw < 0.5:
        customer_id, name = rng.choice(world["customers"])
        open_ones = world["by_customer"].get(customer_id)
        if open_ones and rng.random() < 0.7:
            number, amount = rng.choice(open_ones)
            text = f"{number} {month} services ref {reference}"
        else:
            text = f"Customer {customer_id} payment ref {reference}"
        iban = customer_iban(customer_id)
    elif draw < 0.65:
        customer_id, number, amount = rng.choice(world["invoices"])
        name, iban = f"Payer {n} Treasury", f"GB{10 + n % 89:02d}BUKB{n:014d}"
        text = f"Rechnung {number.replace('-', '/', 1)} ref {reference}"
    elif draw < 0.8:
        customer_id, name = rng.choice(world["customers"])
        name = name.upper() if rng.random() < 0.5 else name.replace(" GmbH", "")
        iban, text = f"FR76{n:023d}", f"Payment {month} ref {reference}"
    else:
        name, iban, text = f"Unknown Sender {n}", f"NL{10 + n % 89:02d}ABNA{n:010d}", f"Order {reference}"
    end_to_end = f"E2E{reference}" if rng.random() < 0.3 else ""  # most payers send none (NOTPROVIDED)
    return {"amount": amount, "name": name, "iban": iban, "text": text, "ref": reference, "e2e": end_to_end}


def detail(tx: dict, batched: bool) -> str:
    """A transaction's details; in a batch its own amount and bank reference, alone the entry's serve."""
    refs = f"<AcctSvcrRef>{tx['ref']}</AcctSvcrRef>" if batched else ""
    refs += f"<EndToEndId>{tx['e2e']}</EndToEndId>" if tx["e2e"] else ""
    amount = f'<AmtDtls><TxAmt><Amt Ccy="EUR">{tx["amount"]:.2f}</Amt></TxAmt></AmtDtls>' if batched else ""
    refs = f"<Refs>{refs}</Refs>" if refs else ""
    return (f"<TxDtls>{refs}{amount}<RltdPties><Dbtr><Nm>{escape(tx['name'])}</Nm></Dbtr><DbtrAcct><Id>"
            f"<IBAN>{tx['iban']}</IBAN></Id></DbtrAcct></RltdPties><RmtInf><Ustrd>{escape(tx['text'])}</Ustrd>"
            f"</RmtInf></TxDtls>")


def entry(amount: Decimal, direction: str, status: str, day: date, reference: str, code: str, body: str) -> str:
    return (f'<Ntry><Amt Ccy="EUR">{amount:.2f}</Amt><CdtDbtInd>{direction}</CdtDbtInd><Sts>{status}</Sts>'
            f"<BookgDt><Dt>{day.isoformat()}</Dt></BookgDt><ValDt><Dt>{day.isoformat()}</Dt></ValDt>"
            f"<AcctSvcrRef>{reference}</AcctSvcrRef>{code}{body}</Ntry>\n")


def camt_file(conn, transactions: int, salt: str) -> tuple[bytes, dict]:
    """A camt.053.001.02 document of `transactions` transactions (details), and what it holds."""
    rng = random.Random(53)
    world = payers(conn)
    business_days = [FIRST_VALUE_DAY + timedelta(n) for n in range((LAST_VALUE_DAY - FIRST_VALUE_DAY).days + 1)]
    business_days = [day for day in business_days if day.weekday() < 5]
    per_day = -(-transactions // len(business_days))
    counts = {"credits": 0, "debits": 0, "pending": 0, "batches": 0}
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{NS}"><BkToCstmrStmt><GrpHdr>'
             f"<MsgId>BENCH-{salt}</MsgId><CreDtTm>2026-12-03T06:00:00</CreDtTm></GrpHdr>\n"]
    made, balance = 0, Decimal("250000.00")
    for number, day in enumerate(business_days, start=1):
        if made >= transactions:
            break
        entries = []
        target = min(transactions, made + per_day)
        while made < target:
            draw = rng.random()
            reference = f"{salt}{made:07d}"
            if draw < 0.01:
                amount = Decimal(rng.randrange(100, 50_000)).scaleb(-2)
                entries.append(entry(amount, "DBIT", "BOOK", day, f"F{reference}", FEE_CODE,
                                     "<AddtlNtryInf>Account fees and charges</AddtlNtryInf>"))
                counts["debits"] += 1
                balance -= amount
                made += 1
                continue
            size = rng.randrange(2, 6) if draw > 0.95 else 1
            size = min(size, target - made)
            batch = [transaction(rng, world, made + k, salt) for k in range(size)]
            status = "PDNG" if size == 1 and rng.random() < 0.005 else "BOOK"
            total = sum((tx["amount"] for tx in batch), Decimal(0))
            body = "".join(detail(tx, size > 1) for tx in batch)
            if size > 1:
                body = f"<Btch><NbOfTxs>{size}</NbOfTxs></Btch>{body}"
                counts["batches"] += 1
            entries.append(entry(total, "CRDT", status, day, reference, BOOKING, f"<NtryDtls>{body}</NtryDtls>"))
            counts["pending" if status == "PDNG" else "credits"] += size
            if status == "BOOK":
                balance += total
            made += size
        opening = balance
        parts.append(
            f"<Stmt><Id>{day:%Y%m%d}-{salt}</Id><ElctrncSeqNb>{number}</ElctrncSeqNb>"
            f"<CreDtTm>{day.isoformat()}T18:00:00</CreDtTm><Acct><Id><IBAN>{OUR_ACCOUNT}</IBAN></Id><Ccy>EUR</Ccy>"
            f"</Acct><Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">{abs(opening):.2f}</Amt>"
            f"<CdtDbtInd>{'CRDT' if opening >= 0 else 'DBIT'}</CdtDbtInd><Dt><Dt>{day.isoformat()}</Dt></Dt></Bal>\n")
        parts.extend(entries)
        parts.append("</Stmt>\n")
    parts.append("</BkToCstmrStmt></Document>\n")
    counts["transactions"] = made
    counts["statements"] = sum(1 for part in parts if part.startswith("<Stmt>"))
    return "".join(parts).encode("utf-8"), counts


# ---- the web path (child process) --------------------------------------------------------------------------------

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
CONFIRM = re.compile(r'action="(/receivables/imports/\d+/confirm)"')
SHA = re.compile(r'name="sha256" value="([0-9a-f]{64})"')


def sign_in(app, client, email: str) -> None:
    """Flask-Login's session for the user, as tests/support/web.py:login_as writes it."""
    from portal.extensions import db
    from portal.models import User

    with app.app_context():
        user_id = db.session.scalar(db.select(User.id).where(User.email == email))
    with app.test_request_context(environ_base=client.environ_base):
        identifier = app.login_manager._session_identifier_generator()
    with client.session_transaction() as session:
        session.update({"_user_id": str(user_id), "_fresh": True, "_id": identifier})
        session.permanent = True


def _client(url: str):
    app = make_app(url)
    client = app.test_client()
    sign_in(app, client, STAFF)
    page = client.get("/receivables/imports")
    assert page.status_code == 200, page.status_code
    return client, CSRF.search(page.get_data(as_text=True)).group(1)


def _profiled(profile: bool, call):
    """call() under cProfile when asked (the statistics go to standard error)."""
    if not profile:
        return call()
    profiler = cProfile.Profile()
    answer = profiler.runcall(call)
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(45)
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(30)
    return answer


def web_preview(url: str, path: Path, profile: bool) -> dict:
    """The upload form posted with the file: the preview request, as a browser sends it."""
    client, token = _client(url)
    before = memory()["VmRSS"]
    reset_peak()
    with path.open("rb") as upload:
        began = time.perf_counter()
        answer = _profiled(profile, lambda: client.post(
            "/receivables/imports", data={"csrf_token": token, "account_iban": "", "file": (upload, path.name)},
            content_type="multipart/form-data"))
        seconds = time.perf_counter() - began
    shown = answer.get_data(as_text=True)
    assert answer.status_code == 200, (answer.status_code, shown[:2000])
    counts = {name: int(re.search(rf'id="count-{name}">(\d+)<', shown).group(1))
              for name in ("payment", "duplicate", "skipped", "error")}
    return {"seconds": seconds, "counts": counts, "confirm": CONFIRM.search(shown).group(1),
            "sha256": SHA.search(shown).group(1), "rss_before_kb": before, "peak_kb": memory()["VmHWM"]}


def web_confirm(url: str, action: str, sha256: str, profile: bool) -> dict:
    """The preview page's Import button: the confirm request, in a process of its own (another web worker)."""
    client, token = _client(url)
    before = memory()["VmRSS"]
    reset_peak()
    began = time.perf_counter()
    done = _profiled(profile, lambda: client.post(action, data={"csrf_token": token, "sha256": sha256}))
    seconds = time.perf_counter() - began
    assert done.status_code == 302, (done.status_code, done.get_data(as_text=True)[:2000])
    with client.session_transaction() as session:
        flashes = [message for _, message in session.get("_flashes", [])]
    return {"seconds": seconds, "flash": flashes, "rss_before_kb": before, "peak_kb": memory()["VmHWM"]}


def _credit_row(account: str, item, ns: dict, now: datetime):
    """The payment columns of each booked credit transaction of one entry."""
    if item.findtext("c:CdtDbtInd", namespaces=ns) != "CRDT" or item.findtext("c:Sts", namespaces=ns) != "BOOK":
        return
    day = date.fromisoformat(item.findtext("c:ValDt/c:Dt", namespaces=ns))
    amount = item.findtext("c:Amt", namespaces=ns)
    reference = item.findtext("c:AcctSvcrRef", default="", namespaces=ns)
    for tx in item.iterfind("c:NtryDtls/c:TxDtls", ns):
        value = tx.findtext("c:AmtDtls/c:TxAmt/c:Amt", default=amount, namespaces=ns)
        text = tx.findtext("c:RmtInf/c:Ustrd", default="", namespaces=ns)
        fingerprint = hashlib.sha256(f"{account}|{value}|EUR|{day}|{text.lower()}".encode()).hexdigest()
        yield (Decimal(value), "EUR", day, "bank_transfer",
               tx.findtext("c:Refs/c:AcctSvcrRef", default=reference, namespaces=ns), account,
               tx.findtext("c:RltdPties/c:Dbtr/c:Nm", default="", namespaces=ns),
               tx.findtext("c:RltdPties/c:DbtrAcct/c:Id/c:IBAN", default="", namespaces=ns), text, fingerprint, "",
               Decimal(0), Decimal(0), "bench-floor", now, "")


def _credits(path: Path, streaming: bool):
    """Every booked credit of the file as payment columns: from the whole tree (etree.fromstring, as
    portal.integrations.camt053 reads), or streamed (iterparse, each entry dropped once read)."""
    from lxml import etree

    ns, now = {"c": NS}, datetime(2026, 12, 3, 6, 0)
    options = {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False}
    if not streaming:
        root = etree.fromstring(path.read_bytes(), parser=etree.XMLParser(**options))
        for statement in root.iterfind("c:BkToCstmrStmt/c:Stmt", ns):
            account = statement.findtext("c:Acct/c:Id/c:IBAN", namespaces=ns)
            for item in statement.iterfind("c:Ntry", ns):
                yield from _credit_row(account, item, ns, now)
        return
    account = ""
    for _, element in etree.iterparse(str(path), events=("end",), tag=(f"{{{NS}}}Acct", f"{{{NS}}}Ntry"), **options):
        if element.tag.endswith("Acct"):
            account = element.findtext("c:Id/c:IBAN", namespaces=ns)
            continue
        yield from _credit_row(account, element, ns, now)
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]


def floor_import(url: str, path: Path, streaming: bool) -> dict:
    """The least an import does: read each credit's fields and COPY them into payments (rolled back)."""
    libpq = url.replace("postgresql+psycopg://", "postgresql://", 1)
    before = memory()["VmRSS"]
    reset_peak()
    began, count = time.perf_counter(), 0
    with psycopg.connect(libpq) as conn, conn.cursor() as cursor:
        with cursor.copy("COPY payments (amount, currency, value_date, method, bank_reference, account_iban,"
                         " payer_name, payer_iban, text, fingerprint, matched_by, allocated_total, refunded_total,"
                         " created_by, created_at, fx_source) FROM STDIN") as copy:
            for row in _credits(path, streaming):
                copy.write_row(row)
                count += 1
        seconds = time.perf_counter() - began
        conn.rollback()
    return {"seconds": seconds, "payments": count, "rss_before_kb": before, "peak_kb": memory()["VmHWM"]}


PAYMENT_COLUMNS = ("id", "amount", "currency", "value_date", "method", "bank_reference", "account_iban", "payer_name",
                   "payer_iban", "text", "fingerprint", "matched_by", "allocated_total", "refunded_total",
                   "created_by", "created_at", "fx_source", "customer_id", "base_amount", "fx_rate", "fx_rate_date")
AUDIT_COLUMNS = ("occurred_at", "actor", "ip", "action", "entity_type", "entity_id", "summary", "changes")
LEDGER_COLUMNS = ("customer_id", "currency", "entry_date", "kind", "reference", "narration", "products", "debit",
                  "credit", "base_currency", "base_debit", "base_credit", "fx_rate", "balance_after", "payment_id",
                  "posted_by", "posted_at", "previous_hash", "entry_hash")


def full_floor_import(url: str, path: Path) -> dict:
    """The least an import with the web import's outputs does: the streamed parse, then per chunk of 2,000 credits
    one COPY each into payments (converted at the day's rate, payer found by IBAN in a dictionary), audit_events
    (the create event with the columns as JSON) and ledger_entries (balance and hash chained with
    posting.entry_hash), and the balances updated; rolled back. No duplicate check, name or number matching."""
    from types import SimpleNamespace

    from portal.services.receivables.posting import entry_hash

    libpq = url.replace("postgresql+psycopg://", "postgresql://", 1)
    before = memory()["VmRSS"]
    reset_peak()
    began, count, zero, cent = time.perf_counter(), 0, Decimal("0.00"), Decimal("0.01")
    with psycopg.connect(libpq) as conn:
        payers = dict(conn.execute("SELECT iban, customer_id FROM customer_bank_accounts").fetchall())
        rates = dict(conn.execute("SELECT rate_date, rate FROM exchange_rates WHERE currency = 'EUR'").fetchall())
        balances = {row[0]: list(row[1:]) for row in conn.execute(
            "SELECT customer_id, balance, base_balance, entries, last_hash FROM customer_balances"
            " WHERE currency = 'EUR'")}
        next_id = conn.execute("SELECT coalesce(max(id), 0) FROM payments").fetchone()[0]
        chunk: list[tuple] = []

        def flush() -> None:
            payments, audits, entries = [], [], []
            for row in chunk:
                (pid, amount, _, day, _, reference, _, name, iban, text, *_, now, _) = row[:17]
                customer = payers.get(iban)
                rate = rates[max(d for d in (day, day - timedelta(1), day - timedelta(2), day - timedelta(3))
                                 if d in rates)]
                base = (amount * rate).quantize(cent)
                payments.append((*row, customer, base, rate, day))
                changes = {name: [None, str(value)] for name, value in zip(PAYMENT_COLUMNS[1:], row[1:], strict=False)}
                audits.append((now, "bench", "", "create", "Payment", str(pid), f"payment {pid} ({amount} EUR, {day})",
                               json.dumps(changes)))
                if customer is not None:
                    state = balances.setdefault(customer, [zero, zero, 0, "0" * 64])
                    entry = SimpleNamespace(
                        previous_hash=state[3], customer_id=customer, currency="EUR", entry_date=day, kind="payment",
                        reference=f"PAY-{pid}", debit=zero, credit=amount, base_currency="USD", base_debit=zero,
                        base_credit=base, fx_rate=rate, balance_after=state[0] - amount, document_id=None,
                        payment_id=pid, refund_id=None, adjustment_id=None)
                    digest = entry_hash(entry)
                    entries.append((customer, "EUR", day, "payment", f"PAY-{pid}", f"{name} {reference} {text}", "",
                                    zero, amount, "USD", zero, base, rate, entry.balance_after, pid, "bench", now,
                                    state[3], digest))
                    state[:] = [entry.balance_after, state[1] - base, state[2] + 1, digest]
            with conn.cursor() as cursor:
                for table, columns, rows in (("payments", PAYMENT_COLUMNS, payments),
                                             ("audit_events", AUDIT_COLUMNS, audits),
                                             ("ledger_entries", LEDGER_COLUMNS, entries)):
                    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for values in rows:
                            copy.write_row(values)
            chunk.clear()

        for row in _credits(path, streaming=True):
            next_id += 1
            count += 1
            chunk.append((next_id, *row))
            if len(chunk) >= 2000:
                flush()
        flush()
        conn.execute("UPDATE customer_balances SET balance = v.balance, base_balance = v.base_balance, entries ="
                     " v.entries, last_hash = v.last_hash FROM (SELECT unnest(%s::int[]) AS customer_id, unnest("
                     "%s::numeric[]) AS balance, unnest(%s::numeric[]) AS base_balance, unnest(%s::int[]) AS entries,"
                     " unnest(%s::text[]) AS last_hash) v WHERE customer_balances.customer_id = v.customer_id AND"
                     " customer_balances.currency = 'EUR'",
                     [list(balances), *([state[i] for state in balances.values()] for i in range(4))])
        seconds = time.perf_counter() - began
        conn.rollback()
    return {"seconds": seconds, "payments": count, "rss_before_kb": before, "peak_kb": memory()["VmHWM"]}


def run_child(kind: str, url: str, *extra: str, profile: bool = False) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--database", url, *extra]
    if profile:
        command.append("--profile-child")
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"--child {kind} failed:\n{done.stderr[-4000:]}")
    if profile:
        print(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- the run -----------------------------------------------------------------------------------------------------


def prepare(url: str) -> None:
    """The accountant who imports."""
    from portal.extensions import db
    from portal.services.identity import auth, users

    with make_app(url).app_context():
        if auth.find_user(STAFF) is None:
            users.create_user(STAFF, "bench-password-1", ["accountant"], with_authenticator=False)
        db.session.commit()


def written(url: str, import_id: int | None = None) -> dict:
    libpq = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(libpq) as conn:
        found = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                 for table in ("payments", "ledger_entries", "audit_events")}
        found["unidentified payments"] = conn.execute("SELECT count(*) FROM payments WHERE customer_id IS NULL"
                                                      ).fetchone()[0]
        found["pending files"] = conn.execute("SELECT count(*) FROM pending_bank_files").fetchone()[0]
    return found


def chains_intact(url: str) -> tuple[list[int], bool]:
    """posting.verify_chain for the big customer and the first two other customers the import paid."""
    from portal.extensions import db
    from portal.models import Payment
    from portal.services.receivables import posting

    with make_app(url).app_context():
        paid = db.session.scalars(db.select(Payment.customer_id).where(Payment.customer_id > 1)
                                  .group_by(Payment.customer_id).order_by(Payment.customer_id).limit(2)).all()
        customers = [1, *paid]
        return customers, all(posting.verify_chain(customer_id, "EUR").intact for customer_id in customers)


def mb(kb: int) -> str:
    return f"{kb / 1024:.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=100_000)
    parser.add_argument("--profile", choices=("preview", "confirm"), help="profile that request (cProfile)")
    parser.add_argument("--keep-file", type=Path, help="also write the generated camt.053 file here")
    parser.add_argument("--child", choices=("preview", "confirm", "floor", "floor-streaming", "floor-full"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--args", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--profile-child", action="store_true", help=argparse.SUPPRESS)
    add_arguments(parser)
    args = parser.parse_args()
    if args.child:
        if args.child == "preview":
            found = web_preview(args.database, Path(args.args[0]), args.profile_child)
        elif args.child == "confirm":
            found = web_confirm(args.database, args.args[0], args.args[1], args.profile_child)
        elif args.child == "floor-full":
            found = full_floor_import(args.database, Path(args.args[0]))
        else:
            found = floor_import(args.database, Path(args.args[0]), args.child == "floor-streaming")
        print(json.dumps(found))
        return
    with loaded_database(args.database) as loaded, tempfile.TemporaryDirectory() as folder:
        prepare(loaded.url)
        salt = f"{random.SystemRandom().getrandbits(24):06X}"
        began = time.perf_counter()
        with psycopg.connect(loaded.libpq) as conn:
            content, counts = camt_file(conn, args.transactions, salt)
        path = Path(folder) / f"camt053-{args.transactions}.xml"
        path.write_bytes(content)
        if args.keep_file:
            args.keep_file.write_bytes(content)
        print(f"camt.053.001.02 file: {len(content) / 1e6:.1f} MB ({len(content) / 2**20:.1f} MiB; the upload limit is"
              f" 50 MiB), {counts}, generated in {time.perf_counter() - began:.1f} s")
        del content
        floors = {}
        what = {"floor": "lxml fromstring + COPY into payments",
                "floor-streaming": "lxml iterparse + COPY into payments",
                "floor-full": "iterparse + COPY into payments, audit_events, ledger_entries"}
        for kind in ("floor", "floor-streaming", "floor-full"):
            load = load_average()
            floors[kind] = found = run_child(kind, loaded.url, "--args", str(path))
            print(f"{kind:15} ({what[kind]}, {found['payments']:,} payments, rolled back): {found['seconds']:5.1f} s, "
                  f"{found['payments'] / found['seconds']:6,.0f} payments/s, peak RSS {mb(found['peak_kb'])} "
                  f"(from {mb(found['rss_before_kb'])}); load average {load}")
        before = written(loaded.url)
        load = load_average()
        preview = run_child("preview", loaded.url, "--args", str(path), profile=args.profile == "preview")
        print(f"web preview request (upload, preview, page; load average {load}): {preview['seconds']:.1f} s, "
              f"{preview['counts']}, peak RSS {mb(preview['peak_kb'])} (from {mb(preview['rss_before_kb'])})")
        load = load_average()
        confirm = run_child("confirm", loaded.url, "--args", preview["confirm"], preview["sha256"],
                            profile=args.profile == "confirm")
        print(f"web confirm request (import, commit; load average {load}): {confirm['seconds']:.1f} s, "
              f"{confirm['flash']}, peak RSS {mb(confirm['peak_kb'])} (from {mb(confirm['rss_before_kb'])})")
        after = written(loaded.url)
        made = {key: after[key] - before[key] for key in after}
        payments = made["payments"]
        total = preview["seconds"] + confirm["seconds"]
        rate, overall, peak = payments / confirm["seconds"], payments / total, max(preview["peak_kb"],
                                                                                   confirm["peak_kb"])
        print(f"  written: {made}")
        print(f"  payments/s: confirm request {rate:,.0f}, preview + confirm {overall:,.0f} (floors: " + ", ".join(
            f"{kind} {found['payments'] / found['seconds']:,.0f}" for kind, found in floors.items()) + ")")
        print(f"  target ≥ 5,000 payments/s: confirm request {'met' if rate >= 5000 else 'NOT met'}, preview + "
              f"confirm {'met' if overall >= 5000 else 'NOT met'}; peak RSS < 300 MB: "
              f"{'met' if peak / 1024 < 300 else 'NOT met'} ({mb(peak)}); load average now {load_average()}")
        customers, intact = chains_intact(loaded.url)
        print(f"  EUR hash chains of customers {customers} verify after the import: {intact}")


if __name__ == "__main__":
    main()
