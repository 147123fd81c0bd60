"""Receivables test fixtures."""

import pytest

from portal.services.receivables import rendering


@pytest.fixture
def without_files(monkeypatch):
    """Issue without rendering the PDF and UBL files (about two seconds each: the UBL is validated in a child
    process). For tests about amounts, states and the ledger; test_rendering.py covers the files."""
    monkeypatch.setattr(rendering, "render_files", lambda document: [])
