"""Bank files (CSV, XLSX, camt.053, MT940) into payments: a preview of every row first (payment, duplicate, skipped,
error), then one transaction that records the valid rows and the import; the same file twice creates nothing.

Built for files of 100,000 transactions: the file is worked through in chunks of CHUNK rows, each chunk's recorded
duplicates, payers and exchange rates read in a few queries, and its payments, audit events and ledger entries
inserted in bulk; confirm() keeps no more than one chunk of rows in memory.
"""

from __future__ import annotations

import gc
import hashlib
import re
import zlib
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from itertools import islice

from sqlalchemy import ARRAY, any_, bindparam, func, select, text

from portal.errors import Conflict, ValidationError
from portal.extensions import db
from portal.infra import audit
from portal.integrations import bank_tables, camt053, mt940_statements, untrusted
from portal.integrations.bank_tables import MappingError, RowError, TableMapping
from portal.integrations.bank_transactions import DEBIT, BankFileError, Transaction
from portal.models import (
    AuditEvent,
    BankImportMapping,
    Customer,
    CustomerBankAccount,
    ExchangeRate,
    Payment,
    PaymentImport,
    ReceivableDocument,
)
from portal.models.types import utcnow
from portal.money import ZERO, minor_units, quantize
from portal.services.masterdata import fx
from portal.services.masterdata.fx import Conversion
from portal.services.receivables import matching, payments, posting

FORMATS = ("csv", "xlsx", "camt053", "mt940")
TABLES = ("csv", "xlsx")
PAYMENT, DUPLICATE, SKIPPED, ERROR = "payment", "duplicate", "skipped", "error"
STATUSES = (PAYMENT, DUPLICATE, SKIPPED, ERROR)
CHUNK = 2000  # rows classified, looked up and inserted together
# One advisory lock for every confirm on PostgreSQL: two imports of overlapping files cannot both miss each other.
IMPORT_LOCK = zlib.crc32(b"ledgerflow payment import")
_DETAIL = re.compile(r"^line \d+: |, TxDtls \d+$")
_account = lru_cache(maxsize=256)(matching.compact_iban)  # a file names its few accounts on every row
# The payment columns an audit event writes as text, as the audit trail does (portal.infra.audit._plain).
_DECIMALS = {"amount", "allocated_total", "refunded_total", "base_amount", "fx_rate"}
_DATES = {"value_date", "fx_rate_date", "created_at"}


@dataclass(slots=True)
class PreviewRow:
    """One transaction of the file and what confirming would do with it."""

    number: int  # its position in the file, from 1
    where: str  # "line 7", "row 7", "line 40: Stmt 1, Ntry 3, TxDtls 2"
    status: str  # payment | duplicate | skipped | error
    reason: str  # why it is a duplicate, skipped or an error; "" for a payment
    values: dict  # what the bank says: value_date, amount, currency, payer, references, text
    entry: str = ""  # the bank entry it came from: the details of one batched entry share it
    customer_id: int | None = None
    customer: str = ""  # "CUST001 — Acme Logistics GmbH", "" while unidentified
    matched_by: str = ""
    conversion: Conversion | None = None

    @property
    def message(self) -> str:
        """Where the row is and why it is not a payment: "line 8: Haben: “150.50” is not an amount ..."."""
        return f"{self.where}: {self.reason}" if self.reason else self.where

    def as_dict(self) -> dict:
        """The row as JSON-ready values: amounts as strings, dates in ISO form."""
        shown = {key: _plain(self.values.get(key)) for key in ("value_date", "amount", "currency", "payer_name",
                                                                "payer_iban", "bank_reference", "text",
                                                                "account_iban")}
        return {"row": self.number, "where": self.where, "status": self.status, "reason": self.reason, **shown,
                "customer": self.customer, "matched_by": self.matched_by}


