"""Fixtures for the workflow engine tests (no database)."""

import pytest
import SpiffWorkflow.bpmn.specs.event_definitions.timer as spiff_timer

from tests.support.engine import Clock, frozen_datetime


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Freeze the clock Spiff's timers read (due times and has-fired checks); move it with clock.advance()."""
    state = Clock()
    monkeypatch.setattr(spiff_timer, "datetime", frozen_datetime(state))
    return state
