"""The shared HTTP client against real loopback servers: urllib3 retries, the default timeout, the outbound guard."""

from __future__ import annotations

import threading

import pytest
import requests
from pytest_httpserver import HTTPServer
from urllib3.exceptions import ReadTimeoutError
from werkzeug import Response

from portal.integrations import http
from portal.integrations.retry import RetryPolicy
from tests.support.upload_servers import black_hole

pytestmark = pytest.mark.no_db


@pytest.fixture
def server():
    running = HTTPServer("127.0.0.1", 0)
    running.start()
    yield running
    running.clear()
    running.stop()


@pytest.fixture
def sleeps() -> list[float]:
    return []


def answering(server: HTTPServer, *answers: Response, method: str = "GET") -> None:
    """Serve /call with these answers in turn, the last one for ever after."""
    queue = list(answers)
    server.expect_request("/call", method=method).respond_with_handler(
        lambda request: queue.pop(0) if len(queue) > 1 else queue[0])


def busy(retry_after: str | None = None, status: int = 503) -> Response:
    return Response("busy", status=status, headers={"Retry-After": retry_after} if retry_after else {})


def session(server: HTTPServer, sleeps: list[float], **options) -> http.Session:
    return http.session(server.url_for("/"), label="Test", schemes=("http",), sleep=sleeps.append,
                        **{"timeout": 5.0, **options})


def calls(server: HTTPServer) -> int:
    return len(server.log)


def test_503_twice_with_retry_after_then_200_is_one_successful_call(server, sleeps):
    answering(server, busy("3"), busy("3"), Response("done"))
    response = session(server, sleeps).get(server.url_for("/call"))
    assert (response.status_code, response.text) == (200, "done")
    assert calls(server) == 3 and sleeps == [3, 3] and http.attempts(response) == 3


def test_retry_after_shorter_than_the_backoff_waits_the_backoff(server, sleeps):
    answering(server, busy("1"), busy("1"), Response("done"))
    assert session(server, sleeps).get(server.url_for("/call")).status_code == 200
    assert sleeps == [1.0, 2.0]


def test_a_400_is_not_retried(server, sleeps):
    answering(server, Response("bad query", status=400), Response("done"))
    response = session(server, sleeps).get(server.url_for("/call"))
    assert response.status_code == 400 and calls(server) == 1 and sleeps == [] and http.attempts(response) == 1


def test_busy_to_the_end_answers_the_last_reply_and_counts_the_attempts(server, sleeps):
    answering(server, busy(status=502))
    response = session(server, sleeps, policy=RetryPolicy(attempts=3, base_delay=0.5)).get(server.url_for("/call"))
    assert response.status_code == 502 and calls(server) == 3 and http.attempts(response) == 3
    assert sleeps == [0.5, 1.0]


def test_post_is_retried_only_when_the_caller_allows_it(server, sleeps):
    answering(server, busy(), busy(), busy(), Response("stored"), method="POST")
    assert session(server, sleeps).post(server.url_for("/call"), data=b"x").status_code == 503
    assert calls(server) == 1 and sleeps == []
    retried = session(server, sleeps, retry_methods={"POST"}).post(server.url_for("/call"), data=b"x")
    assert retried.status_code == 200 and calls(server) == 4 and sleeps == [1.0, 2.0]


def test_the_session_timeout_applies_to_every_call(sleeps):
    outcome: list[BaseException] = []
    with black_hole() as listener:  # accepts connections, never answers
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/call"
        web = http.session(url, label="Test", schemes=("http",), sleep=sleeps.append, timeout=0.2,
                           policy=RetryPolicy(attempts=2))

        def call():
            try:
                web.get(url)
            except requests.RequestException as exc:
                outcome.append(exc)

        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        caller.join(30)  # without a timeout the call would hang: fail instead of stalling the suite
    assert not caller.is_alive(), "the call did not time out"
    [error] = outcome
    timed_out = http.cause(error, ReadTimeoutError)
    assert timed_out is not None and "read timeout=0.2" in str(timed_out)
    assert http.attempts(error) == 2 and sleeps == [1.0] and http.reason(error) == "timed out"


@pytest.mark.parametrize("target", [
    "http://127.0.0.1:{port}/call",  # another port
    "http://localhost:{server}/call",  # another host name
    "https://127.0.0.1:{server}/call",  # another scheme
    "http://user:pw@127.0.0.1:{server}/call",  # credentials in the URL
])
def test_the_guard_refuses_a_forbidden_url_before_any_connection(server, sleeps, target):
    answering(server, Response("done"))
    with black_hole() as listener:
        url = target.format(port=listener.getsockname()[1], server=server.port)
        with pytest.raises(http.RefusedURL, match=r"refused to call|must be http|credentials"):
            session(server, sleeps).get(url)
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):  # nobody knocked
            listener.accept()
    assert calls(server) == 0 and "pw" not in url.partition("@")[2]


def test_a_redirect_out_of_the_origin_is_refused_before_it_is_followed(server, sleeps):
    with black_hole() as listener:
        elsewhere = f"http://127.0.0.1:{listener.getsockname()[1]}/steal"
        answering(server, Response("", status=302, headers={"Location": elsewhere}))
        with pytest.raises(http.RefusedURL, match=r"refused to call http://127\.0\.0\.1:\d+/steal"):
            session(server, sleeps).get(server.url_for("/call"), headers={"Authorization": "Bearer secret"})
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert calls(server) == 1


@pytest.mark.parametrize(("url", "problem"), [
    ("ftp://example.com/in", "must be https"),
    ("https://bob:pw@example.com/in", "credentials"),
    ("https://example.com:99999/in", "out of range"),
    ("https:///in", "no host"),
])
def test_the_guard_checks_the_configured_url(url, problem):
    with pytest.raises(http.RefusedURL, match=problem) as caught:
        http.Guard(url)
    assert "pw" not in str(caught.value)


def test_integration_errors_leave_the_http_status_to_the_edge():
    from portal.edge import http_status
    from portal.integrations.channels import UploadError
    from portal.integrations.servicenow import CallLogError

    for error in (CallLogError("incident: HTTP 401", table="incident", http_status=401),
                  UploadError("https://x/upload: HTTP 413", channel="https://x/upload", http_status=413)):
        assert not hasattr(type(error), "status"), f"{type(error).__name__} decides an HTTP status"
        assert http_status(error) == 502  # the other system failed us, whatever it answered (kept in http_status)
