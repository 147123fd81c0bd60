"""UBL 2.1 Invoice and CreditNote rendered from a Document with lxml: the proforma as EN 16931 core, invoices,
credit notes and due notes as Peppol BIS Billing 3.0 when both parties have a Peppol address (EN 16931 core else)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from lxml import etree

from portal.exports.document import (
    CREDIT_NOTE,
    DUE_NOTE,
    INVOICE,
    PROFORMA,
    BankAccount,
    Document,
    Line,
    Party,
    TaxBreakdown,
)

NS_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
NS_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
NSMAP = {None: NS_INVOICE, "cac": NS_CAC, "cbc": NS_CBC}

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017"
PROFILE_ID = "urn:fdc:ledgerflow:proforma:1.0"
PEPPOL_CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PEPPOL_PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
# UNTDID 1001 325 proforma invoice: EN 16931 accepts it; CIUS such as XRechnung do not (they want 380).
INVOICE_TYPE_CODE = "325"
# UNTDID 1001 of the issued documents: 380 commercial invoice, 381 credit note, 383 debit note (a due note).
TYPE_CODES = {INVOICE: "380", CREDIT_NOTE: "381", DUE_NOTE: "383"}
PROFORMA_NOTE = "Proforma invoice: not a tax invoice, no input VAT deduction. Payment request only."
# UNCL4461 payment means; 30 and 58 need PayeeFinancialAccount/ID (BR-61).
PAYMENT_MEANS_UNDEFINED = "1"  # instrument not defined: no account named
PAYMENT_MEANS_TRANSFER = "30"  # credit transfer (any currency)
PAYMENT_MEANS_SEPA = "58"  # SEPA credit transfer, euro only
SEPA_CURRENCY = "EUR"

# Peppol EAS (electronic address scheme, BIS Billing 3.0.19 code list) of each country's VAT register; the address
# is the VAT number itself, country prefix included ("9930:DE123456789"). The list has no e-mail scheme (EM), so a
# party outside these countries has no Peppol address and its documents stay EN 16931 core.
VAT_SCHEMES = {
    "AD": "9922", "AL": "9923", "AT": "9914", "BA": "9924", "BG": "9926", "CH": "9927", "CY": "9928", "CZ": "9929",
    "DE": "9930", "EE": "9931", "ES": "9920", "FI": "0213", "FR": "9957", "GB": "9932", "HR": "9934", "HU": "9910",
    "IE": "9935", "IT": "0211", "LI": "9936", "LT": "9937", "LU": "9938", "LV": "9939", "MC": "9940", "ME": "9941",
    "MK": "9942", "MT": "9943", "NL": "9944", "PL": "9945", "PT": "9946", "RO": "9947", "RS": "9948", "SI": "9949",
    "SK": "9950", "SM": "9951", "TR": "9952", "VA": "9953",
}
# Countries whose Peppol address is the business register number inside the VAT number (the rules check its
# format and check digits): scheme, and how the number is cut from the VAT number's part after the prefix.
REGISTER_SCHEMES = {
    "BE": ("0208", lambda rest: rest.zfill(10)),  # enterprise number, 10 digits (BE0123456749)
    "DK": ("0184", lambda rest: rest),  # CVR, 8 digits
    "GR": ("9933", lambda rest: rest),  # the TIN (EL123456789); Greek rules want it without the prefix
    "NO": ("0192", lambda rest: rest.removesuffix("MVA")),  # organisation number, 9 digits (NO123456785MVA)
    "SE": ("0007", lambda rest: rest[:10]),  # organisation number, 10 digits (SE556036079301)
}
VAT_PREFIXES = {"EL": "GR"}  # Greece's VAT numbers start with EL
_VAT_SEPARATORS = re.compile(r"[\s.\-]")

# UNCL5305 categories needing an exemption reason (BR-AE-10, BR-E-10); S and Z must not carry one.
EXEMPTION_REASONS = {
    "AE": ("VATEX-EU-AE", "Reverse charge"),
    "E": ("", "Exempt from VAT"),
}
ZERO_RATE_CATEGORIES = frozenset({"AE", "E"})
TAX_RULE_CATEGORIES = {"reverse_charge": "AE", "exempt": "E"}


@dataclass(frozen=True)
class Endpoint:
    """A Peppol electronic address (UBL BT-34, BT-49): the EAS scheme and the identifier."""

    scheme: str
    identifier: str


@dataclass(frozen=True)
class Shape:
    """What a kind of document's file looks like: its root and type code, its profile, Peppol or not."""

    root: str  # Invoice | CreditNote
    type_code: str
    customization: str
    profile: str  # "" writes no ProfileID
    peppol: bool

    @property
    def namespace(self) -> str:
        """The root element's namespace."""
        return NS_CREDIT_NOTE if self.root == "CreditNote" else NS_INVOICE

    @property
    def quantity_tag(self) -> str:
        """A line's quantity element (BT-129)."""
        return "CreditedQuantity" if self.root == "CreditNote" else "InvoicedQuantity"


