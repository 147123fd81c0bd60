"""The one HTTP client of the integrations: a requests Session bound to one origin, urllib3 retries, timeouts."""

from __future__ import annotations

import logging
import ssl
import time
import urllib.parse
from collections.abc import Callable, Collection, Iterator
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader, MaxRetryError
from urllib3.util.retry import Retry

from portal.integrations.retry import RetryPolicy

log = logging.getLogger(__name__)

# 429 and every 5xx: the other side is busy or broken for now. This is also what the integrations call
# transient, so what one call retries here and what the job retries later (in the database) never disagree.
BUSY = frozenset({429, *range(500, 600)})
IDEMPOTENT = Retry.DEFAULT_ALLOWED_METHODS
DEFAULT_PORTS = {"http": 80, "https": 443}


class RefusedURL(ValueError):
    """The outbound guard refused a URL; nothing was sent."""


class Guard:
    """The outbound URLs one client may call: its configured origin (scheme, host, port), no credentials in the URL."""

    def __init__(self, base_url: str, schemes: Collection[str] = ("https",)):
        self.schemes = frozenset(schemes)
        self.origin = self._origin(base_url)

    def check(self, url: str) -> None:
        """Refuse a URL outside the origin: a redirect elsewhere, or a URL built from what a server answered."""
        if self._origin(url) != self.origin:
            scheme, host, port = self.origin
            raise RefusedURL(f"refused to call {url_label(url)}: this client may only call {scheme}://{host}:{port}")

    def _origin(self, url: str) -> tuple[str, str, int]:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in self.schemes:
            raise RefusedURL(f"URL must be {' or '.join(sorted(self.schemes))}: {url_label(url)!r}")
        if parts.username is not None or parts.password is not None:
            raise RefusedURL(f"credentials do not belong in the URL: {url_label(url)!r}")
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError as exc:
            raise RefusedURL(f"{exc}: {url_label(url)!r}") from exc
        if not parts.hostname:
            raise RefusedURL(f"URL has no host: {url_label(url)!r}")
        return parts.scheme, parts.hostname, port


def url_label(url: str) -> str:
    """The URL without credentials, query or fragment: safe in messages and logs."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


class PolicyRetry(Retry):
    """urllib3's Retry, waiting as a RetryPolicy says through an injectable sleep, and logging each retry."""

    RETRY_AFTER_STATUS_CODES = frozenset({429, 503})  # not 413: an upload too large stays too large

    def __init__(self, *args, sleep: Callable[[float], Any] = time.sleep, label: str = "HTTP", **kwargs):
        super().__init__(*args, **kwargs)
        self.sleeper, self.label = sleep, label

    def new(self, **kwargs) -> PolicyRetry:
        """The next state; urllib3 rebuilds it from its own parameters, so carry ours over."""
        retry = super().new(**kwargs)
        retry.sleeper, retry.label = self.sleeper, self.label
        return retry

    def increment(self, *args, **kwargs) -> PolicyRetry:
        """Count a failure; on giving up, the error records how many attempts were made (for the message)."""
        try:
            return super().increment(*args, **kwargs)
        except MaxRetryError as exc:
            exc.attempts = len(self.history) + 1
            raise

    def get_backoff_time(self) -> float:
        """base, 2 x base, 4 x base...: urllib3 would retry the first failure at once, hammering a busy server."""
        failures = len(self.history)
        return min(self.backoff_max, self.backoff_factor * 2 ** (failures - 1)) if failures else 0.0

    def sleep(self, response=None) -> None:
        """Wait the backoff, or the server's Retry-After (capped) when that is longer: the RetryPolicy's rule."""
        delay = max(self._retry_after(response) or 0.0, self.get_backoff_time())
        if self.history:
            last = self.history[-1]
            why = f"HTTP {last.status}" if last.status else reason(last.error) if last.error else "no answer"
            log.warning("%s attempt %d at %s failed (%s); retrying in %.1fs", self.label, len(self.history),
                        (last.url or "").partition("?")[0], why, delay)
        if delay > 0:
            self.sleeper(delay)

    def _retry_after(self, response) -> float | None:
        if response is None or not self.respect_retry_after_header:
            return None
        try:
            return self.get_retry_after(response)
        except InvalidHeader:  # an unreadable Retry-After: fall back to the backoff
            return None


