"""MT940 statements read with the mt-940 package into the transactions camt.053 gives: several statements per file,
structured and multi-line :86: details, Latin-1 or UTF-8, reversals by their mark; broken files named."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from portal.integrations.bank_transactions import CREDIT, DEBIT, BankFileError
from portal.integrations.mt940_statements import read
from tests.support.paths import DATA

pytestmark = pytest.mark.no_db
LATIN1 = (DATA / "bank" / "mt940_two_statements_latin1.sta").read_bytes()
UTF8 = (DATA / "bank" / "mt940_utf8.sta").read_bytes()


def test_two_statements_in_latin_1_give_every_transaction_with_its_counterparty_and_text():
    found = read(LATIN1, "umsatz.sta")
    assert [(t.statement, t.direction, t.amount, t.bank_reference) for t in found] == [
        ("STARTUMSE 00241", CREDIT, Decimal("1071.00"), "2026120300001"),
        ("STARTUMSE 00241", DEBIT, Decimal("89.90"), ""),
        ("STARTUMSE 00241", CREDIT, Decimal("150.50"), "2026120400007"),
        ("STARTUMSE 00242", DEBIT, Decimal("200.00"), "2026120500001"),  # RC: a credit reversed takes money out
    ]
    acme = found[0]
    assert (acme.account_iban, acme.currency, acme.booking_date, acme.value_date) == \
        ("DE89370400440532013000", "EUR", date(2026, 12, 3), date(2026, 12, 3))
    assert (acme.counterparty_name, acme.counterparty_iban, acme.end_to_end_id) == \
        ("Acme Logistics GmbH", "DE02120300000000202051", "E2E-ACME-4711")
    assert acme.text == "INV-2026-000123 November services"  # ?21 and ?22 joined across the line break
    assert found[2].text == "Rechnung INV-2026-000130 Müller AG Kunde 4711"  # Latin-1 ü, a continued :86:
    assert [t.where for t in found] == ["line 5: statement 1, :61: 1", "line 8: statement 1, :61: 2",
                                        "line 10: statement 1, :61: 3", "line 19: statement 2, :61: 4"]


def test_utf_8_reads_the_same_text():
    assert [t.text for t in read(UTF8)] == [t.text for t in read(LATIN1)][:3]


@pytest.mark.parametrize(("content", "message"), [
    (b"Date;Amount\n2026-12-03;100,00\n", "umsatz.sta: not an MT940 statement (no :20: line)"),
    (b"", "umsatz.sta: not an MT940 statement (no :20: line)"),
    (LATIN1.replace(b":61:2612031203C1071,00", b":61:2612031203X1071,00"),
     "umsatz.sta: line 5: :61: cannot read '2612031203X1071,00NTRFNONREF//2026120300001'"),
])
def test_a_file_that_is_not_a_readable_statement_is_refused(content, message):
    with pytest.raises(BankFileError, match=re.escape(message)):
        read(content, "umsatz.sta")