@dataclass
class Preview:
    """What a file holds and what confirming it would create; nothing is written until confirm."""

    filename: str
    sha256: str
    file_format: str
    account_iban: str  # the account chosen, else the file's one account ("" when it holds several)
    rows: list[PreviewRow]
    mapping: TableMapping | None = None  # the CSV/XLSX mapping read with, remembered for the account on confirm
    already_imported: PaymentImport | None = None

    @property
    def counts(self) -> dict[str, int]:
        """How many rows of each status: payment, duplicate, skipped, error."""
        found = dict.fromkeys(STATUSES, 0)
        for row in self.rows:
            found[row.status] += 1
        return found

    @property
    def unidentified(self) -> int:
        """Payments no customer was matched to: they wait in the Unidentified list."""
        return sum(1 for row in self.rows if row.status == PAYMENT and row.customer_id is None)

    def as_dict(self) -> dict:
        """The preview as JSON-ready values (the `--json` output of `flask payments import`)."""
        earlier = self.already_imported
        return {"file": self.filename, "sha256": self.sha256, "format": self.file_format,
                "account": self.account_iban, "counts": self.counts, "unidentified": self.unidentified,
                "already_imported": None if earlier is None else {
                    "import_id": earlier.id, "imported_by": earlier.imported_by,
                    "imported_at": earlier.imported_at.isoformat() if earlier.imported_at else None},
                "rows": [row.as_dict() for row in self.rows]}


def preview(content: bytes, filename: str, *, account_iban: str = "", mapping: dict | TableMapping | None = None,
            file_format: str | None = None) -> Preview:
    """Read the file and say, row by row, what confirming it would do; ValidationError names what cannot be read."""
    source = _source(content, filename, account_iban, mapping, file_format)
    seen = _Seen()
    with _bulk():
        rows = [row for part in _analysed(source, seen) for row in part]
    return Preview(source.name, source.sha256, source.kind, seen.account(source), rows, source.mapping,
                   _imported(source.sha256))


def confirm(content: bytes, filename: str, imported_by: str, *, account_iban: str = "",
            mapping: dict | TableMapping | None = None, file_format: str | None = None,
            expected_sha256: str | None = None) -> PaymentImport:
    """Import the file's valid rows in the caller's transaction and record the import, a chunk at a time; a file
    imported before creates nothing and gives back that earlier import."""
    source = _source(content, filename, account_iban, mapping, file_format)
    if expected_sha256 and expected_sha256 != source.sha256:
        raise Conflict(f"{source.name} is not the file previewed (its SHA-256 differs): preview it again")
    _lock()
    earlier = _imported(source.sha256)
    if earlier is not None:
        return earlier
    with _bulk(), db.session.begin_nested():  # a file refused half-way leaves nothing, whoever the caller is
        record = _record(source, imported_by)
        seen, writer = _Seen(writing=True), _Writer(record.id, imported_by)
        for rows in _analysed(source, seen):
            writer.write(rows)
            _count(record, rows)
        writer.close()
        record.account_iban = seen.account(source)
        _finish(record, source.mapping, imported_by)
    return record


def confirm_preview(found: Preview, imported_by: str) -> PaymentImport:
    """Write what a preview made in this same transaction shows; duplicates are checked again under the lock."""
    _lock()
    earlier = _imported(found.sha256)
    if earlier is not None:
        found.already_imported = earlier
        return earlier
    with _bulk(), db.session.begin_nested():
        for part in _chunks(iter(found.rows)):
            _recheck(part)
        record = _record(found, imported_by)
        writer = _Writer(record.id, imported_by)
        for part in _chunks(iter(found.rows)):
            writer.write(part)
            _count(record, part)
        writer.close()
        record.account_iban = found.account_iban
        _finish(record, found.mapping, imported_by)
    return record


def detect(content: bytes, name: str = "file") -> str:
    """The file's format told by its content: csv, xlsx, camt053 or mt940; ValidationError for what none is."""
    head = content[:4096]
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise _file_error(f"{name}: an Excel 97-2003 (.xls) or password-protected workbook: save it as .xlsx or CSV")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _file_error(f"{name}: line 1: UTF-16 text: save the file as UTF-8 (or Windows-1252)")
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not start:
        raise _file_error(f"{name}: the file is empty")
    if start.startswith(b"<"):
        return "camt053"
    if start.startswith(b"{1:") or re.search(rb"(?m)^:20:", head):
        return "mt940"
    return "csv"


