"""The official rate files read as the banks publish them: the ECB's eurofxref CSV (daily, history with N/A) and
XML (daily, 90 days), zipped or not; the Bank of Russia's windows-1251 XML with comma decimals and Nominal; and
broken or hostile files refused with the line or element named."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date
from decimal import Decimal

import pytest

from portal.integrations import rate_files
from portal.integrations.rate_files import RateFileError, read
from tests.support.paths import DATA

pytestmark = pytest.mark.no_db
RATES = DATA / "rates"


def sample(name: str) -> bytes:
    return (RATES / name).read_bytes()


def zipped(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members:
            archive.writestr(name, content)
    return buffer.getvalue()


def worth(rate_file, currency: str, day: date) -> Decimal:
    return next(q.value for q in rate_file.quotes if q.currency == currency and q.day == day)


DAY = date(2026, 12, 3)


def test_the_ecb_daily_csv_gives_every_currency_of_the_day_in_euro():
    rates = read(sample("eurofxref.csv"))
    assert (rates.source, rates.quote_currency, rates.days) == ("ecb", "EUR", [DAY])
    assert len(rates.quotes) == 30
    assert worth(rates, "USD", DAY) == Decimal(1) / Decimal("1.0523")  # 1 EUR = 1.0523 USD


def test_the_ecb_history_csv_skips_not_available_rates():
    rates = read(sample("eurofxref-hist.csv"))
    assert rates.days == [date(1999, 1, 4), date(2026, 12, 2), DAY]
    per_day = {day: sorted(q.currency for q in rates.quotes if q.day == day) for day in rates.days}
    assert per_day[DAY] == ["BGN", "CZK", "GBP", "JPY", "USD"]  # CYP and RUB are N/A
    assert per_day[date(1999, 1, 4)] == ["CYP", "CZK", "GBP", "JPY", "RUB", "USD"]


def test_a_zipped_file_is_read_like_the_file_inside():
    assert read(zipped(("eurofxref.csv", sample("eurofxref.csv")))) == read(sample("eurofxref.csv"))


@pytest.mark.parametrize("name", ["eurofxref-daily.xml", "eurofxref-hist-90d.xml"])
def test_the_ecb_xml_forms(name):
    rates = read(sample(name))
    assert rates.source == "ecb" and DAY in rates.days
    assert worth(rates, "JPY", DAY) == Decimal(1) / Decimal("157.89")


def test_the_bank_of_russia_daily_xml_divides_by_nominal_and_reads_comma_decimals():
    rates = read(sample("XML_daily.xml"))
    assert (rates.source, rates.quote_currency, rates.days) == ("cbr", "RUB", [DAY])
    assert worth(rates, "USD", DAY) == Decimal("78.2450")
    assert worth(rates, "JPY", DAY) == Decimal("0.521234")  # 52,1234 RUB per 100 JPY
    assert worth(rates, "KZT", DAY) == Decimal("0.150123")


def test_the_source_told_must_match_the_file():
    with pytest.raises(RateFileError, match="the root element ValCurs is not an ECB gesmes:Envelope"):
        read(sample("XML_daily.xml"), "ecb", "XML_daily.xml")
    with pytest.raises(RateFileError, match="the Bank of Russia publishes XML, this is not XML"):
        read(sample("eurofxref.csv"), "cbr", "eurofxref.csv")
    with pytest.raises(RateFileError, match="source: must be one of ecb, cbr"):
        read(sample("eurofxref.csv"), "fed")


@pytest.mark.parametrize(("content", "message"), [
    (b"Date,USD\n2026-12-03,1.05\n2026-12-02,abc\n", "line 3: USD: 'abc' is not a number"),
    (b"Date,USD\n2026-12-03,-1.05\n", "line 2: USD: '-1.05' is not a number above zero"),
    (b"Date,USD\n2026-12-03,1e5\n", "line 2: USD: '1e5' is not a number above zero"),
    (b"Date,USD\n03/12/2026,1.05\n", "line 2: Date: '03/12/2026' is not a date like 2026-12-04 or 04 December 2026"),
    (b"Date,US$\n2026-12-03,1.05\n", "line 1: column 1: 'US$' is not a three-letter currency code"),
    (b"Currency,Rate\nUSD,1.05\n", "line 1: expected the ECB's header starting with Date"),
    (b"Date,USD\n", "no rates below the header"),
    (b"", "line 1: expected the ECB's header"),
    ("Date,USD\n2026-12-03,1,05\n".encode("utf-16"), "not UTF-8 text"),
])
def test_a_broken_csv_names_the_line_and_the_field(content, message):
    with pytest.raises(RateFileError, match=message.replace("$", r"\$").replace("(", r"\(")):
        read(content, name="rates.csv")


@pytest.mark.parametrize(("content", "message"), [
    (b"<ValCurs Date='03.12.2026'><Valute><CharCode>USD</CharCode><Nominal>0</Nominal><Value>78,1</Value></Valute>"
     b"</ValCurs>", "line 1: Valute USD Nominal: '0' is not a number above zero"),
    (b"<ValCurs Date='2026-12-03'><Valute/></ValCurs>", "line 1: ValCurs Date: '2026-12-03' is not a date"),
    (b"<ValCurs Date='03.12.2026'>\n<Valute><CharCode>USD</CharCode><Nominal>1</Nominal></Valute></ValCurs>",
     "line 2: Valute USD Value: None is not a number"),
    (b"<ValCurs Date='03.12.2026'></ValCurs>", "no Valute element"),
    (b"<ValCurs Date='03.12.2026'><Valute>", "not well-formed XML"),
    (b"<Rates/>", "the root element Rates is not an ECB or Bank of Russia file"),
])
def test_a_broken_xml_names_the_line_and_the_element(content, message):
    with pytest.raises(RateFileError, match=message):
        read(content, name="rates.xml")


def test_entities_are_never_expanded():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE ValCurs [<!ENTITY a "78,1"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            b"<ValCurs Date='03.12.2026'><Valute><CharCode>USD</CharCode><Nominal>1</Nominal><Value>&b;</Value>"
            b"</Valute></ValCurs>")
    with pytest.raises(RateFileError, match="line 1: Valute USD Value: '' is not a number"):
        read(bomb)  # the reference stays unexpanded: no text
    external = (b'<?xml version="1.0"?><!DOCTYPE ValCurs [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                b"<ValCurs Date='03.12.2026'><Valute><CharCode>USD</CharCode><Nominal>1</Nominal><Value>&x;</Value>"
                b"</Valute></ValCurs>")
    with pytest.raises(RateFileError, match="line 1: Valute USD Value: '' is not a number"):
        read(external)  # no file is read


def test_a_file_over_the_limit_and_archives_that_are_not_one_file_are_refused(monkeypatch):
    monkeypatch.setattr(rate_files, "MAX_FILE_BYTES", 1024)
    with pytest.raises(RateFileError, match=re.escape("big.csv: larger than 1,024 bytes")):
        read(b"x" * 1025, name="big.csv")
    with pytest.raises(RateFileError, match=re.escape("eurofxref.csv: larger than 1,024 bytes")):
        read(zipped(("eurofxref.csv", b"Date,USD\n" + b"2026-12-03,1.05\n" * 200)), name="rates.zip")
    with pytest.raises(RateFileError, match=re.escape("rates.zip: expected one file in the archive, found 2")):
        read(zipped(("a.csv", b"Date"), ("b.csv", b"Date")), name="rates.zip")
    with pytest.raises(RateFileError, match=re.escape("rates.zip: not a readable zip archive")):
        read(b"PK\x03\x04broken", name="rates.zip")
