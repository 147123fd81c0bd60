"""Uploading documents to a customer's channel (SFTP or HTTPS) with an idempotency key; one receipt per file."""

from __future__ import annotations

import base64
import json
import logging
import re
import ssl
import time
import urllib.parse
from collections.abc import Callable
from datetime import datetime
from typing import Any

import requests

from portal.integrations import http, sftp
from portal.integrations.channels import (  # noqa: F401 - the upload API callers import from here
    Channel,
    ChannelError,
    Receipt,
    UploadError,
    UploadFile,
    parse_host_keys,
)
from portal.integrations.retry import RetryPolicy, retrying, utcnow
from portal.integrations.sftp import remote_name  # noqa: F401 - part of the upload API

log = logging.getLogger(__name__)

KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,200}")  # printable ASCII without spaces: safe in a header and a log line
BUSY = frozenset({*http.BUSY, 408})  # 408: the receiver gave up waiting for our body; a new attempt may deliver it
HTTP_HINTS = {401: "bad credentials", 403: "not allowed", 404: "wrong URL", 413: "file too large"}


def upload(channel: Channel, files: list[UploadFile], idempotency_key: str, *,
           sleep: Callable[[float], Any] = time.sleep, retry: RetryPolicy = RetryPolicy(),
           now: Callable[[], datetime] = utcnow) -> list[Receipt]:
    """Send every file once (a re-send with the same key is recognised, not duplicated); one receipt per file."""
    _check_request(files, idempotency_key)
    receipts: dict[str, Receipt] = {}  # survives retries, so a file sent before a failure is not sent again
    if channel.kind == "sftp":
        _retrying(channel, lambda: sftp.send_files(channel, files, idempotency_key, receipts, now), sleep, retry)
    else:
        with _https_session(channel, sleep, retry) as web:
            for file in files:
                key = idempotency_key if len(files) == 1 else f"{idempotency_key}:{file.name}"
                receipts[file.name] = _https_receipt(channel, file, key, _post(web, channel, file, key), now)
    for receipt in receipts.values():
        log.info("Upload %s -> %s (%s, key %s)", channel.label, receipt.location, receipt.status,
                 receipt.idempotency_key)
    return [receipts[file.name] for file in files]


def _check_request(files: list[UploadFile], idempotency_key: str) -> None:
    if not KEY_PATTERN.fullmatch(idempotency_key):
        raise ValueError(f"idempotency key must be 1-200 printable ASCII characters: {idempotency_key!r}")
    names = [file.name for file in files]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"give one or more files with distinct names, not {names}")


def _retrying(channel: Channel, attempt_once, sleep: Callable[[float], Any], retry: RetryPolicy):
    """SFTP is no HTTP, so it keeps retry.py's loop; HTTPS retries are the session's."""
    return retrying(attempt_once, what=f"Upload {channel.label}", policy=retry, sleep=sleep,
                    give_up=lambda attempts, exc: _gave_up(channel, attempts, str(exc)))


def _gave_up(channel: Channel, attempts: int, why: str) -> UploadError:
    return UploadError(f"{channel.label}: upload failed after {attempts} attempts ({why})", channel=channel.label,
                       transient=True)


def _https_session(channel: Channel, sleep: Callable[[float], Any], retry: RetryPolicy) -> http.Session:
    # POST is retried although it is not idempotent in general: every upload carries an Idempotency-Key that the
    # receiver deduplicates on (a repeat is answered 200, or 409 naming the key, with the first reference), so a
    # retry after a lost answer cannot store the file twice.
    return http.session(channel.url, label=f"Upload {channel.label}", timeout=channel.timeout, policy=retry,
                        sleep=sleep, retry_methods={"POST"}, retry_statuses=BUSY,
                        ssl_context=channel.tls_context())


def _post(web: http.Session, channel: Channel, file: UploadFile, key: str) -> requests.Response:
    """The file as multipart form data; never follows a redirect (it would carry the credentials elsewhere)."""
    headers = {"Idempotency-Key": key, "Accept": "application/json", **_authorization(channel)}
    try:
        return web.post(channel.url, files={"file": (file.name, file.content, file.content_type)}, headers=headers,
                        allow_redirects=False)
    except http.RefusedURL as exc:
        raise UploadError(f"{channel.label}: {exc}", channel=channel.label, file=file.name) from exc
    except requests.RequestException as exc:
        untrusted = http.cause(exc, ssl.SSLCertVerificationError)
        if untrusted:
            raise UploadError(f"{channel.label}: server certificate not trusted ({untrusted.verify_message}); "
                              "configure the CA certificate that issued it", channel=channel.label) from exc
        raise _gave_up(channel, http.attempts(exc), http.reason(exc)) from exc


def _authorization(channel: Channel) -> dict[str, str]:
    if channel.username:
        return {"Authorization": "Basic " + base64.b64encode(f"{channel.username}:{channel.secret}".encode()).decode()}
    return {"Authorization": f"Bearer {channel.secret}"} if channel.secret else {}


def _https_receipt(channel: Channel, file: UploadFile, key: str, response: requests.Response,
                   now: Callable[[], datetime]) -> Receipt:
    status, headers = response.status_code, response.headers
    if status in BUSY:
        raise _gave_up(channel, http.attempts(response), f"HTTP {status}")
    answer = _json_object(response.content)
    replayed = key in (headers.get("Idempotency-Key"), answer.get("idempotency_key"))
    if status not in (200, 201, 202) and not (status == 409 and replayed):
        detail = ", ".join(filter(None, [HTTP_HINTS.get(status), str(answer.get("error") or "")[:200]]))
        raise UploadError(f"{channel.label}: {file.name}: HTTP {status}" + (f" ({detail})" if detail else ""),
                          channel=channel.label, http_status=status, file=file.name)
    reference = answer.get("reference")
    reference = "" if isinstance(reference, bool) or not isinstance(reference, str | int) else str(reference)
    if status != 409 and not reference:
        raise UploadError(f"{channel.label}: {file.name}: HTTP {status} without a receipt reference",
                          channel=channel.label, http_status=status, file=file.name)
    location = urllib.parse.urljoin(channel.url, headers.get("Location") or "")
    return Receipt("https", location, key, f"HTTP {status}", reference, now(),
                   already_present=status == 409 or (status == 200 and replayed))


def _json_object(payload: bytes) -> dict:
    try:
        data = json.loads(payload or b"{}")
    except ValueError:
        data = None
    return data if isinstance(data, dict) else {}