def remembered(account_iban: str) -> TableMapping | None:
    """The column mapping remembered for our account, if any."""
    row = db.session.scalar(select(BankImportMapping).where(
        BankImportMapping.account_iban == matching.compact_iban(account_iban)))
    return None if row is None else TableMapping.from_dict(row.settings)


def remember(account_iban: str, mapping: TableMapping, updated_by: str) -> BankImportMapping:
    """Keep the mapping for the account's next files (unchanged settings are left as they are)."""
    account = matching.compact_iban(account_iban)
    row = db.session.scalar(select(BankImportMapping).where(BankImportMapping.account_iban == account))
    if row is None:
        row = BankImportMapping(account_iban=account, settings=mapping.as_dict(), updated_by=updated_by)
        db.session.add(row)
    elif row.settings != mapping.as_dict():
        row.settings, row.updated_by = mapping.as_dict(), updated_by
    db.session.flush()
    return row


# ---- the file --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """The file to read and how: its format, our account, the CSV/XLSX mapping."""

    name: str
    content: bytes
    sha256: str
    kind: str
    account: str
    mapping: TableMapping | None

    @property
    def filename(self) -> str:
        return self.name

    @property
    def file_format(self) -> str:
        return self.kind


def _source(content: bytes, filename: str, account_iban: str, mapping, file_format: str | None) -> _Source:
    name = re.split(r"[\\/]", filename or "")[-1].strip()[:255] or "file"
    untrusted.check_size(len(content), name, _file_error)
    kind = file_format or detect(content, name)
    if kind not in FORMATS:
        raise ValidationError("format", f"must be one of {', '.join(FORMATS)}")
    account = matching.compact_iban(account_iban)
    table_mapping = _table_mapping(account, mapping) if kind in TABLES else None
    return _Source(name, content, hashlib.sha256(content).hexdigest(), kind, account, table_mapping)


def _file_error(message: str) -> ValidationError:
    return ValidationError("file", message)


def _table_mapping(account: str, mapping) -> TableMapping:
    if not account:
        raise ValidationError("account", "a CSV or XLSX statement does not say whose account it is: choose the "
                                         "account (IBAN) it belongs to")
    try:
        if mapping is None:
            found = remembered(account)
            if found is None:
                raise ValidationError("mapping", f"no column mapping is remembered for {account} yet: map the "
                                                 f"file's columns once")
            return found
        if isinstance(mapping, TableMapping):
            mapping.check()
            return mapping
        return TableMapping.from_dict(mapping)
    except MappingError as exc:
        raise ValidationError(exc.field, exc.message) from None


def _items(source: _Source) -> Iterator[Transaction | RowError]:
    """The file's transactions (or row errors) as its reader gives them; a file it cannot read names where."""
    try:
        if source.kind == "camt053":
            _refuse_dtd(source.content, source.name)
            yield from camt053.transactions(source.content, source.name)
        elif source.kind == "mt940":
            yield from mt940_statements.read(source.content, source.name)
        else:
            yield from bank_tables.read(source.content, source.mapping, source.name, account_iban=source.account,
                                        file_format=source.kind)
    except BankFileError as exc:  # the readers name the element's line; some leave the file's name to us
        message = str(exc)
        raise _file_error(message if message.startswith(f"{source.name}:") else f"{source.name}: {message}") from None


def _refuse_dtd(content: bytes, name: str) -> None:
    """A statement declaring a DTD is refused: its entities (a "billion laughs") are never expanded, but a file
    that declares them is hostile or broken, not something to import with its entity text left out."""
    at = content.find(b"<!DOCTYPE")
    if at >= 0:
        line = content.count(b"\n", 0, at) + 1
        raise _file_error(f"{name}: line {line}: <!DOCTYPE>: declares a DTD with entities, which no bank "
                          f"statement does")


def _analysed(source: _Source, seen: _Seen) -> Iterator[list[PreviewRow]]:
    """The file's rows a chunk at a time, each row told what it is; the account mix-up checked at the end."""
    for part in _entry_chunks(enumerate(_items(source), start=1)):
        rows = [_row(number, item, source.account) for number, item in part]
        seen.note_accounts(rows)
        _classify(rows, seen)
        yield rows
        seen.chunk_done()
    seen.check_account(source)


