"""Shared by the receivables benchmarks: a scratch PostgreSQL database migrated with the app's migrations
(`flask db upgrade`) and loaded with a receivables book of realistic size.

    .venv/bin/python bench/receivables_load.py            # load a scratch database, print what it holds, drop it
    .venv/bin/python bench/receivables_load.py --keep     # ... and keep it: prints its URL for --database
    .venv/bin/python bench/receivables_load.py --drop URL # drop a kept one

What is loaded (fixed seed, so every run loads the same rows):
- 10,000 customers (70 % EUR, 20 % USD, 10 % GBP; base currency USD), each with one account it pays from (IBAN);
  customer 1 ("the big customer", EUR) has three;
- daily EUR and GBP exchange rates over the two years;
- 1,000,000 ledger entries over two years (2024-12-01 to 2026-11-30). The big customer has 100,000 of them in
  the benchmark year (2025-12-01 to 2026-11-30) and 20,000 in the year before (its opening balance); the other
  880,000 are spread over the other 9,999 customers, unevenly. Entries are interleaved by date across
  customers, as postings arrive, so one customer's rows are scattered over the table;
- 145,000 receivable documents: 100,000 open invoices (issued, overdue, partially paid; 2,000 of them the big
  customer's), 40,000 paid, 2,000 cancelled invoices and 3,000 credit notes. No document lines or files.

THE ROWS ARE INSERTED DIRECTLY (psycopg COPY), NOT THROUGH THE SERVICES: issuing an invoice through
receivables.invoicing renders its PDF and UBL (about 2 s each), which would take days at this size. No audit
events are written for them, and the ledger entries are not linked to the documents or payments (document_id and
payment_id are empty). The ledger columns still hold what posting.post would write: each entry's balance_after is
the running balance of its customer and currency, its base amounts are converted at the day's rate, and
previous_hash/entry_hash are computed with posting.entry_hash in id order, so the chains verify
(posting.verify_chain: this script checks customer 2, bench_camt_import.py customers 1 to 3 after its import), and
each customer_balances row holds the final balance, count and last hash. The readers under benchmark therefore read
rows of the real shape and width.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from common import make_app, scratch_database
from sqlalchemy.engine import make_url

SEED = 11  # issue 11
CUSTOMERS = 10_000
ENTRIES = 1_000_000
BIG_CUSTOMER = 1
BIG_YEAR_ENTRIES = 100_000
BIG_EARLIER_ENTRIES = 20_000
OPEN_INVOICES = 100_000
BIG_OPEN_INVOICES = 2_000
PAID_INVOICES = 40_000
CANCELLED_INVOICES = 2_000
CREDIT_NOTES = 3_000
FIRST_DAY = date(2024, 12, 1)
YEAR_START, YEAR_END = date(2025, 12, 1), date(2026, 11, 30)  # the benchmark year: the big customer's 100,000
TODAY = date(2026, 12, 3)  # due dates before it are overdue
BASE = "USD"
OUR_ACCOUNT = "DE89370400440532013000"  # the account the bank statements are of
LOADED_BY = "bench-loader"
CENT = Decimal("0.01")

FIRST_WORDS = ("Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne", "Soylent",
               "Hooli", "Vandelay", "Kramerica", "Dunder", "Sterling", "Prestige", "Oceanic", "Gringotts", "Monarch",
               "Nakatomi", "Zorg", "Aperture", "Black Mesa", "Virtucon", "Weyland", "Massive", "Pied Piper",
               "Bluth", "Duff", "Gekko", "Krusty", "Lacuna", "Oscorp", "Rekall", "Spacely", "Cogswell", "Yoyodyne",
               "Omni", "Sirius", "Wolfram")
SECOND_WORDS = ("Logistics", "Holding", "Systems", "Industries", "Foods", "Energy", "Media", "Retail", "Pharma",
                "Robotics", "Capital", "Textiles", "Motors", "Software", "Analytics", "Consulting", "Shipping",
                "Chemicals", "Optics", "Aviation", "Mining", "Records", "Studios", "Hotels", "Farms", "Labs",
                "Networks", "Security", "Telecom", "Design", "Trading", "Foundry", "Outfitters", "Biotech",
                "Dynamics", "Ventures", "Partners", "Brewing", "Marine", "Kitchens")
PLACES = ("Berlin", "Hamburg", "Munich", "Vienna", "Zurich", "London", "Paris", "Madrid")
LEGAL = ("GmbH", "AG", "Ltd", "SA", "BV", "GmbH & Co. KG", "SE", "Oy")
PRODUCTS = ("Managed servers", "Backup", "Monitoring 24/7", "Service desk", "Network support", "Cloud hosting",
            "Licences", "On-site support", "Security audit", "Database care", "Storage", "Onboarding")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
FLAT_FEES = tuple(Decimal(value) for value in ("119.00", "238.00", "357.00", "595.00", "1190.00", "1785.00",
                                               "2380.00", "4760.00", "5950.00", "11900.00"))


@dataclass(frozen=True)
class Loaded:
    url: str  # SQLAlchemy URL (postgresql+psycopg://...)
    big_customer_id: int
    big_customer_code: str
    year_start: date
    year_end: date
    seconds: float

    @property
    def libpq(self) -> str:
        """The same database as a plain libpq URL, for psycopg."""
        return self.url.replace("postgresql+psycopg://", "postgresql://", 1)


def customer_code(customer_id: int) -> str:
    return f"C{customer_id:05d}"


def customer_name(customer_id: int) -> str:
    """Unique even after matching.normal_name drops the legal form (10,000 of 12,800 three-part names)."""
    index = customer_id - 1
    first, second = FIRST_WORDS[index % 40], SECOND_WORDS[(index // 40) % 40]
    return f"{first} {second} {PLACES[index // 1600]} {LEGAL[index % 8]}"


def customer_currency(customer_id: int) -> str:
    if customer_id == BIG_CUSTOMER:
        return "EUR"
    slot = customer_id % 10
    return "EUR" if slot < 7 else "USD" if slot < 9 else "GBP"


def customer_iban(customer_id: int, account: int = 0) -> str:
    """A German IBAN with correct check digits, one per customer (and account number)."""
    bban = f"{10020000 + customer_id % 500:08d}{customer_id * 10 + account:010d}"
    digits = int(bban + "131400")  # D=13, E=14, then "00"
    return f"DE{98 - digits % 97:02d}{bban}"


def money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(n) for n in range((last - first).days + 1)]


def rates_by_day() -> dict[str, dict[date, Decimal]]:
    """EUR and GBP in USD, one rate a day, drifting smoothly: what the base amounts are converted with."""
    table: dict[str, dict[date, Decimal]] = {"EUR": {}, "GBP": {}}
    for n, day in enumerate(days(FIRST_DAY - timedelta(10), TODAY + timedelta(10))):
        wave = Decimal((n * 7919) % 1000) / Decimal(100_000)  # 0 .. 0.00999
        table["EUR"][day] = (Decimal("1.04") + Decimal(n % 400) / Decimal(5000) + wave).quantize(Decimal("1e-8"))
        table["GBP"][day] = (Decimal("1.22") + Decimal(n % 300) / Decimal(3000) + wave).quantize(Decimal("1e-8"))
    return table


def rate_on(rates, currency: str, day: date) -> Decimal:
    return Decimal(1) if currency == BASE else rates[currency][day]


# ---- the rows ----------------------------------------------------------------------------------------------------


def customer_rows() -> Iterator[tuple]:
    created = datetime(2024, 11, 1, 9, 0)
    for cid in range(1, CUSTOMERS + 1):
        name = "Northwind Traders GmbH" if cid == BIG_CUSTOMER else customer_name(cid)
        yield (cid, customer_code(cid), name, "", customer_currency(cid), f"Street {cid}", PLACES[cid % 8],
               f"{10000 + cid}", "DE", True, "", created)


def bank_account_rows() -> Iterator[tuple]:
    row_id = 0
    for cid in range(1, CUSTOMERS + 1):
        for account in range(3 if cid == BIG_CUSTOMER else 1):
            row_id += 1
            yield (row_id, cid, customer_iban(cid, account), "", "")


def rate_rows(rates) -> Iterator[tuple]:
    row_id = 0
    for currency, table in rates.items():
        for day, rate in table.items():
            row_id += 1
            yield (row_id, currency, day, rate, "ecb", datetime.combine(day, datetime.min.time()))


def document_rows(rng: random.Random, rates) -> Iterator[tuple]:
    """Open invoices first (ids 1..100,000), then paid and cancelled invoices and credit notes."""
    serial = {2025: 0, 2026: 0}
    others = list(range(2, CUSTOMERS + 1))
    weights = [1 + (cid % 7) ** 2 for cid in others]  # some customers have many open invoices, most a few
    plan = ([("open", BIG_CUSTOMER)] * BIG_OPEN_INVOICES
            + [("open", cid) for cid in rng.choices(others, weights, k=OPEN_INVOICES - BIG_OPEN_INVOICES)])
    rng.shuffle(plan)
    plan += [("paid", cid) for cid in rng.choices(others, k=PAID_INVOICES)]
    plan += [("cancelled", cid) for cid in rng.choices(others, k=CANCELLED_INVOICES)]
    plan += [("credit", cid) for cid in rng.choices(others, k=CREDIT_NOTES)]
    for doc_id, (what, cid) in enumerate(plan, start=1):
        if what == "open":
            state = rng.choices(("issued", "overdue", "partially_paid"), (55, 35, 10))[0]
            due = (TODAY + timedelta(rng.randrange(1, 31)) if state == "issued"
                   else TODAY - timedelta(rng.randrange(1, 240)))
        else:
            state = {"paid": "paid", "cancelled": "cancelled", "credit": "issued"}[what]
            due = TODAY - timedelta(rng.randrange(1, 700))
        issued = due - timedelta(30)
        kind, prefix = ("credit_note", "CN") if what == "credit" else ("invoice", "INV")
        serial[issued.year] = serial.get(issued.year, 0) + 1
        if rng.random() < 0.3:
            gross = rng.choice(FLAT_FEES)
            net = (gross / Decimal("1.19")).quantize(CENT, ROUND_HALF_UP)
        else:
            net = money(rng.randrange(2_000, 2_500_000))
        tax = (net * Decimal("0.19")).quantize(CENT, ROUND_HALF_UP) if rng.random() < 0.9 else Decimal("0.00")
        gross = net + tax
        allocated = Decimal("0.00")
        if state == "partially_paid":
            allocated = (gross * Decimal(rng.randrange(10, 90)) / 100).quantize(CENT, ROUND_HALF_UP)
        elif state == "paid":
            allocated = gross
        currency = customer_currency(cid)
        rate = rate_on(rates, currency, issued)
        issued_at = datetime.combine(issued, datetime.min.time()) + timedelta(hours=10)
        number = f"{prefix}-{issued.year}-{serial[issued.year]:06d}"
        yield (doc_id, kind, number, cid, state, currency, issued, due, net, tax, gross, allocated, Decimal("0.00"),
               Decimal("0.00"), Decimal("0.00"), "standard", f"PO {cid}", "", "", "", LOADED_BY, issued_at,
               LOADED_BY, issued_at, (gross * rate).quantize(CENT, ROUND_HALF_UP), rate, issued,
               "identity" if currency == BASE else "ecb")


def ledger_plan(rng: random.Random) -> list[list[int]]:
    """For each day of the two years, the customers with an entry that day (one item per entry)."""
    calendar = days(FIRST_DAY, YEAR_END)
    per_day: list[list[int]] = [[] for _ in calendar]
    earlier, year = (YEAR_START - FIRST_DAY).days, (YEAR_END - YEAR_START).days + 1
    for _ in range(BIG_EARLIER_ENTRIES):
        per_day[rng.randrange(earlier)].append(BIG_CUSTOMER)
    for _ in range(BIG_YEAR_ENTRIES):
        per_day[earlier + rng.randrange(year)].append(BIG_CUSTOMER)
    others = list(range(2, CUSTOMERS + 1))
    weights = [1 + (cid * 37 % 11) for cid in others]  # 1 to 11: from ~16 to ~180 entries each
    rest = ENTRIES - BIG_EARLIER_ENTRIES - BIG_YEAR_ENTRIES
    for cid, day in zip(rng.choices(others, weights, k=rest), rng.choices(range(len(calendar)), k=rest),
                        strict=True):
        per_day[day].append(cid)
    for items in per_day:
        rng.shuffle(items)
    return per_day


def ledger_rows(rng: random.Random, rates, state: dict) -> Iterator[tuple]:
    """The entries in id order, each chained to the previous one of its customer and currency (posting.entry_hash);
    `state` ends holding each (customer, currency)'s [balance, base balance, entries, last hash]."""
    from portal.models.ledger import GENESIS
    from portal.services.receivables.posting import entry_hash

    kinds = ("invoice", "payment", "credit_note", "due_note", "adjustment")
    kind_weights = (48, 45, 3, 2, 2)
    entry_id, payment_no = 0, 0
    zero = Decimal("0.00")
    for offset, items in enumerate(ledger_plan(rng)):
        day = FIRST_DAY + timedelta(offset)
        posted = datetime.combine(day, datetime.min.time()) + timedelta(hours=17)
        month = MONTHS[day.month - 1]
        for cid in items:
            entry_id += 1
            currency = customer_currency(cid)
            kind = rng.choices(kinds, kind_weights)[0]
            amount = rng.choice(FLAT_FEES) if rng.random() < 0.3 else money(rng.randrange(2_000, 2_500_000))
            serial = rng.randrange(1, 999_999)
            if kind == "invoice":
                reference = f"INV-{day.year}-{serial:06d}"
                narration = f"Services {month} {day.year}, contract K-{cid:05d}-{serial % 7 + 1}"
                products = "; ".join(rng.sample(PRODUCTS, rng.randrange(1, 4)))
                side = "debit"
            elif kind == "payment":
                payment_no += 1
                reference = f"PAY-{payment_no}"
                narration = (f"{customer_name(cid)} {day:%Y%m%d}{entry_id:08d} INV-{day.year}-{serial:06d} "
                             f"{month} invoice")
                products, side = "", "credit"
            elif kind == "credit_note":
                reference = f"CN-{day.year}-{serial:06d}"
                narration = f"Credit for INV-{day.year}-{serial:06d}: service level missed"
                products, side = "", "credit"
            elif kind == "due_note":
                reference = f"DN-{day.year}-{serial:06d}"
                narration, products, side = f"Late payment interest {month}", "", "debit"
            else:
                reference = f"ADJ-{entry_id}"
                side = "debit" if rng.random() < 0.5 else "credit"
                narration, products = "Rounding difference written off by finance", ""
            rate = rate_on(rates, currency, day)
            base = (amount * rate).quantize(CENT, ROUND_HALF_UP)
            debit, credit = (amount, zero) if side == "debit" else (zero, amount)
            base_debit, base_credit = (base, zero) if side == "debit" else (zero, base)
            key = (cid, currency)
            running = state.get(key) or [zero, zero, 0, GENESIS]
            balance = running[0] + debit - credit
            row = SimpleNamespace(previous_hash=running[3], customer_id=cid, currency=currency, entry_date=day,
                                  kind=kind, reference=reference, debit=debit, credit=credit, base_currency=BASE,
                                  base_debit=base_debit, base_credit=base_credit, fx_rate=rate, balance_after=balance,
                                  document_id=None, payment_id=None, refund_id=None, adjustment_id=None)
            digest = entry_hash(row)
            state[key] = [balance, running[1] + base_debit - base_credit, running[2] + 1, digest]
            yield (entry_id, cid, currency, day, kind, reference, narration, products, debit, credit, BASE,
                   base_debit, base_credit, rate, balance, LOADED_BY, posted, running[3], digest)