def retry_for(policy: RetryPolicy, *, sleep: Callable[[float], Any], label: str,
              methods: Collection[str] = IDEMPOTENT, statuses: Collection[int] = BUSY) -> PolicyRetry:
    """The urllib3 Retry of a RetryPolicy: connection failures, timeouts and busy answers, never TLS failures."""
    return PolicyRetry(total=policy.attempts - 1, other=0,  # other: TLS and the like, which retrying cannot fix
                       allowed_methods=frozenset(methods), status_forcelist=frozenset(statuses),
                       backoff_factor=policy.base_delay, backoff_max=policy.max_delay,
                       retry_after_max=int(policy.max_retry_after), raise_on_status=False, sleep=sleep, label=label)


class Session(requests.Session):
    """A requests Session that calls only its guard's origin and never waits longer than its timeout."""

    def __init__(self, guard: Guard, timeout: float):
        super().__init__()
        self.guard, self.timeout = guard, timeout
        self.trust_env = False  # settings come from the portal, not the worker's environment (.netrc, CA bundle)
        self.headers["User-Agent"] = "Ledgerflow"

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        """Check the URL before anything is sent (every redirect hop comes here too); default the timeout."""
        self.guard.check(request.url)
        if kwargs.get("timeout") is None:  # requests has no session-wide timeout; without one a call can hang
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


class _Adapter(HTTPAdapter):
    """Mounts the Retry and one TLS context for every connection."""

    def __init__(self, retry: Retry, ssl_context: ssl.SSLContext):
        self.ssl_context = ssl_context  # init_poolmanager, called by HTTPAdapter.__init__, reads it
        super().__init__(max_retries=retry)

    def init_poolmanager(self, *args, **kwargs) -> None:
        """Pools built with our TLS context."""
        super().init_poolmanager(*args, **{**kwargs, "ssl_context": self.ssl_context})

    def cert_verify(self, conn, url: str, verify, cert) -> None:
        """Certificates checked against our context alone: requests would add its CA bundle to it."""
        super().cert_verify(conn, url, verify, cert)
        conn.ca_certs = conn.ca_cert_dir = None


def session(base_url: str, *, label: str, timeout: float, policy: RetryPolicy = RetryPolicy(),
           sleep: Callable[[float], Any] = time.sleep, schemes: Collection[str] = ("https",),
           retry_methods: Collection[str] = IDEMPOTENT, retry_statuses: Collection[int] = BUSY,
           ssl_context: ssl.SSLContext | None = None, env_proxies: bool = False) -> Session:
    """A Session for the origin of `base_url`: retried as `policy` says, `timeout` seconds per call, certificates
    checked against `ssl_context` (the system's trust store by default), proxies from the environment on request."""
    session = Session(Guard(base_url, schemes), timeout)
    retry = retry_for(policy, sleep=sleep, label=label, methods=retry_methods, statuses=retry_statuses)
    adapter = _Adapter(retry, ssl_context or ssl.create_default_context())
    for prefix in ("https://", "http://"):
        session.mount(prefix, adapter)
    if env_proxies:
        session.proxies = requests.utils.get_environ_proxies(base_url)
    return session


def attempts(outcome: requests.Response | BaseException) -> int:
    """How many attempts a call took: from the Retry's history on an answer, from the give-up on an error."""
    if isinstance(outcome, requests.Response):
        retries = getattr(outcome.raw, "retries", None)
        return len(retries.history) + 1 if retries else 1
    given_up = cause(outcome, MaxRetryError)
    return getattr(given_up, "attempts", 1) if given_up else 1


def cause(exc: BaseException, kind: type[BaseException]) -> Any:
    """The first exception of `kind` among `exc` and what it wraps, else None."""
    return next((link for link in _chain(exc) if isinstance(link, kind)), None)


def reason(exc: BaseException) -> str:
    """Why a request failed, in a few words: the innermost error (no URL query, no headers)."""
    innermost = list(_chain(exc))[-1]
    return str(innermost) or type(innermost).__name__


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        wrapped = [getattr(link, "reason", None), *link.args, link.__cause__]
        link = next((item for item in wrapped if isinstance(item, BaseException)), None)
