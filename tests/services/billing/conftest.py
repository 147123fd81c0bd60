"""Billing fixtures: the shipped proforma process deployed, and a fake call-logging system."""

from __future__ import annotations

import pytest

from devtools.fake_servicenow import start_fake_servicenow
from tests.support.paths import PROFORMA_PROCESS


@pytest.fixture
def proforma_process(app):
    from portal.services.workflow import definitions

    definitions.deploy(PROFORMA_PROCESS.read_text(), "test")


@pytest.fixture
def fake():
    running = start_fake_servicenow()
    yield running
    running.stop()