# ---- loading -----------------------------------------------------------------------------------------------------

TABLES = {
    "customers": ("id", "code", "name", "vat_id", "currency", "billing_street", "billing_city", "billing_postcode",
                  "billing_country", "active", "notes", "created_at"),
    "customer_bank_accounts": ("id", "customer_id", "iban", "bic", "holder"),
    "exchange_rates": ("id", "currency", "rate_date", "rate", "source", "created_at"),
    "receivable_documents": (
        "id", "kind", "number", "customer_id", "state", "currency", "issue_date", "due_date", "net_total",
        "tax_total", "gross_total", "allocated_total", "credited_total", "applied_total", "refunded_total",
        "tax_rule", "buyer_reference", "purchase_order_number", "reason", "notes", "created_by", "created_at",
        "issued_by", "issued_at", "base_amount", "fx_rate", "fx_rate_date", "fx_source"),
    "ledger_entries": ("id", "customer_id", "currency", "entry_date", "kind", "reference", "narration", "products",
                       "debit", "credit", "base_currency", "base_debit", "base_credit", "fx_rate", "balance_after",
                       "posted_by", "posted_at", "previous_hash", "entry_hash"),
    "customer_balances": ("customer_id", "currency", "balance", "base_balance", "entries", "last_hash",
                          "updated_at"),
}