def render_ubl(document: Document, *, type_code: str = INVOICE_TYPE_CODE) -> bytes:
    """Return the document as a UTF-8 UBL 2.1 file: a proforma as an EN 16931 Invoice (325 unless told otherwise),
    an invoice or due note as an Invoice (380, 383), a credit note as a CreditNote (381)."""
    shape = shape_of(document, type_code)
    root = etree.Element(_q(shape.namespace, shape.root), nsmap={**NSMAP, None: shape.namespace})
    _header(root, document, shape)
    _party(_cac(root, "AccountingSupplierParty"), document.seller, shape)
    _party(_cac(root, "AccountingCustomerParty"), document.buyer, shape)
    _payment(root, document)
    _tax_total(root, document)
    _monetary_total(root, document)
    for line in document.lines:
        _document_line(root, document.currency, line, line_category(document, line), shape)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def shape_of(document: Document, type_code: str = INVOICE_TYPE_CODE) -> Shape:
    """The file's shape: Peppol BIS Billing 3.0 for an issued document whose seller and buyer both have a Peppol
    address, EN 16931 core otherwise (and always for the proforma, which is no tax invoice)."""
    if document.kind == PROFORMA:
        return Shape("Invoice", type_code, CUSTOMIZATION_ID, PROFILE_ID, peppol=False)
    root = "CreditNote" if document.kind == CREDIT_NOTE else "Invoice"
    if is_peppol(document):
        return Shape(root, TYPE_CODES[document.kind], PEPPOL_CUSTOMIZATION_ID, PEPPOL_PROFILE_ID, peppol=True)
    return Shape(root, TYPE_CODES[document.kind], CUSTOMIZATION_ID, "", peppol=False)


def is_peppol(document: Document) -> bool:
    """Whether the document goes out as Peppol BIS Billing 3.0: an issued one, both parties with a Peppol address."""
    return document.kind != PROFORMA and None not in (peppol_endpoint(document.seller),
                                                      peppol_endpoint(document.buyer))


def peppol_endpoint(party: Party) -> Endpoint | None:
    """The party's Peppol address derived from its VAT number (its prefix, else the party's country), if any."""
    vat = _VAT_SEPARATORS.sub("", party.vat_id).upper()
    if not vat:
        return None
    prefix, rest = (vat[:2], vat[2:]) if vat[:2].isalpha() else (party.country.upper(), vat)
    country = VAT_PREFIXES.get(prefix, prefix)
    if country in REGISTER_SCHEMES:
        scheme, cut = REGISTER_SCHEMES[country]
        return Endpoint(scheme, cut(rest))
    return Endpoint(VAT_SCHEMES[country], prefix + rest) if country in VAT_SCHEMES else None


def money(value: Decimal) -> str:
    """Format a Decimal amount with exactly two decimals, never in exponent notation."""
    return format(Decimal(value).quantize(Decimal("0.01")), "f")


def number(value: Decimal) -> str:
    """Format a quantity or price plainly: at least two decimals, trailing zeros beyond dropped."""
    text = format(Decimal(value).normalize(), "f")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def _header(root: etree._Element, document: Document, shape: Shape) -> None:
    """Write the document-level identification, dates, notes, currency, period and references."""
    _cbc(root, "CustomizationID", shape.customization)
    _cbc_opt(root, "ProfileID", shape.profile)
    _cbc(root, "ID", document.number)
    _cbc(root, "IssueDate", document.issue_date.isoformat())
    if shape.root == "Invoice":  # a UBL CreditNote has no DueDate
        _cbc(root, "DueDate", document.due_date.isoformat())
    _cbc(root, f"{shape.root}TypeCode", shape.type_code)
    for note in _notes(document):
        _cbc(root, "Note", note)
    _cbc(root, "DocumentCurrencyCode", document.currency)
    _cbc_opt(root, "BuyerReference", buyer_reference(document, shape))  # BT-10
    if document.period_known:
        period = _cac(root, "InvoicePeriod")
        _cbc(period, "StartDate", document.period_start.isoformat())
        _cbc(period, "EndDate", document.period_end.isoformat())
    if document.purchase_order_number:  # BT-13
        _cbc(_cac(root, "OrderReference"), "ID", document.purchase_order_number)
    if document.billing_reference is not None:  # BG-3: the invoice credited or corrected
        reference = _cac(_cac(root, "BillingReference"), "InvoiceDocumentReference")
        _cbc(reference, "ID", document.billing_reference.number)
        _cbc(reference, "IssueDate", document.billing_reference.issue_date.isoformat())
    if document.contract_number:
        _cbc(_cac(root, "ContractDocumentReference"), "ID", document.contract_number)


