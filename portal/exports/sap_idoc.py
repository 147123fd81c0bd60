"""SAP IDoc INVOIC02 (message type INVOIC) as XML, rendered from a Document and checked against our own XSD.

SAP publishes no XSD for IDoc XML; schemas/invoic02.xsd describes exactly what we emit (segments, SAP field
lengths, cardinalities). The mapping is documented in docs/sap_mapping.md. Rules kept here:
- amounts are Decimal rendered as dot-decimal text, padded to the currency's minor unit, never rounded;
- free text (names, streets, descriptions) is cut to SAP's field length, the full text going to a text
  segment where it matters; identifiers and amounts are never cut: too long means an IdocError;
- render_idoc validates its own output and raises IdocError rather than return an IDoc SAP would reject.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from lxml import etree

from portal.errors import DomainError
from portal.exports.document import Document, Line, Party
from portal.exports.sap_common import decimal_text, money_text, rate_text, sap_date, single_line, tax_category
from portal.money import minor_units

SCHEMA_PATH = Path(__file__).with_name("schemas") / "invoic02.xsd"
TEXT_ID = "0001"  # TDID of header and item texts (SAPscript text id; receivers map it as they need)
TEXT_WIDTH = 70  # TDLINE
PROFORMA_TEXT = "Proforma invoice: not a tax invoice, payment request only"  # BSART has no proforma type
_PARSER_OPTIONS = {"resolve_entities": False, "no_network": True, "huge_tree": False}


class IdocError(DomainError):
    """The document cannot be expressed as a valid INVOIC02 IDoc; `errors` lists every reason."""

    def __init__(self, errors: list[str]):
        super().__init__("IDoc INVOIC02 not valid: " + "; ".join(errors))
        self.errors = list(errors)


def render_idoc(
    document: Document,
    *,
    sender: str = "LEDGERFLOW",
    receiver_partner: str | None = None,
    control_number: str | None = None,
    created_at: datetime | None = None,
    sender_port: str | None = None,
    receiver_port: str = "SAP",
    client: str = "000",
) -> bytes:
    """Render the document as INVOIC02 XML (UTF-8); raise IdocError if the result breaks the schema.

    receiver_partner overrides RCVPRN (default: the buyer's SAP partner code); control_number is DOCNUM,
    zero-padded to 16 digits (default: derived from the idempotency key, so a re-send carries the same number);
    created_at (default: now, UTC) gives CREDAT/CRETIM; sender_port defaults to `sender`.
    """
    receiver = receiver_partner or document.buyer.sap_partner_code
    if not receiver:
        raise IdocError(["RCVPRN: the buyer has no SAP partner code (Party.sap_partner_code) and none was given"])
    root = etree.Element("INVOIC02")
    idoc = etree.SubElement(root, "IDOC", BEGIN="1")
    stamp = created_at or datetime.now(UTC)
    _segment(idoc, "EDI_DC40", {
        "TABNAM": "EDI_DC40", "MANDT": client, "DOCNUM": _control_number(control_number, document),
        "DIRECT": "2", "IDOCTYP": "INVOIC02", "MESTYP": "INVOIC",
        "SNDPOR": sender_port or sender, "SNDPRT": "LS", "SNDPRN": sender,
        "RCVPOR": receiver_port, "RCVPRT": "KU", "RCVPRN": receiver,
        "CREDAT": stamp.strftime("%Y%m%d"), "CRETIM": stamp.strftime("%H%M%S"),
    })
    _header(idoc, document)
    for line in document.lines:
        _item(idoc, document, line)
    _summary(idoc, document)
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    errors = validate_idoc(xml)
    if errors:
        raise IdocError(errors)
    return xml


def validate_idoc(xml: bytes) -> list[str]:
    """Return readable errors ('line N, /path: message') against schemas/invoic02.xsd; empty means valid."""
    try:
        tree = etree.fromstring(xml, parser=etree.XMLParser(**_PARSER_OPTIONS))
    except etree.XMLSyntaxError as exc:
        return [f"line {exc.lineno}: not well-formed XML: {exc.msg}"]
    schema = _schema()
    if schema.validate(tree):
        return []
    return [f"line {error.line}, {error.path}: {error.message}" for error in schema.error_log]


@cache
def _schema() -> etree.XMLSchema:
    """Load (once) the project's INVOIC02 schema."""
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH), parser=etree.XMLParser(**_PARSER_OPTIONS)))


def _control_number(given: str | None, document: Document) -> str:
    """DOCNUM: the given number zero-padded to 16 digits (SAP NUMC), else one derived from the document."""
    if not given:
        return _docnum(document)
    return given.zfill(16) if given.isascii() and given.isdigit() else given


def _docnum(document: Document) -> str:
    """A 16-digit control number stable for the document (from its idempotency key, else its number)."""
    key = document.idempotency_key or f"{document.number}|{document.issue_date.isoformat()}"
    return str(int(hashlib.sha256(key.encode("utf-8")).hexdigest(), 16) % 10**16).zfill(16)


def _segment(parent: etree._Element, name: str, fields: dict[str, str | None]) -> etree._Element:
    """Append a segment with its fields in order; empty fields are left out, never sent empty."""
    segment = etree.SubElement(parent, name, SEGMENT="1")
    for tag, value in fields.items():
        if value:
            etree.SubElement(segment, tag).text = value
    return segment


def _cut(value: str, length: int) -> str:
    """Free text on one line, cut to an SAP field length."""
    return single_line(value)[:length]


