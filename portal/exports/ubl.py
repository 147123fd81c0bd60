"""UBL 2.1 Invoice (EN 16931 core) rendered from a Document with lxml."""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from portal.exports.document import BankAccount, Document, Line, Party, TaxBreakdown

NS_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
NS_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
NSMAP = {None: NS_INVOICE, "cac": NS_CAC, "cbc": NS_CBC}

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017"
PROFILE_ID = "urn:fdc:ledgerflow:proforma:1.0"
# UNTDID 1001 325 proforma invoice: EN 16931 accepts it; CIUS such as XRechnung do not (they want 380).
INVOICE_TYPE_CODE = "325"
PROFORMA_NOTE = "Proforma invoice: not a tax invoice, no input VAT deduction. Payment request only."
# UNCL4461 payment means; 30 and 58 need PayeeFinancialAccount/ID (BR-61).
PAYMENT_MEANS_UNDEFINED = "1"  # instrument not defined: no account named
PAYMENT_MEANS_TRANSFER = "30"  # credit transfer (any currency)
PAYMENT_MEANS_SEPA = "58"  # SEPA credit transfer, euro only
SEPA_CURRENCY = "EUR"

# UNCL5305 categories needing an exemption reason (BR-AE-10, BR-E-10); S and Z must not carry one.
EXEMPTION_REASONS = {
    "AE": ("VATEX-EU-AE", "Reverse charge"),
    "E": ("", "Exempt from VAT"),
}
ZERO_RATE_CATEGORIES = frozenset({"AE", "E"})
TAX_RULE_CATEGORIES = {"reverse_charge": "AE", "exempt": "E"}


def render_ubl(document: Document, *, type_code: str = INVOICE_TYPE_CODE) -> bytes:
    """Return the document as a UTF-8 UBL 2.1 Invoice (EN 16931 core), a proforma (325) unless told otherwise."""
    root = etree.Element(_q(NS_INVOICE, "Invoice"), nsmap=NSMAP)
    _header(root, document, type_code)
    _party(_cac(root, "AccountingSupplierParty"), document.seller)
    _party(_cac(root, "AccountingCustomerParty"), document.buyer)
    _payment(root, document)
    _tax_total(root, document)
    _monetary_total(root, document)
    for line in document.lines:
        _invoice_line(root, document.currency, line, line_category(document, line))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def money(value: Decimal) -> str:
    """Format a Decimal amount with exactly two decimals, never in exponent notation."""
    return format(Decimal(value).quantize(Decimal("0.01")), "f")


def number(value: Decimal) -> str:
    """Format a quantity or price plainly: at least two decimals, trailing zeros beyond dropped."""
    text = format(Decimal(value).normalize(), "f")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def _header(root: etree._Element, document: Document, type_code: str) -> None:
    """Write the document-level identification, dates, notes, currency, period and references."""
    _cbc(root, "CustomizationID", CUSTOMIZATION_ID)
    _cbc(root, "ProfileID", PROFILE_ID)
    _cbc(root, "ID", document.number)
    _cbc(root, "IssueDate", document.issue_date.isoformat())
    _cbc(root, "DueDate", document.due_date.isoformat())
    _cbc(root, "InvoiceTypeCode", type_code)
    for note in (PROFORMA_NOTE, *document.notes):
        _cbc(root, "Note", note)
    _cbc(root, "DocumentCurrencyCode", document.currency)
    _cbc_opt(root, "BuyerReference", document.buyer_reference)  # BT-10
    period = _cac(root, "InvoicePeriod")
    _cbc(period, "StartDate", document.period_start.isoformat())
    _cbc(period, "EndDate", document.period_end.isoformat())
    if document.purchase_order_number:  # BT-13
        _cbc(_cac(root, "OrderReference"), "ID", document.purchase_order_number)
    if document.contract_number:
        _cbc(_cac(root, "ContractDocumentReference"), "ID", document.contract_number)


def _party(wrapper: etree._Element, party: Party) -> None:
    """Write a seller or buyer: endpoint, name, postal address, VAT scheme, legal entity, contact."""
    node = _cac(wrapper, "Party")
    if party.email:
        _cbc(node, "EndpointID", party.email, schemeID="EM")
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
    if party.email:
        _cbc(_cac(node, "Contact"), "ElectronicMail", party.email)


def _payment(root: etree._Element, document: Document) -> None:
    """Write PaymentMeans (a credit transfer to the seller's account, quoting the reference) and PaymentTerms."""
    account = document.payee_account
    means = _cac(root, "PaymentMeans")
    _cbc(means, "PaymentMeansCode", payment_means_code(document))
    _cbc(means, "PaymentID", document.payment_reference or document.number)  # BT-83
    if account is not None:
        _payee_account(means, account)
    terms = f"Payable within {document.payment_terms_days} days, by {document.due_date.isoformat()}."
    _cbc(_cac(root, "PaymentTerms"), "Note", terms)


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


def _invoice_line(root: etree._Element, currency: str, line: Line, category: str) -> None:
    """Write one InvoiceLine: quantity, net amount, item with tax category, price.

    A discount (a negative unit price) goes out as a negative quantity at the positive price: EN 16931 lets the
    quantity and the line amount be negative but not the price (BR-27), and the line amount stays quantity × price.
    """
    node = _cac(root, "InvoiceLine")
    _cbc(node, "ID", str(line.number))
    sign = -1 if line.unit_price < 0 else 1
    _cbc(node, "InvoicedQuantity", number(sign * line.quantity), unitCode=line.unit)
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
