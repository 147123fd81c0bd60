"""The document every output format renders from (PDF/HTML, IDoc, SAP CSV, UBL): plain, typed, Decimal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class Party:
    """Seller or buyer as printed on the document."""

    name: str
    vat_id: str = ""
    street: str = ""
    city: str = ""
    postcode: str = ""
    country: str = ""  # ISO 3166-1 alpha-2
    email: str = ""
    sap_partner_code: str = ""  # the buyer's SAP partner number (KUNNR/PARTN)
    contact_name: str = ""  # who answers questions about the document (UBL BT-41), e.g. "Accounts receivable"
    phone: str = ""  # the contact's telephone (UBL BT-42)


@dataclass(frozen=True)
class Line:
    """One priced line; amounts are quantized to the document currency."""

    number: int
    description: str
    quantity: Decimal
    unit_price: Decimal
    net_amount: Decimal  # quantity × unit_price, quantized
    tax_rate: Decimal  # percent, e.g. Decimal("19")
    tax_amount: Decimal
    source: str = ""  # e.g. "INC0012345 (P2, closed 2026-11-03)" or "fixed"
    unit: str = "C62"  # UN/ECE rec. 20 code: C62 one (a unit), E48 service unit, HUR hour, MON month


@dataclass(frozen=True)
class BankAccount:
    """The account the seller is paid into; the IBAN and BIC are compact (no spaces) and already validated."""

    iban: str
    bic: str = ""
    bank_name: str = ""


@dataclass(frozen=True)
class TaxBreakdown:
    rate: Decimal
    taxable_amount: Decimal
    tax_amount: Decimal
    category: str = "S"  # UNCL5305: S standard, AE reverse charge, E exempt, Z zero


@dataclass(frozen=True)
class DocumentReference:
    """An earlier document this one refers to: the invoice a credit note credits (UBL BG-3)."""

    number: str
    issue_date: date


PROFORMA, INVOICE, CREDIT_NOTE, DUE_NOTE = "proforma", "invoice", "credit_note", "due_note"


@dataclass(frozen=True)
class Document:
    """A proforma, invoice, credit note or due note ready to render; totals are consistent with the lines."""

    number: str  # e.g. "PF-2026-11-0001"
    issue_date: date
    due_date: date
    currency: str
    period_start: date
    period_end: date
    seller: Party
    buyer: Party
    lines: tuple[Line, ...]
    taxes: tuple[TaxBreakdown, ...]
    net_total: Decimal
    tax_total: Decimal
    gross_total: Decimal
    contract_number: str = ""
    sap_company_code: str = ""  # BUKRS
    payment_terms_days: int = 30
    tax_rule: str = "standard"  # standard | reverse_charge | exempt
    notes: tuple[str, ...] = field(default_factory=tuple)
    idempotency_key: str = ""
    payee_account: BankAccount | None = None  # where to pay; None: no payment instrument is named
    payment_reference: str = ""  # what the payer quotes (portal.exports.payment.payment_reference)
    purchase_order_number: str = ""  # the buyer's order (UBL BT-13, IDoc E1EDK02 QUALF 001)
    buyer_reference: str = ""  # the buyer's routing reference (UBL BT-10)
    # The buyer's other SAP partner roles; None means the bill-to party (buyer) plays that role as well.
    sold_to: Party | None = None  # AG
    payer: Party | None = None  # RG
    ship_to: Party | None = None  # WE
    kind: str = PROFORMA  # proforma | invoice | credit_note | due_note
    billing_reference: DocumentReference | None = None  # the invoice a credit or due note corrects
    period_known: bool = True  # False: no service period (period_start and period_end repeat the issue date)