def _header(idoc: etree._Element, document: Document) -> None:
    """E1EDK01, the partners, references (order, invoice number), dates, header taxes and header text."""
    _segment(idoc, "E1EDK01", {
        "CURCY": document.currency, "ZTERM": f"NT{document.payment_terms_days}",
        "KUNDEUINR": document.buyer.vat_id, "EIGENUINR": document.seller.vat_id,
        "BSART": "INVO", "BELNR": document.number,
    })
    for function, party in partners(document):
        _partner(idoc, function, party)
    if document.purchase_order_number:
        _segment(idoc, "E1EDK02", {"QUALF": "001", "BELNR": single_line(document.purchase_order_number)})
    _segment(idoc, "E1EDK02", {"QUALF": "009", "BELNR": document.number, "DATUM": sap_date(document.issue_date)})
    dates = (("012", document.issue_date), ("026", document.issue_date),
             ("027", document.period_end), ("028", document.due_date))
    for qualifier, day in dates:
        _segment(idoc, "E1EDK03", {"IDDAT": qualifier, "DATUM": sap_date(day)})
    for tax in document.taxes:
        _tax(idoc, "E1EDK04", tax.category, tax.rate, money_text(tax.tax_amount, document.currency))
    _texts(idoc, "E1EDKT1", "E1EDKT2", _header_lines(document))


def partners(document: Document) -> tuple[tuple[str, Party], ...]:
    """E1EDKA1 partners by function: AG sold-to, RE bill-to, RG payer, RS us, WE ship-to (AG/RG/WE default to RE)."""
    buyer = document.buyer
    return (("AG", document.sold_to or buyer), ("RE", buyer), ("RG", document.payer or buyer),
            ("RS", document.seller), ("WE", document.ship_to or buyer))


def _partner(idoc: etree._Element, function: str, party: Party) -> None:
    """E1EDKA1 for one partner function; a name over 35 characters continues in NAME2."""
    name1, name2 = _split_name(single_line(party.name))
    _segment(idoc, "E1EDKA1", {
        "PARVW": function, "PARTN": party.sap_partner_code, "NAME1": name1, "NAME2": name2,
        "STRAS": _cut(party.street, 35), "ORT01": _cut(party.city, 35),
        "PSTLZ": single_line(party.postcode), "LAND1": party.country.upper(),
    })


def _split_name(name: str, width: int = 35) -> tuple[str, str]:
    """NAME1 and NAME2: split at the last space that fits, else hard at 35; anything past 70 is cut."""
    if len(name) <= width:
        return name, ""
    cut = name.rfind(" ", 1, width + 1)
    cut = cut if cut > 0 else width
    return name[:cut], name[cut:].strip()[:width]


def _header_lines(document: Document) -> list[str]:
    """Header text: the proforma statement, the period (no IDDAT qualifier carries its start), contract, notes."""
    lines = [PROFORMA_TEXT,
             f"Service period {document.period_start.isoformat()} - {document.period_end.isoformat()}"]
    if document.contract_number:
        lines.append(f"Contract {document.contract_number}")
    for note in document.notes:
        lines.extend(note.splitlines())  # each line of a note is its own paragraph
    return lines


def _item(idoc: etree._Element, document: Document, line: Line) -> None:
    """E1EDP01 with its material/description, net amount, tax and (if needed) full text."""
    currency = document.currency
    item = _segment(idoc, "E1EDP01", {
        "POSEX": f"{line.number:06d}", "MENGE": decimal_text(line.quantity), "MENEE": line.unit.upper(),
        "VPREI": decimal_text(line.unit_price, minor_units(currency)), "PEINH": "1",
        "NETWR": money_text(line.net_amount, currency),
    })
    description = single_line(line.description)
    _segment(item, "E1EDP19", {
        "QUALF": "002", "IDTNR": single_line(line.source).partition(" ")[0][:35], "KTEXT": description[:TEXT_WIDTH],
    })
    _segment(item, "E1EDP26", {"QUALF": "003", "BETRG": money_text(line.net_amount, currency)})
    category = tax_category(document, line.tax_rate)
    _tax(item, "E1EDP04", category, line.tax_rate, money_text(line.tax_amount, currency))
    texts = [description] if len(description) > TEXT_WIDTH else []
    if line.source:
        texts.append(f"Source: {single_line(line.source)}")
    _texts(item, "E1EDPT1", "E1EDPT2", texts)


def _tax(parent: etree._Element, name: str, category: str, rate, amount: str) -> None:
    """E1EDK04/E1EDP04: tax category as MWSKZ, rate, tax amount."""
    _segment(parent, name, {"MWSKZ": category, "MSATZ": rate_text(rate), "MWSBT": amount})


def _texts(parent: etree._Element, name: str, line_name: str, lines: list[str]) -> None:
    """A text segment (TDID 0001) with 70-character TDLINEs: '*' starts a line, '=' continues it."""
    lines = [single_line(text) for text in lines if single_line(text)]
    if not lines:
        return
    text = _segment(parent, name, {"TDID": TEXT_ID})
    for line in lines:
        for start in range(0, len(line), TEXT_WIDTH):
            fmt = "*" if start == 0 else "="
            _segment(text, line_name, {"TDLINE": line[start:start + TEXT_WIDTH], "TDFORMAT": fmt})


def _summary(idoc: etree._Element, document: Document) -> None:
    """E1EDS01: number of items (001), net (010), tax (005) and gross (011) totals."""
    currency = document.currency
    _segment(idoc, "E1EDS01", {"SUMID": "001", "SUMME": str(len(document.lines))})
    for qualifier, amount in (("010", document.net_total), ("005", document.tax_total),
                              ("011", document.gross_total)):
        _segment(idoc, "E1EDS01", {"SUMID": qualifier, "SUMME": money_text(amount, currency), "WAERQ": currency})
