"""camt.053 statements read as banks send them: versions 001.02 to 001.08, batched entries split into their
payments, debtor and creditor by direction, references and remittance text; broken and hostile files refused with
the line and element named."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from portal.integrations.camt053 import CREDIT, DEBIT, BankFileError, read
from tests.support.paths import DATA

pytestmark = pytest.mark.no_db
BANK = DATA / "bank"
V02 = (BANK / "camt053_v02_batch.xml").read_bytes()
V08 = (BANK / "camt053_v08.xml").read_bytes()


def test_a_statement_gives_one_transaction_per_detail_and_splits_a_batch():
    found = read(V02, "camt053_v02_batch.xml")
    assert [(t.direction, t.amount, t.counterparty_name, t.bank_reference) for t in found] == [
        (CREDIT, Decimal("1071.00"), "Acme Logistics GmbH", "2026120300001"),
        (CREDIT, Decimal("200.00"), "Globex Corporation", "2026120300002-1"),
        (CREDIT, Decimal("150.50"), "Initech AG", "2026120300002-2"),
        (DEBIT, Decimal("89.90"), "", "2026120300003"),
    ]
    acme, globex, initech, fee = found
    assert (acme.statement, acme.account_iban, acme.currency, acme.status) == \
        ("2026-12-03-0001", "DE89370400440532013000", "EUR", "BOOK")
    assert (acme.booking_date, acme.value_date, acme.end_to_end_id, acme.counterparty_iban) == \
        (date(2026, 12, 3), date(2026, 12, 3), "E2E-ACME-4711", "DE02120300000000202051")
    assert acme.text == "INV-2026-000123 November services"
    assert (globex.end_to_end_id, globex.text, globex.value_date) == ("", "RF18539007547034", date(2026, 12, 4))
    assert initech.text == "Rechnung INV-2026-000130 Kunde 4711"
    assert fee.text == "Account fee November"
    assert re.fullmatch(r"line \d+: Stmt 1, Ntry 2, TxDtls 2", initech.where)


def test_version_08_reads_coded_status_date_times_party_names_and_several_statements():
    found = read(V08)
    assert [(t.statement, t.account_iban, t.status, t.amount) for t in found] == [
        ("S-8-1", "CH9300762011623852957", "BOOK", Decimal("2500.00")),
        ("S-8-1", "CH9300762011623852957", "PDNG", Decimal("10.00")),
        ("S-8-2", "0001234567", "BOOK", Decimal("1.00")),
    ]
    helvetia = found[0]
    assert (helvetia.counterparty_name, helvetia.counterparty_iban, helvetia.booking_date, helvetia.text) == \
        ("Helvetia Handels AG", "CH5604835012345678009", date(2026, 12, 2), "INV-2026-000140")


@pytest.mark.parametrize("version", range(2, 9))
def test_every_version_from_02_to_08_is_read(version):
    content = V02.replace(b"camt.053.001.02", f"camt.053.001.0{version}".encode())
    assert len(read(content)) == 4


@pytest.mark.parametrize(("change", "message"), [
    ((b'<Amt Ccy="EUR">150.50</Amt></TxAmt>', b'<Amt Ccy="EUR">150.00</Amt></TxAmt>'),
     r"line \d+: Stmt 1, Ntry 2: the 2 TxDtls amounts add up to 350.00, the entry's Amt is 350.50"),
    ((b'<Amt Ccy="EUR">89.90</Amt>', b'<Amt Ccy="EUR">89,90</Amt>'),
     r"line \d+: Stmt 1, Ntry 3: Amt: '89,90' is not an amount"),
    ((b'<Amt Ccy="EUR">89.90</Amt>', b'<Amt Ccy="EUR">-89.90</Amt>'),
     r"Ntry 3: Amt: '-89.90' is not an amount above zero"),
    ((b'<Amt Ccy="EUR">89.90</Amt>', b'<Amt Ccy="euro">89.90</Amt>'),
     r"Ntry 3: Amt: Ccy 'euro' is not a three-letter currency code"),
    ((b"<CdtDbtInd>DBIT</CdtDbtInd>", b"<CdtDbtInd>OUT</CdtDbtInd>"), r"Ntry 3: CdtDbtInd: 'OUT' is neither"),
    ((b"<ValDt><Dt>2026-12-04</Dt></ValDt>", b"<ValDt><Dt>04.12.2026</Dt></ValDt>"),
     r"Ntry 2: ValDt: '04.12.2026' is not a date"),
    ((b'<Amt Ccy="EUR">200.00</Amt></TxAmt>', b'<Amt Ccy="USD">200.00</Amt></TxAmt>'),
     r"Ntry 2, TxDtls 1: Amt: currency USD differs from the entry's EUR"),
    ((b"<Acct><Id><IBAN>DE89370400440532013000</IBAN></Id>", b"<Acct><Id></Id>"),
     r"line \d+: Stmt 1: Acct/Id: the account has no IBAN or other id"),
])
def test_a_broken_statement_names_the_line_and_the_element(change, message):
    with pytest.raises(BankFileError, match=message):
        read(V02.replace(*change), "statement.xml")


@pytest.mark.parametrize(("content", "message"), [
    (V02[: len(V02) // 2], "statement.xml: not well-formed XML"),
    (b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.054.001.02'/>", "not a camt.053 statement"),
    (b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.09'/>", "not a camt.053 statement"),
    (b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'/>", "no BkToCstmrStmt/Stmt element"),
    # declared UTF-8, written in Latin-1 (a bank's export gone wrong): refused, not read as mojibake
    (V02.decode().replace("Initech   AG", "Müller AG").encode("latin-1"), "statement.xml: not well-formed XML"),
])
def test_a_file_that_is_not_a_readable_statement_is_refused(content, message):
    with pytest.raises(BankFileError, match=message):
        read(content, "statement.xml")


def test_entities_are_never_expanded():
    bomb = V02.replace(b'<?xml version="1.0" encoding="UTF-8"?>',
                       b'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE Document [<!ENTITY a "1071.00">]>')
    bomb = bomb.replace(b'<Amt Ccy="EUR">1071.00</Amt>\n        <CdtDbtInd>', b'<Amt Ccy="EUR">&a;</Amt>\n'
                                                                          b'        <CdtDbtInd>')
    with pytest.raises(BankFileError, match=r"Ntry 1: Amt: '' is not an amount"):
        read(bomb)
