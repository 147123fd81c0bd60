"""Official exchange-rate files read into quotes: the ECB's euro reference rates (eurofxref CSV, daily and history,
zipped or not, and the XML forms; EUR-based) and the Bank of Russia's daily XML (windows-1251, comma decimals,
`Nominal`; RUB-based). Plain data in and out: no database, no Flask."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import requests
from lxml import etree

from portal.integrations import http, untrusted

MAX_FILE_BYTES = untrusted.MAX_FILE_BYTES  # the ECB's whole history since 1999 is about 2 MB unzipped
SOURCES = ("ecb", "cbr")
ECB_NS = "http://www.ecb.int/vocabulary/2002-08-01/eurofxref"
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_MISSING = {"", "N/A", "NA", "-"}


class RateFileError(ValueError):
    """The file cannot be read as rates; the message names the line or element and the field."""


@dataclass(frozen=True)
class Quote:
    """On `day`, one unit of `currency` is worth `value` units of the file's quote currency (EUR, RUB): the ECB's
    "1 EUR = 1.05 USD" becomes USD 1/1.05, the Bank of Russia's "100 JPY = 52,1 RUB" becomes JPY 0.521."""

    day: date
    currency: str
    value: Decimal


@dataclass(frozen=True)
class RateFile:
    source: str  # "ecb" or "cbr"
    quote_currency: str  # "EUR" or "RUB": what every Quote.value is counted in
    quotes: tuple[Quote, ...]

    @property
    def days(self) -> list[date]:
        return sorted({quote.day for quote in self.quotes})


def read(content: bytes, source: str | None = None, name: str = "") -> RateFile:
    """Read an ECB or Bank of Russia file (`source` None: told by its content); RateFileError when it is not one."""
    if source is not None and source not in SOURCES:
        raise RateFileError(f"source: must be one of {', '.join(SOURCES)}")
    untrusted.check_size(len(content), name or "file", RateFileError, MAX_FILE_BYTES)
    content = _unzipped(content, name)
    if content.lstrip()[:1] == b"<":
        return _xml(content, source, name)
    if source == "cbr":
        raise RateFileError(f"{name or 'file'}: the Bank of Russia publishes XML, this is not XML")
    return _ecb_csv(content, name)


def fetch(url: str, *, timeout: float = 30.0) -> bytes:
    """GET a rate file from its publisher (retried while busy, its origin only, at most MAX_FILE_BYTES)."""
    label = http.url_label(url)
    try:
        with http.session(url, label=f"rates {label}", timeout=timeout, schemes=("https", "http")) as web, \
                web.get(url, stream=True) as response:
            if response.status_code != 200:
                raise RateFileError(f"{label}: the publisher answered HTTP {response.status_code}")
            return _bounded(response, label)
    except (requests.RequestException, http.RefusedURL) as exc:
        raise RateFileError(f"{label}: {http.reason(exc)}") from None


def _bounded(response, label: str) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        untrusted.check_size(size, label, RateFileError, MAX_FILE_BYTES)
        chunks.append(chunk)
    return b"".join(chunks)


def _unzipped(content: bytes, name: str) -> bytes:
    if not content.startswith(b"PK\x03\x04"):
        return content
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            if len(members) != 1:
                raise RateFileError(f"{name or 'zip file'}: expected one file in the archive, found {len(members)}")
            untrusted.check_size(members[0].file_size, members[0].filename, RateFileError, MAX_FILE_BYTES)
            return archive.read(members[0])
    except zipfile.BadZipFile as exc:
        raise RateFileError(f"{name or 'zip file'}: not a readable zip archive ({exc})") from None


# ---- XML: the ECB's gesmes envelope or the Bank of Russia's ValCurs ------------------------------------------

def _xml(content: bytes, source: str | None, name: str) -> RateFile:
    root = untrusted.parse_xml(content, name or "file", RateFileError)
    if root.tag == "ValCurs" and source in (None, "cbr"):
        return _cbr(root, name)
    if etree.QName(root).localname == "Envelope" and source in (None, "ecb"):
        return _ecb_xml(root, name)
    expected = {"ecb": "an ECB gesmes:Envelope", "cbr": "a Bank of Russia ValCurs"}.get(source, "an ECB or Bank "
                                                                                                "of Russia file")
    raise RateFileError(f"{name or 'file'}: the root element {etree.QName(root).localname} is not {expected}")


