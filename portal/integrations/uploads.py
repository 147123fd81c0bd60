"""Uploading documents to a customer's channel (SFTP or HTTPS) with an idempotency key; one receipt per file."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import re
import secrets
import ssl
import time
import urllib.parse
from collections.abc import Callable
from datetime import datetime
from typing import Any

from portal.integrations import sftp
from portal.integrations.channels import (  # noqa: F401 - the upload API callers import from here
    Channel,
    ChannelError,
    Receipt,
    UploadError,
    UploadFile,
    parse_host_keys,
)
from portal.integrations.retry import RetryPolicy, Transient, retrying, utcnow
from portal.integrations.sftp import remote_name  # noqa: F401 - part of the upload API

log = logging.getLogger(__name__)

KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,200}")  # printable ASCII without spaces: safe in a header and a log line
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
        for file in files:
            key = idempotency_key if len(files) == 1 else f"{idempotency_key}:{file.name}"
            receipts[file.name] = _retrying(channel, lambda f=file, k=key: _https_put(channel, f, k, now),
                                            sleep, retry)
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
    return retrying(attempt_once, what=f"Upload {channel.label}", policy=retry, sleep=sleep,
                    give_up=lambda attempts, exc: UploadError(
                        f"{channel.label}: upload failed after {attempts} attempts ({exc})", channel=channel.label,
                        transient=True))


def _https_put(channel: Channel, file: UploadFile, key: str, now: Callable[[], datetime]) -> Receipt:
    body, boundary = _multipart(file)
    headers = {"Idempotency-Key": key, "Content-Type": f"multipart/form-data; boundary={boundary}",
               "Accept": "application/json", "User-Agent": "Ledgerflow", **_authorization(channel)}
    status, headers, payload = _post(channel, body, headers)
    return _https_receipt(channel, file, key, status, headers, payload, now)


def _multipart(file: UploadFile) -> tuple[bytes, str]:
    boundary = f"ledgerflow-{secrets.token_hex(16)}"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file.name}"\r\n'
            f"Content-Type: {file.content_type}\r\n\r\n")
    return head.encode() + file.content + f"\r\n--{boundary}--\r\n".encode(), boundary


def _authorization(channel: Channel) -> dict[str, str]:
    if channel.username:
        return {"Authorization": "Basic " + base64.b64encode(f"{channel.username}:{channel.secret}".encode()).decode()}
    return {"Authorization": f"Bearer {channel.secret}"} if channel.secret else {}


def _post(channel: Channel, body: bytes, headers: dict[str, str]) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One POST with certificate checks; never follows a redirect (it would carry the credentials elsewhere)."""
    parts = urllib.parse.urlsplit(channel.url)
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    connection = http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=channel.timeout,
                                             context=channel.tls_context())
    try:
        connection.request("POST", target, body, headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    except ssl.SSLCertVerificationError as exc:
        raise UploadError(f"{channel.label}: server certificate not trusted ({exc.verify_message}); "
                          "configure the CA certificate that issued it", channel=channel.label) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise Transient(str(exc) or type(exc).__name__) from exc
    finally:
        connection.close()


def _https_receipt(channel: Channel, file: UploadFile, key: str, status: int, headers: http.client.HTTPMessage,
                   payload: bytes, now: Callable[[], datetime]) -> Receipt:
    if status in (408, 429) or status >= 500:
        retry_after = headers.get("Retry-After", "").strip()
        raise Transient(f"HTTP {status}", retry_after=float(retry_after) if retry_after.isdigit() else None)
    answer = _json_object(payload)
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