def _chunks(items: Iterator) -> Iterator[list]:
    while part := list(islice(items, CHUNK)):
        yield part


def _entry_chunks(numbered: Iterator[tuple[int, Transaction | RowError]]) -> Iterator[list]:
    """Chunks of about CHUNK items that never split the details of one bank entry (they share its reference)."""
    part: list = []
    for item in numbered:
        if len(part) >= CHUNK and _DETAIL.sub("", item[1].where) != _DETAIL.sub("", part[-1][1].where):
            yield part
            part = []
        part.append(item)
    if part:
        yield part


def _padded(amount: Decimal, currency: str) -> Decimal:
    """1071 and 1071.0 as 1071.00: the payment's fingerprint is then the same whichever format the bank sent."""
    places = minor_units(currency)
    return amount.quantize(Decimal(1).scaleb(-places)) if -amount.as_tuple().exponent < places else amount


def _row(number: int, item: Transaction | RowError, account: str) -> PreviewRow:
    """The row as the file gives it: an error, a skipped movement, or the checked columns of a payment."""
    if isinstance(item, RowError):
        return PreviewRow(number, item.where, ERROR, f"{item.column}: {item.message}", {})
    shown = {"value_date": item.value_date or item.booking_date, "amount": item.amount, "currency": item.currency,
             "payer_name": item.counterparty_name, "payer_iban": item.counterparty_iban,
             "bank_reference": item.bank_reference, "text": item.text,
             "account_iban": _account(item.account_iban)}
    row = PreviewRow(number, item.where, PAYMENT, "", shown, _DETAIL.sub("", item.where))
    skipped = _skip_reason(item, shown["account_iban"], account)
    if skipped:
        row.status, row.reason = SKIPPED, skipped
        return row
    try:
        row.values = payments.checked(payments.PaymentInput(
            amount=_padded(item.amount, item.currency), currency=item.currency, value_date=shown["value_date"],
            bank_reference=item.bank_reference, account_iban=shown["account_iban"],
            payer_name=item.counterparty_name, payer_iban=item.counterparty_iban, text=item.text))
    except ValidationError as exc:
        row.status, row.reason = ERROR, f"{exc.field}: {exc.message}"
    return row


def _skip_reason(item: Transaction, own: str, account: str) -> str:
    if account and own != account:
        return f"a statement of account {own}, not of {account}"
    if item.direction == DEBIT:
        return "outgoing debit: money out of the account, not a payment received"
    if item.status not in ("BOOK", ""):
        return f"not booked yet (status {item.status}): it is imported once the bank books it"
    return ""


def _imported(sha256: str) -> PaymentImport | None:
    return db.session.scalar(select(PaymentImport).where(PaymentImport.sha256 == sha256)
                             .order_by(PaymentImport.id).limit(1))