def _copy(conn, table: str, rows) -> int:
    count = 0
    with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(TABLES[table])}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                 if "id" in TABLES[table] else "SELECT 1")
    return count


def migrate(url: str) -> None:
    """The app's migrations, as `flask db upgrade` runs them."""
    from flask_migrate import upgrade

    with make_app(url).app_context():
        upgrade()


def load(url: str, *, verbose: bool = True) -> Loaded:
    """Migrate the (empty) database at `url` and load the book described in the module's docstring."""
    started = time.perf_counter()
    migrate(url)
    rng = random.Random(SEED)
    rates = rates_by_day()
    libpq = url.replace("postgresql+psycopg://", "postgresql://", 1)
    state: dict = {}
    with psycopg.connect(libpq) as conn:
        for table, rows in (("customers", customer_rows()), ("customer_bank_accounts", bank_account_rows()),
                            ("exchange_rates", rate_rows(rates)),
                            ("receivable_documents", document_rows(rng, rates)),
                            ("ledger_entries", ledger_rows(rng, rates, state))):
            step = time.perf_counter()
            count = _copy(conn, table, rows)
            if verbose:
                print(f"  loaded {count:>9,} {table} in {time.perf_counter() - step:5.1f} s", flush=True)
        now = datetime(2026, 11, 30, 18, 0)
        _copy(conn, "customer_balances", ((cid, currency, *figures, now)
                                          for (cid, currency), figures in sorted(state.items())))
        conn.commit()
    step = time.perf_counter()
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # what autovacuum would have done to a table that grew over two years
    seconds = time.perf_counter() - started
    if verbose:
        print(f"  VACUUM ANALYZE in {time.perf_counter() - step:.1f} s; loaded in {seconds:.0f} s", flush=True)
    return Loaded(url, BIG_CUSTOMER, customer_code(BIG_CUSTOMER), YEAR_START, YEAR_END, seconds)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", default=None, metavar="URL",
                        help="a database already loaded by `bench/receivables_load.py --keep` (default: a scratch "
                             "database loaded now and dropped at the end)")


