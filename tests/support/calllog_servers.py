"""Call-logging test servers beyond the plain fake: one that proves requests run side by side."""

from __future__ import annotations

import threading

from devtools.fake_servicenow import FakeServiceNow, RunningFake, start_fake_servicenow


def start_fake_answering_in_pairs(timeout: float = 5) -> RunningFake:
    """The demo fake, answering only while two requests are in flight at once. A lone request breaks the
    barrier after `timeout` seconds (less than the client's 10 s), and a broken barrier fails every request
    after it, retries included: fetched one by one, nothing is ever answered."""
    fake, together = FakeServiceNow(), threading.Barrier(2, timeout=timeout)

    def in_pairs(environ, start_response):
        together.wait()
        return fake(environ, start_response)

    return start_fake_servicenow(in_pairs)