@contextmanager
def _bulk():
    """No cyclic garbage collection while a file is worked through: each pass of the collector walks every row
    held so far (a fifth of a 100,000-row import, measured); reference counting frees the rest meanwhile, and
    each chunk's young cyclic garbage is collected when it is done (`_Seen.chunk_done`)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _lock() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": IMPORT_LOCK})


# ---- what each payment row is ----------------------------------------------------------------------------------


@dataclass
class _Seen:
    """What the file showed so far: its payments by text and reference, its accounts, the customers' names (read
    at most once). Written chunk by chunk (`writing`), the earlier chunks' payments are in the database, where
    the next chunk's lookups find them: only the current chunk is kept."""

    writing: bool = False
    by_text: dict = field(default_factory=dict)  # fingerprint digest -> (row number, entry hash)
    by_reference: dict = field(default_factory=dict)  # (account, bank reference) -> (row number, entry hash)
    accounts: set = field(default_factory=set)
    chosen_rows: int = 0  # rows of the chosen account
    names: dict | None = None  # normal name -> the one customer of that name (None: several)
    labels: dict = field(default_factory=dict)  # customer id -> "code — name"

    def note_accounts(self, rows: list[PreviewRow]) -> None:
        for row in rows:
            if row.values:
                self.accounts.add(row.values["account_iban"])
                self.chosen_rows += not row.reason.startswith("a statement of account")

    def check_account(self, source: _Source) -> None:
        """A file of another account altogether (a mix-up) is refused rather than shown as all skipped."""
        if source.account and self.accounts and not self.chosen_rows:
            raise ValidationError("account", f"{source.name} holds statements of {', '.join(sorted(self.accounts))}, "
                                             f"not of {source.account}")

    def chunk_done(self) -> None:
        if self.writing:
            self.by_text.clear()
            self.by_reference.clear()
        gc.collect(1)  # the chunk's cyclic garbage (query results): the young generations only, a few ms

    def account(self, source: _Source) -> str:
        return source.account or (next(iter(self.accounts)) if len(self.accounts) == 1 else "")

    def earlier(self, row: PreviewRow) -> str:
        """Why the row repeats an earlier one of the file; the details of one batched entry are never repeats."""
        values, entry = row.values, hash(row.entry)
        text_key = bytes.fromhex(values["fingerprint"])
        reference = (values["account_iban"], values["bank_reference"]) if values["bank_reference"] else None
        for found, what in ((self.by_reference.get(reference), "the same bank reference and account"),
                            (self.by_text.get(text_key), "the same account, amount, date and text")):
            if found is not None and found[1] != entry:
                return f"{what} as transaction {found[0]} of this file"
        self.by_text.setdefault(text_key, (row.number, entry))
        if reference:
            self.by_reference.setdefault(reference, (row.number, entry))
        return ""


def _classify(rows: list[PreviewRow], seen: _Seen) -> None:
    """Duplicates (earlier in the file, or recorded), the conversion and the payer of each payment row."""
    candidates = [row for row in rows if row.status == PAYMENT]
    recorded, payers, rates = _Recorded(candidates), _Payers(candidates, seen), _Rates(candidates)
    for row in candidates:
        row.reason = seen.earlier(row) or recorded.reason(row.values)
        if row.reason:
            row.status = DUPLICATE
            continue
        try:
            row.conversion = rates.convert(row.values["amount"], row.values["currency"], row.values["value_date"])
        except ValidationError as exc:
            row.status, row.reason = ERROR, f"{exc.field}: {exc.message}"
            continue
        row.customer_id, row.matched_by = payers.match(row.values)
    wanted = {row.customer_id for row in candidates if row.customer_id is not None} - seen.labels.keys()
    seen.labels.update(payers.labels(wanted))
    for row in candidates:
        row.customer = seen.labels.get(row.customer_id, "")


def _recheck(rows: list[PreviewRow]) -> None:
    """Under the import lock: a payment recorded since the preview turns its row into a duplicate."""
    candidates = [row for row in rows if row.status == PAYMENT]
    recorded = _Recorded(candidates)
    for row in candidates:
        reason = recorded.reason(row.values)
        if reason:
            row.status, row.reason, row.customer_id, row.customer = DUPLICATE, reason, None, ""


def _where_in(query, column, keys: set):
    """The query's rows whose column is one of the keys: one array parameter on PostgreSQL, else IN lists."""
    if not keys:
        return []
    if db.session.get_bind().dialect.name == "postgresql":
        return db.session.execute(query.where(column == any_(bindparam("keys", list(keys), ARRAY(column.type))))).all()
    ordered = sorted(keys)
    return [row for start in range(0, len(ordered), 500)
            for row in db.session.execute(query.where(column.in_(ordered[start:start + 500])))]