@contextmanager
def loaded_database(database: str | None = None, *, verbose: bool = True):
    """A loaded database: the one given (already loaded), or a scratch one loaded now and dropped afterwards."""
    if database:
        yield Loaded(database, BIG_CUSTOMER, customer_code(BIG_CUSTOMER), YEAR_START, YEAR_END, 0.0)
        return
    with scratch_database() as url:
        if verbose:
            print(f"loading a scratch database ({make_url(url).database}):", flush=True)
        yield load(url, verbose=verbose)


def summary(loaded: Loaded) -> dict:
    with psycopg.connect(loaded.libpq) as conn:
        counted = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                   for table in ("customers", "customer_bank_accounts", "ledger_entries", "customer_balances")}
        counted["open invoices"] = conn.execute(
            "SELECT count(*) FROM receivable_documents WHERE kind = 'invoice'"
            " AND state IN ('issued', 'partially_paid', 'overdue')").fetchone()[0]
        counted["big customer's entries in the year"] = conn.execute(
            "SELECT count(*) FROM ledger_entries WHERE customer_id = %s AND entry_date BETWEEN %s AND %s",
            [loaded.big_customer_id, loaded.year_start, loaded.year_end]).fetchone()[0]
        counted["database size"] = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))"
                                                ).fetchone()[0]
    return counted


