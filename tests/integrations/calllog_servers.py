"""Call-logging test servers beyond the plain fake: one that proves requests run side by side."""

from __future__ import annotations

import threading

from portal.integrations.fake_servicenow import FakeServiceNow, RunningFake, start_fake_servicenow


def start_fake_answering_in_pairs(timeout: float = 20) -> RunningFake:
    """The demo fake, answering only while two requests are in flight at once: fetched one by one, every
    request fails after `timeout` seconds."""
    fake, together = FakeServiceNow(), threading.Barrier(2, timeout=timeout)

    def in_pairs(environ, start_response):
        together.wait()
        return fake(environ, start_response)

    return start_fake_servicenow(in_pairs)