class _Recorded:
    """Payments already recorded with a fingerprint or a bank reference of the rows (payments.duplicate_of's
    rule), in two queries for the chunk instead of one per row."""

    def __init__(self, rows: list[PreviewRow]):
        values = [row.values for row in rows]
        query = select(Payment.id, Payment.fingerprint, Payment.account_iban, Payment.bank_reference).order_by(
            Payment.id)
        self.by_text, self.by_reference = {}, {}
        for found, fingerprint, _, _ in _where_in(query, Payment.fingerprint, {v["fingerprint"] for v in values}):
            self.by_text.setdefault(fingerprint, found)
        references = {v["bank_reference"] for v in values if v["bank_reference"]}
        for found, _, account, reference in _where_in(query, Payment.bank_reference, references):
            self.by_reference.setdefault((account, reference), found)

    def reason(self, values: dict) -> str:
        found = self.by_reference.get((values["account_iban"], values["bank_reference"]))
        if found is not None and values["bank_reference"]:
            return f"already recorded as payment {found} (the same bank reference and account)"
        found = self.by_text.get(values["fingerprint"])
        if found is not None:
            return f"already recorded as payment {found} (the same account, amount, date and text)"
        return ""


class _Payers:
    """matching.match_payer for a chunk: IBAN, then a document number in the text, then the one customer of that
    name; the chunk's accounts and numbers are read in one query each, the customers' names once per file."""

    def __init__(self, rows: list[PreviewRow], seen: _Seen):
        values = [row.values for row in rows]
        self.by_iban = dict(_where_in(select(CustomerBankAccount.iban, CustomerBankAccount.customer_id),
                                      CustomerBankAccount.iban, {v["payer_iban"] for v in values if v["payer_iban"]}))
        numbers = {number for v in values for number in matching.numbers_in(v["text"])}
        self.by_number = dict(_where_in(select(ReceivableDocument.number, ReceivableDocument.customer_id),
                                        ReceivableDocument.number, numbers))
        self.seen = seen

    def match(self, values: dict) -> tuple[int | None, str]:
        if values["payer_iban"] in self.by_iban:
            return self.by_iban[values["payer_iban"]], "iban"
        for number in matching.numbers_in(values["text"]):
            if number in self.by_number:
                return self.by_number[number], "invoice_number"
        found = self._named(matching.normal_name(values["payer_name"]))
        return (found, "name") if found is not None else (None, "")

    def _named(self, wanted: str) -> int | None:
        if len(wanted) < 3:
            return None
        if self.seen.names is None:
            self.seen.names = {}
            for customer_id, name in db.session.execute(select(Customer.id, Customer.name)):
                key = matching.normal_name(name)
                self.seen.names[key] = None if key in self.seen.names else customer_id  # two of a name: neither
        return self.seen.names.get(wanted)

    @staticmethod
    def labels(customer_ids: set[int]) -> dict[int, str]:
        query = select(Customer.id, Customer.code, Customer.name)
        return {cid: f"{code} — {name}" for cid, code, name in _where_in(query, Customer.id, customer_ids)}


class _Rates:
    """fx.to_base for a chunk: each currency's rates over the chunk's days read once."""

    def __init__(self, rows: list[PreviewRow]):
        self.base = fx.base_currency()
        days = defaultdict(list)
        for row in rows:
            if row.values["currency"] != self.base:
                days[row.values["currency"]].append(row.values["value_date"])
        self.table = {currency: self._load(currency, min(on), max(on)) for currency, on in days.items()}

    @staticmethod
    def _load(currency: str, first: date, last: date) -> tuple[list[date], list[tuple[Decimal, str]]]:
        floor = db.session.scalar(select(func.max(ExchangeRate.rate_date)).where(
            ExchangeRate.currency == currency, ExchangeRate.rate_date <= first))
        rows = db.session.execute(select(ExchangeRate.rate_date, ExchangeRate.rate, ExchangeRate.source).where(
            ExchangeRate.currency == currency, ExchangeRate.rate_date.between(floor or first, last))
            .order_by(ExchangeRate.rate_date, ExchangeRate.id))
        newest = {day: (rate, source) for day, rate, source in rows}  # the last of a day wins, as in fx.rate_on
        return sorted(newest), [newest[day] for day in sorted(newest)]

    def convert(self, amount: Decimal, currency: str, on: date) -> Conversion:
        if currency == self.base:
            return Conversion(quantize(amount, self.base), Decimal(1), on, "identity")
        days, rates = self.table[currency]
        at = bisect_right(days, on) - 1
        if at < 0:
            raise ValidationError("currency", f"no {currency} exchange rate on or before {on.isoformat()}")
        rate, source = rates[at]
        return Conversion(quantize(amount * rate, self.base), rate, days[at], source)