def check_chain(loaded: Loaded, customer_id: int) -> bool:
    """posting.verify_chain over one customer's loaded entries: the loader's hashes are the service's."""
    from portal.services.receivables import posting

    with make_app(loaded.url).app_context():
        return posting.verify_chain(customer_id, customer_currency(customer_id)).intact


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep the loaded database and print its URL")
    parser.add_argument("--drop", metavar="URL", help="drop a database kept by --keep")
    args = parser.parse_args()
    if args.drop:
        name = make_url(args.drop).database
        if not name.startswith("ledgerflow_bench_"):
            raise SystemExit(f"{name}: not a benchmark database")
        admin = make_url(args.drop).set(drivername="postgresql", database="postgres")
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(f"dropped {name}")
        return
    if args.keep:
        from common import POSTGRES

        name = f"ledgerflow_bench_{random.SystemRandom().getrandbits(32):08x}"
        base = make_url(POSTGRES)
        with psycopg.connect(base.set(drivername="postgresql").render_as_string(hide_password=False),
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = base.set(database=name).render_as_string(hide_password=False)
        loaded = load(url)
        print(summary(loaded), f"chain of customer 2 intact: {check_chain(loaded, 2)}")
        print(f"kept: --database {url}")
        return
    with loaded_database() as loaded:
        print(summary(loaded), f"chain of customer 2 intact: {check_chain(loaded, 2)}")


if __name__ == "__main__":
    main()
