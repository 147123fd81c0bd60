"""Where the tests find the repository and their data files."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
DATA = TESTS / "data"
WORKFLOW_DATA = DATA / "workflows"
PROFORMA_PROCESS = ROOT / "workflows" / "definitions" / "proforma_approval.bpmn"


def workflow_file(name: str) -> str:
    """The text of a test diagram under tests/data/workflows."""
    return (WORKFLOW_DATA / name).read_text()
# The official Peppol BIS Billing 3.0 rules beside the project (tests only; see its README).
PEPPOL_RULES = ROOT.parent / "shared" / "validators" / "peppol-bis-billing-3.0.19" / "PEPPOL-EN16931-UBL.xslt"
