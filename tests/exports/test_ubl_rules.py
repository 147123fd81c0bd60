"""The UBL validator runs further rule sets after EN 16931 (the official Peppol BIS Billing 3.0 rules, compiled to
XSLT 2.0) and picks the schema by the root element (Invoice or CreditNote)."""

from __future__ import annotations

import pytest

from portal.exports.ubl import render_ubl
from portal.exports.ubl_validate import UblValidationError, validate_many, validate_ubl
from tests.exports.test_ubl import PAYABLE, rule_ids
from tests.support.paths import PEPPOL_RULES
from tests.support.servers import require_service

pytestmark = pytest.mark.no_db
CREDIT_NOTE = b"""<?xml version="1.0" encoding="UTF-8"?>
<CreditNote xmlns="urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
  xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:ID>CN-2026-000001</cbc:ID><cbc:Bogus/>
</CreditNote>"""


@pytest.fixture
def peppol():
    require_service("the Peppol BIS 3 rules", PEPPOL_RULES.is_file(), f"{PEPPOL_RULES} is missing")
    return PEPPOL_RULES


def test_the_peppol_rules_run_after_en16931_and_name_what_a_proforma_lacks_for_peppol(peppol):
    """The proforma is EN 16931 core (its own ProfileID, e-mail endpoints): valid there, not a Peppol invoice."""
    xml = render_ubl(PAYABLE)
    assert validate_ubl(xml) == []
    found = rule_ids(validate_ubl(xml, rules=[peppol]))
    assert {"PEPPOL-EN16931-R004", "PEPPOL-EN16931-R007", "PEPPOL-EN16931-CL008"} <= found
    assert all(rule.startswith(("PEPPOL-", "DE-R-")) for rule in found), found


def test_several_documents_share_one_run_of_every_rule_set(peppol):
    xml = render_ubl(PAYABLE)
    first, second = validate_many([xml, xml], rules=[peppol])
    assert first == second == validate_ubl(xml, rules=[peppol]) != []  # each document gets every rule set's report


def test_a_missing_rule_set_is_named(tmp_path):
    with pytest.raises(UblValidationError, match=r"rule set not found: .*absent\.xslt"):
        validate_ubl(render_ubl(PAYABLE), rules=[tmp_path / "absent.xslt"])


def test_a_credit_note_is_checked_against_the_credit_note_schema_and_another_root_is_refused():
    errors = validate_ubl(CREDIT_NOTE)
    assert errors and errors[0].startswith("XSD: Element 'cbc:Bogus': This element is not expected.")
    assert validate_ubl(b"<Order xmlns='urn:oasis:names:specification:ubl:schema:xsd:Order-2'/>") == [
        "XML: the root element must be a UBL 2.1 Invoice or CreditNote, not "
        "{urn:oasis:names:specification:ubl:schema:xsd:Order-2}Order"]