def _notes(document: Document) -> tuple[str, ...]:
    """The proforma's notes after its disclaimer; an issued document's in one note (Peppol allows one)."""
    if document.kind == PROFORMA:
        return (PROFORMA_NOTE, *document.notes)
    text = "\n".join(note for note in document.notes if note)
    return (text,) if text else ()


def buyer_reference(document: Document, shape: Shape) -> str:
    """BT-10. Peppol wants a buyer or order reference (PEPPOL-EN16931-R003) and German buyers the buyer reference
    itself (DE-R-015): without one, the order number, else the document's number, which the buyer can route on."""
    if not shape.peppol:
        return document.buyer_reference
    return document.buyer_reference or document.purchase_order_number or document.number


def _party(wrapper: etree._Element, party: Party, shape: Shape) -> None:
    """Write a seller or buyer: endpoint, name, postal address, VAT scheme, legal entity, contact."""
    node = _cac(wrapper, "Party")
    endpoint = peppol_endpoint(party) if shape.peppol else Endpoint("EM", party.email) if party.email else None
    if endpoint is not None:
        _cbc(node, "EndpointID", endpoint.identifier, schemeID=endpoint.scheme)
    _cbc(_cac(node, "PartyName"), "Name", party.name)
    address = _cac(node, "PostalAddress")
    _cbc_opt(address, "StreetName", party.street)
    _cbc_opt(address, "CityName", party.city)
    _cbc_opt(address, "PostalZone", party.postcode)
    _cbc(_cac(address, "Country"), "IdentificationCode", party.country)
    if party.vat_id:
        scheme = _cac(node, "PartyTaxScheme")
        _cbc(scheme, "CompanyID", party.vat_id)
        _vat_scheme(scheme)
    _cbc(_cac(node, "PartyLegalEntity"), "RegistrationName", party.name)
    if party.contact_name or party.phone or party.email:  # BG-6 / BG-9; German rules want all three of the seller
        contact = _cac(node, "Contact")
        _cbc_opt(contact, "Name", party.contact_name)
        _cbc_opt(contact, "Telephone", party.phone)
        _cbc_opt(contact, "ElectronicMail", party.email)


def _payment(root: etree._Element, document: Document) -> None:
    """Write PaymentMeans (a credit transfer to the seller's account, quoting the reference) and PaymentTerms."""
    account = document.payee_account
    means = _cac(root, "PaymentMeans")
    _cbc(means, "PaymentMeansCode", payment_means_code(document))
    _cbc(means, "PaymentID", document.payment_reference or document.number)  # BT-83
    if account is not None:
        _payee_account(means, account)
    _cbc(_cac(root, "PaymentTerms"), "Note", payment_terms(document))


def payment_terms(document: Document) -> str:
    """BT-20: when to pay; a credit note says where its credit goes instead (EN 16931 wants terms or a due date)."""
    if document.kind == CREDIT_NOTE:
        return "Nothing to pay: the credit is set against the amount owed; any rest is refunded."
    return f"Payable within {document.payment_terms_days} days, by {document.due_date.isoformat()}."


def payment_means_code(document: Document) -> str:
    """UNCL4461: 58 SEPA credit transfer for euro, 30 credit transfer otherwise, 1 when no account is named."""
    if document.payee_account is None:
        return PAYMENT_MEANS_UNDEFINED
    return PAYMENT_MEANS_SEPA if document.currency == SEPA_CURRENCY else PAYMENT_MEANS_TRANSFER


def _payee_account(means: etree._Element, account: BankAccount) -> None:
    """Write PayeeFinancialAccount: IBAN (BT-84) and the branch's BIC (BT-86).

    The bank's name has no EN 16931 term (UBL-CR-429 warns against the branch name), so only people read it.
    """
    node = _cac(means, "PayeeFinancialAccount")
    _cbc(node, "ID", account.iban.replace(" ", ""))
    if account.bic:
        _cbc(_cac(node, "FinancialInstitutionBranch"), "ID", account.bic)


