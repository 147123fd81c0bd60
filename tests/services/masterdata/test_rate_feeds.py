"""The configured rate feeds (RATE_FEEDS) fetched from a real local HTTP server that publishes like the ECB and the
Bank of Russia: imported in one run, a feed that fails reported while the others still go in, the origin held."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from portal.config import ConfigError, rate_feeds
from portal.extensions import db
from portal.integrations import rate_files
from portal.models import ExchangeRate
from portal.services.masterdata import rate_import
from tests.integrations.test_rate_files import sample

PUBLISHED = {"/stats/eurofxref/eurofxref-daily.xml": ("text/xml", sample("eurofxref-daily.xml")),
             "/scripts/XML_daily.asp": ("application/xml; charset=windows-1251", sample("XML_daily.xml"))}


class Publisher(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):
        Publisher.requests.append(self.path)
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "http://example.invalid/eurofxref-daily.xml")
            self.end_headers()
            return
        found = PUBLISHED.get(self.path)
        if found is None:
            self.send_error(404)
            return
        kind, body = found
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet
        pass


@contextmanager
def publisher() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Publisher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Publisher.requests = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def sources_stored() -> set[tuple[str, str]]:
    return {(row.source, row.currency) for row in db.session.scalars(select(ExchangeRate))}


def test_both_feeds_are_fetched_and_imported(app):
    with publisher() as base:
        feeds = {"ecb": f"{base}/stats/eurofxref/eurofxref-daily.xml", "cbr": f"{base}/scripts/XML_daily.asp"}
        results = rate_import.fetch_feeds(feeds)
    assert results["ecb"]["created"] == 4 and results["cbr"]["created"] == 4
    assert ("ecb", "JPY") in sources_stored() and ("cbr", "KZT") in sources_stored()


def test_a_failing_feed_is_reported_and_the_other_still_goes_in(app):
    with publisher() as base:
        results = rate_import.fetch_feeds({"ecb": f"{base}/missing.xml", "cbr": f"{base}/scripts/XML_daily.asp"})
    assert results["ecb"] == f"failed: {base}/missing.xml: the publisher answered HTTP 404"
    assert results["cbr"]["created"] == 4
    assert {source for source, _ in sources_stored()} == {"cbr"}


def test_a_redirect_to_another_origin_is_not_followed(app):
    with publisher() as base, pytest.raises(rate_files.RateFileError, match="refused to call"):
        rate_files.fetch(f"{base}/moved")


def test_the_configured_feeds_are_what_the_job_fetches(app, monkeypatch):
    with publisher() as base:
        monkeypatch.setitem(app.config, "RATE_FEEDS", {"ecb": f"{base}/stats/eurofxref/eurofxref-daily.xml"})
        results = rate_import.fetch_feeds()
        assert Publisher.requests == ["/stats/eurofxref/eurofxref-daily.xml"]
    assert list(results) == ["ecb"] and results["ecb"]["created"] == 4


@pytest.mark.no_db
def test_rate_feeds_are_read_and_checked_at_start():
    assert rate_feeds("ecb=https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml, "
                      "cbr=https://www.cbr.ru/scripts/XML_daily.asp", https_only=True) == {
        "ecb": "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml",
        "cbr": "https://www.cbr.ru/scripts/XML_daily.asp"}
    assert rate_feeds("", https_only=True) == {}
    assert rate_feeds("ecb=http://127.0.0.1:8088/x.xml", https_only=False) == {"ecb": "http://127.0.0.1:8088/x.xml"}
    with pytest.raises(ConfigError, match="RATE_FEEDS: the ecb URL must be https with a host"):
        rate_feeds("ecb=http://www.ecb.europa.eu/x.xml", https_only=True)
    with pytest.raises(ConfigError, match="RATE_FEEDS: 'fed' is not one of ecb, cbr"):
        rate_feeds("fed=https://example.org/x", https_only=True)
    with pytest.raises(ConfigError, match="no credentials"):
        rate_feeds("cbr=https://user:pw@www.cbr.ru/x", https_only=True)
