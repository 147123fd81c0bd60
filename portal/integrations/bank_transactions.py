"""What every bank-statement reader gives (camt.053, MT940): transactions on one account, amounts positive with a
direction, and the error that names the line and the field of a file that cannot be read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

CREDIT, DEBIT = "credit", "debit"


class BankFileError(ValueError):
    """The file cannot be read as a statement; the message names the line and the element."""


@dataclass(frozen=True)
class Transaction:
    """One movement on the account: money in (credit) or out (debit), amount always positive."""

    statement: str  # Stmt/Id
    account_iban: str  # the statement's account
    direction: str  # credit | debit
    amount: Decimal
    currency: str
    booking_date: date | None
    value_date: date | None
    status: str  # BOOK, PDNG, INFO
    bank_reference: str  # AcctSvcrRef of the detail, else of the entry, else NtryRef
    end_to_end_id: str
    counterparty_name: str  # the debtor of a credit, the creditor of a debit
    counterparty_iban: str
    text: str  # remittance information (unstructured, then structured references), else additional info
    where: str  # "line 42: Stmt 1, Ntry 3, TxDtls 2"