# ---- writing ---------------------------------------------------------------------------------------------------


def _record(source, imported_by: str) -> PaymentImport:
    record = PaymentImport(filename=source.filename, sha256=source.sha256, file_format=source.file_format,
                           account_iban="", imported_by=imported_by, payments=0, duplicates=0, skipped=0, errors=0)
    db.session.add(record)
    db.session.flush()
    return record


def _count(record: PaymentImport, rows: list[PreviewRow]) -> None:
    for row in rows:
        name = {PAYMENT: "payments", DUPLICATE: "duplicates", SKIPPED: "skipped", ERROR: "errors"}[row.status]
        setattr(record, name, getattr(record, name) + 1)


def _finish(record: PaymentImport, mapping: TableMapping | None, imported_by: str) -> None:
    if mapping is not None and record.account_iban:
        remember(record.account_iban, mapping, imported_by)
    db.session.flush()


class _Writer:
    """Inserts the payment rows of each chunk: payments, their audit events, the ledger entries of known payers."""

    def __init__(self, import_id: int, imported_by: str):
        self.import_id, self.imported_by, self.last_id = import_id, imported_by, 0
        self.actor, self.ledger = audit.current_actor(), posting.Batch()

    def write(self, rows: list[PreviewRow]) -> None:
        now = utcnow()
        values = [self._columns(row, now) for row in rows if row.status == PAYMENT]
        if not values:
            return
        posting.insert_rows(Payment, values)
        # Bulk inserts go row after row, so this import's new ids, in order, are the rows' ids.
        ids = db.session.scalars(select(Payment.id).where(Payment.import_id == self.import_id,
                                                          Payment.id > self.last_id).order_by(Payment.id)).all()
        for payment_id, columns in zip(ids, values, strict=True):
            columns["id"] = payment_id
        self.last_id = ids[-1]
        posting.insert_rows(AuditEvent, [self._audit(columns, now) for columns in values])
        self.ledger.post([self._posting(columns) for columns in values if columns["customer_id"] is not None])

    def close(self) -> None:
        """Write the balances the import moved."""
        self.ledger.close()

    def _columns(self, row: PreviewRow, now) -> dict:
        conversion = row.conversion
        return {**row.values, "customer_id": row.customer_id, "matched_by": row.matched_by,
                "import_id": self.import_id, "created_by": self.imported_by, "created_at": now,
                "allocated_total": ZERO, "refunded_total": ZERO, "base_amount": conversion.amount,
                "fx_rate": conversion.rate, "fx_rate_date": conversion.rate_date, "fx_source": conversion.source}

    def _posting(self, columns: dict) -> posting.Posting:
        """The same credit payments.record posts for a payment whose payer is known."""
        narration = " ".join(filter(None, (columns["payer_name"], columns["bank_reference"], columns["text"])))
        return posting.Posting(
            customer_id=columns["customer_id"], currency=columns["currency"], entry_date=columns["value_date"],
            kind="payment", amount=columns["amount"], side="credit",
            conversion=Conversion(columns["base_amount"], columns["fx_rate"], columns["fx_rate_date"],
                                  columns["fx_source"]),
            reference=f"PAY-{columns['id']}", narration=narration[:2000], posted_by=self.imported_by,
            payment_id=columns["id"])

    def _audit(self, columns: dict, now) -> dict:
        """The create event the audit trail writes for a flushed payment (bulk inserts skip the flush)."""
        summary = f"payment {columns['id']} ({columns['amount']} {columns['currency']}, {columns['value_date']})"
        changes = {key: [None, str(value) if key in _DECIMALS else value.isoformat() if key in _DATES else value]
                   for key, value in columns.items() if key != "id" and value is not None}
        return {"occurred_at": now, "actor": self.actor.label, "actor_id": self.actor.user_id, "ip": self.actor.ip,
                "action": "create", "entity_type": "Payment", "entity_id": str(columns["id"]),
                "summary": summary[:300], "changes": changes}


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value