def _tax_total(root: etree._Element, document: Document) -> None:
    """Write the TaxTotal with one TaxSubtotal per tax breakdown."""
    total = _cac(root, "TaxTotal")
    _amount(total, "TaxAmount", document.tax_total, document.currency)
    for tax in document.taxes:
        _tax_subtotal(total, tax, document.currency)


def _tax_subtotal(total: etree._Element, tax: TaxBreakdown, currency: str) -> None:
    """Write one TaxSubtotal: taxable amount, tax amount and its category."""
    subtotal = _cac(total, "TaxSubtotal")
    _amount(subtotal, "TaxableAmount", tax.taxable_amount, currency)
    _amount(subtotal, "TaxAmount", tax.tax_amount, currency)
    category = _cac(subtotal, "TaxCategory")
    _cbc(category, "ID", tax.category)
    _cbc(category, "Percent", number(_category_rate(tax.category, tax.rate)))
    code, reason = EXEMPTION_REASONS.get(tax.category, ("", ""))
    _cbc_opt(category, "TaxExemptionReasonCode", code)
    _cbc_opt(category, "TaxExemptionReason", reason)
    _vat_scheme(category)


def _monetary_total(root: etree._Element, document: Document) -> None:
    """Write LegalMonetaryTotal from the document totals (no allowances, charges or prepayment)."""
    total = _cac(root, "LegalMonetaryTotal")
    _amount(total, "LineExtensionAmount", document.net_total, document.currency)
    _amount(total, "TaxExclusiveAmount", document.net_total, document.currency)
    _amount(total, "TaxInclusiveAmount", document.gross_total, document.currency)
    _amount(total, "PayableAmount", document.gross_total, document.currency)


def _document_line(root: etree._Element, currency: str, line: Line, category: str, shape: Shape) -> None:
    """Write one InvoiceLine or CreditNoteLine: quantity, net amount, item with tax category, price.

    A discount (a negative unit price) goes out as a negative quantity at the positive price: EN 16931 lets the
    quantity and the line amount be negative but not the price (BR-27), and the line amount stays quantity × price.
    """
    node = _cac(root, f"{shape.root}Line")
    _cbc(node, "ID", str(line.number))
    sign = -1 if line.unit_price < 0 else 1
    _cbc(node, shape.quantity_tag, number(sign * line.quantity), unitCode=line.unit)
    _amount(node, "LineExtensionAmount", line.net_amount, currency)
    item = _cac(node, "Item")
    _cbc(item, "Description", f"{line.description} ({line.source})" if line.source else line.description)
    _cbc(item, "Name", line.description)
    tax = _cac(item, "ClassifiedTaxCategory")
    _cbc(tax, "ID", category)
    _cbc(tax, "Percent", number(_category_rate(category, line.tax_rate)))
    _vat_scheme(tax)
    _cbc(_cac(node, "Price"), "PriceAmount", number(sign * line.unit_price), currencyID=currency)


def line_category(document: Document, line: Line) -> str:
    """Return a line's UNCL5305 category: its rate's breakdown category, else one from the tax rule."""
    for tax in document.taxes:
        if tax.rate == line.tax_rate:
            return tax.category
    return TAX_RULE_CATEGORIES.get(document.tax_rule) or ("S" if line.tax_rate else "Z")


def _category_rate(category: str, rate: Decimal) -> Decimal:
    """Return the rate to print: reverse charge and exempt are always 0 (BR-AE-05, BR-E-05)."""
    return Decimal(0) if category in ZERO_RATE_CATEGORIES else rate


def _vat_scheme(parent: etree._Element) -> None:
    """Append cac:TaxScheme/cbc:ID = VAT."""
    _cbc(_cac(parent, "TaxScheme"), "ID", "VAT")


def _amount(parent: etree._Element, tag: str, value: Decimal, currency: str) -> etree._Element:
    """Append a cbc amount with two decimals and its currencyID."""
    return _cbc(parent, tag, money(value), currencyID=currency)


def _cac(parent: etree._Element, tag: str) -> etree._Element:
    """Append an empty cac aggregate."""
    return etree.SubElement(parent, _q(NS_CAC, tag))


def _cbc(parent: etree._Element, tag: str, text: str, **attributes: str) -> etree._Element:
    """Append a cbc element with text and attributes."""
    node = etree.SubElement(parent, _q(NS_CBC, tag), attributes)
    node.text = text
    return node


def _cbc_opt(parent: etree._Element, tag: str, text: str) -> None:
    """Append a cbc element only when the text is not empty."""
    if text:
        _cbc(parent, tag, text)


def _q(namespace: str, tag: str) -> str:
    """Return a Clark-notation qualified name."""
    return f"{{{namespace}}}{tag}"