def _ecb_xml(root, name: str) -> RateFile:
    quotes = []
    days = root.findall(f".//{{{ECB_NS}}}Cube[@time]")
    if not days:
        raise RateFileError(f"{name or 'file'}: no Cube element with a time attribute")
    for day_cube in days:
        day = _date(day_cube.get("time"), "%Y-%m-%d", f"line {day_cube.sourceline}: Cube time")
        for cube in day_cube.findall(f"{{{ECB_NS}}}Cube"):
            where = f"line {cube.sourceline}: Cube"
            currency = _currency(cube.get("currency"), f"{where} currency")
            units = _positive(cube.get("rate"), f"{where} {currency} rate")
            quotes.append(Quote(day, currency, Decimal(1) / units))
    return RateFile("ecb", "EUR", tuple(quotes))


def _cbr(root, name: str) -> RateFile:
    day = _date(root.get("Date"), "%d.%m.%Y", f"line {root.sourceline}: ValCurs Date")
    quotes = []
    for valute in root.findall("Valute"):
        where = f"line {valute.sourceline}: Valute"
        currency = _currency(valute.findtext("CharCode"), f"{where} CharCode")
        nominal = _positive(valute.findtext("Nominal"), f"{where} {currency} Nominal")
        value = _positive(valute.findtext("Value"), f"{where} {currency} Value")
        quotes.append(Quote(day, currency, value / nominal))
    if not quotes:
        raise RateFileError(f"{name or 'file'}: no Valute element")
    return RateFile("cbr", "RUB", tuple(quotes))


# ---- CSV: eurofxref.csv (one day, "04 December 2026") and eurofxref-hist.csv (many, "2026-12-04") ------------

def _ecb_csv(content: bytes, name: str) -> RateFile:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RateFileError(f"{name or 'file'}: not UTF-8 text (byte {exc.start})") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or not rows[0] or rows[0][0].strip() != "Date":
        raise RateFileError(f"{name or 'file'}: line 1: expected the ECB's header starting with Date")
    header = [cell.strip() for cell in rows[0]]
    currencies = [_currency(cell, f"line 1: column {index + 1}") if cell else ""
                  for index, cell in enumerate(header[1:])]
    quotes = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        day = _csv_date(row[0].strip(), f"line {number}: Date")
        for currency, cell in zip(currencies, row[1:], strict=False):
            if currency and cell.strip() not in _MISSING:
                units = _positive(cell.strip(), f"line {number}: {currency}")
                quotes.append(Quote(day, currency, Decimal(1) / units))
    if not quotes:
        raise RateFileError(f"{name or 'file'}: no rates below the header")
    return RateFile("ecb", "EUR", tuple(quotes))


def _csv_date(text: str, where: str) -> date:
    for layout in ("%Y-%m-%d", "%d %B %Y"):
        try:
            return datetime.strptime(text, layout).date()
        except ValueError:
            continue
    raise RateFileError(f"{where}: {text!r} is not a date like 2026-12-04 or 04 December 2026")


# ---- values ----------------------------------------------------------------------------------------------------

def _date(text: str | None, layout: str, where: str) -> date:
    try:
        return datetime.strptime((text or "").strip(), layout).date()
    except ValueError:
        raise RateFileError(f"{where}: {text!r} is not a date") from None


def _currency(text: str | None, where: str) -> str:
    code = (text or "").strip().upper()
    if not _CURRENCY.match(code):
        raise RateFileError(f"{where}: {text!r} is not a three-letter currency code")
    return code


def _positive(text: str | None, where: str) -> Decimal:
    """A decimal number above zero, with a dot or (the Bank of Russia) a comma; never a float."""
    raw = (text or "").strip().replace(",", ".")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise RateFileError(f"{where}: {text!r} is not a number") from None
    if not value.is_finite() or value <= 0 or not re.fullmatch(r"\d+(\.\d+)?", raw):
        raise RateFileError(f"{where}: {text!r} is not a number above zero")
    return value
