"""Upload channels: send a document's files over SFTP (paramiko) or HTTPS, once per idempotency key, with receipts."""

from __future__ import annotations

import base64
import errno
import hashlib
import http.client
import json
import logging
import posixpath
import re
import secrets
import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import paramiko

from portal.errors import DomainError
from portal.integrations.servicenow import RetryPolicy

log = logging.getLogger(__name__)

T = TypeVar("T")
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,200}")  # printable ASCII without spaces: safe in a header and a log line
NAME_PATTERN = re.compile(r'[^./\\"\x00-\x1f\x7f][^/\\"\x00-\x1f\x7f]{0,199}')
CONTENT_TYPE_PATTERN = re.compile(r"[\w.+-]+/[\w.+-]+(;[\x20-\x7e]*)?")
UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]")
KEY_TYPE_PATTERN = re.compile(r"(ssh|ecdsa|sk)-[\w@.-]+")
RSA_ALGORITHMS = ("rsa-sha2-512", "rsa-sha2-256")  # what a pinned ssh-rsa key is negotiated as
SFTP_HINTS = {errno.ENOENT: "no such remote folder", errno.EACCES: "permission denied",
              errno.EPERM: "permission denied"}
HTTP_HINTS = {401: "bad credentials", 403: "not allowed", 404: "wrong URL", 413: "file too large"}


class UploadError(DomainError):
    """An upload failed; names the channel (never its secret). `transient` ones are worth retrying later."""

    status = 502

    def __init__(self, message: str, *, channel: str, transient: bool = False, http_status: int | None = None,
                 file: str | None = None, offered_host_key: str | None = None):
        super().__init__(message)
        self.channel, self.transient, self.http_status, self.file = channel, transient, http_status, file
        self.offered_host_key = offered_host_key  # "type base64" of an SFTP server's key that was refused


@dataclass(frozen=True)
class UploadFile:
    """One file to send; `name` is a bare file name (no folders, not hidden)."""

    name: str
    content: bytes = field(repr=False)
    content_type: str = "application/octet-stream"

    def __post_init__(self):
        if not NAME_PATTERN.fullmatch(self.name):
            raise ValueError(f"not a plain file name: {self.name!r}")
        if not isinstance(self.content, bytes):
            raise TypeError(f"{self.name}: content must be bytes")
        if not CONTENT_TYPE_PATTERN.fullmatch(self.content_type):
            raise ValueError(f"{self.name}: not a media type: {self.content_type!r}")

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the content."""
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True, repr=False)
class Channel:
    """Where and as whom to upload; `secret` is the password (SFTP, HTTPS Basic) or the bearer token."""

    kind: Literal["sftp", "https"]
    url: str  # sftp://host[:port]/folder (/~/folder: below the login folder) or https://host[:port]/path
    username: str = ""  # HTTPS: empty sends `secret` as a bearer token
    secret: str = ""
    timeout: float = 30.0
    host_key: str = ""  # SFTP: the server's public key(s), one a line: OpenSSH, known_hosts or bare base64
    ca_bundle: str = ""  # HTTPS: PEM file of the CA(s) to trust instead of the system's

    def __post_init__(self):
        parts = urllib.parse.urlsplit(self.url)
        if self.kind not in ("sftp", "https"):
            raise ValueError(f"kind must be 'sftp' or 'https', not {self.kind!r}")
        if parts.scheme != self.kind or not parts.hostname:
            raise ValueError(f"url must be {self.kind}://host/...: {self.label!r}")
        if parts.username is not None or parts.password is not None:
            raise ValueError("put credentials in username and secret, not in the url")
        _ = parts.port  # raises ValueError on a bad port
        if not self.timeout > 0:
            raise ValueError(f"timeout must be positive, not {self.timeout!r}")
        if self.kind == "sftp" and not self.username:
            raise ValueError("an SFTP channel needs a username")
        if self.kind == "sftp" and self.host_key:
            parse_host_keys(self.host_key)

    @property
    def label(self) -> str:
        """The url without credentials, query or fragment: safe in messages and logs."""
        parts = urllib.parse.urlsplit(self.url)
        host = parts.netloc.rpartition("@")[2]
        return f"{parts.scheme}://{host}{parts.path}"

    def __repr__(self) -> str:
        return (f"Channel(kind={self.kind!r}, url={self.label!r}, username={self.username!r}, "
                f"secret={'***' if self.secret else ''!r}, timeout={self.timeout}, "
                f"host_key={bool(self.host_key)}, ca_bundle={self.ca_bundle!r})")


@dataclass(frozen=True)
class Receipt:
    """Proof of one file's upload, to store with the document; `already_present` when an earlier send had it."""

    channel: str  # "sftp" or "https"
    location: str  # sftp://host:port/folder/name, or the receiver's Location (else the url posted to)
    idempotency_key: str  # the key sent with this file
    status: str  # SFTP "stored" or "present"; HTTPS "HTTP 201" etc.
    reference: str  # the receiver's reference (HTTPS), or "sha256:<hex>" of the stored bytes (SFTP)
    uploaded_at: datetime  # UTC, naive
    already_present: bool = False


class _Transient(Exception):
    """A failure worth retrying, with the server's Retry-After in seconds when it sent one."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def upload(channel: Channel, files: list[UploadFile], idempotency_key: str, *,
           sleep: Callable[[float], Any] = time.sleep, retry: RetryPolicy = RetryPolicy(),
           now: Callable[[], datetime] = _utcnow) -> list[Receipt]:
    """Send every file once (a re-send with the same key is recognised, not duplicated); one receipt per file."""
    _check_request(files, idempotency_key)
    receipts: dict[str, Receipt] = {}  # survives retries, so a file sent before a failure is not sent again
    if channel.kind == "sftp":
        _retrying(channel, lambda: _sftp_attempt(channel, files, idempotency_key, receipts, now), sleep, retry)
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


def _retrying(channel: Channel, attempt_once: Callable[[], T], sleep: Callable[[float], Any],
              retry: RetryPolicy) -> T:
    for attempt in range(1, retry.attempts + 1):
        try:
            return attempt_once()
        except _Transient as exc:
            if attempt == retry.attempts:
                raise UploadError(f"{channel.label}: upload failed after {attempt} attempts ({exc})",
                                  channel=channel.label, transient=True) from exc
            delay = retry.delay(attempt, exc.retry_after)
            log.warning("Upload %s attempt %d failed (%s); retrying in %.1fs", channel.label, attempt, exc, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover - attempts >= 1


def parse_host_keys(text: str) -> list[paramiko.PKey]:
    """Public keys, one a line: `type base64 [comment]`, a known_hosts line (host ignored) or bare base64."""
    keys = [_parse_key_line(line.strip()) for line in text.splitlines() if line.strip()[:1] not in ("", "#")]
    if not keys:
        raise ValueError("no host key given")
    return keys


def _parse_key_line(line: str) -> paramiko.PKey:
    if line.startswith("@"):
        raise ValueError(f"known_hosts markers such as {line.split()[0]} are not supported")
    for token in line.split():
        try:
            blob = base64.b64decode(token, validate=True)
        except ValueError:
            continue
        size = int.from_bytes(blob[:4], "big")
        key_type = blob[4:4 + size].decode("ascii", "replace")
        if len(blob) > 4 + size and KEY_TYPE_PATTERN.fullmatch(key_type):
            try:
                return paramiko.PKey.from_type_string(key_type, blob)
            except (paramiko.SSHException, ValueError, TypeError, IndexError) as exc:
                raise ValueError(f"unusable {key_type} host key: {exc}") from exc
    raise ValueError(f"not an SSH public key: {line[:40]!r}")


def remote_name(idempotency_key: str, name: str) -> str:
    """The file's name on the SFTP server: the key (file-name safe) as a prefix, so a re-send finds it."""
    safe = UNSAFE_IN_NAME.sub("-", idempotency_key)
    if safe != idempotency_key:
        safe += "-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:8]
    return f"{safe}_{name}"


def _sftp_attempt(channel: Channel, files: list[UploadFile], key: str, receipts: dict[str, Receipt],
                  now: Callable[[], datetime]) -> None:
    try:
        with _sftp_session(channel) as sftp:
            for file in files:
                if file.name not in receipts:
                    receipts[file.name] = _sftp_put(sftp, channel, file, key, now)
    except paramiko.BadAuthenticationType as exc:
        raise UploadError(f"{channel.label}: the server takes no password logins (only {exc.allowed_types})",
                          channel=channel.label) from exc
    except paramiko.AuthenticationException as exc:
        raise UploadError(f"{channel.label}: login refused for user {channel.username!r} (wrong password?)",
                          channel=channel.label) from exc
    except paramiko.IncompatiblePeer as exc:
        raise UploadError(f"{channel.label}: no common SSH algorithms ({exc})", channel=channel.label) from exc
    except OSError as exc:
        if exc.errno in SFTP_HINTS:
            raise UploadError(f"{channel.label}: {SFTP_HINTS[exc.errno]} ({exc.strerror or exc})",
                              channel=channel.label) from exc
        raise _Transient(str(exc) or type(exc).__name__) from exc
    except (EOFError, paramiko.SSHException) as exc:
        raise _Transient(str(exc) or type(exc).__name__) from exc


@contextmanager
def _sftp_session(channel: Channel) -> Iterator[paramiko.SFTPClient]:
    """A logged-in SFTP session, after the server proved it holds a pinned host key (before the password goes)."""
    parts = urllib.parse.urlsplit(channel.url)
    pinned = parse_host_keys(channel.host_key) if channel.host_key else []
    transport = paramiko.Transport(socket.create_connection((parts.hostname, parts.port or 22), channel.timeout))
    try:
        transport.banner_timeout = transport.auth_timeout = transport.handshake_timeout = channel.timeout
        if pinned:  # ask for the pinned key's type, else a server with several keys may show another one
            transport.get_security_options().key_types = _host_key_algorithms(pinned)
        transport.start_client(timeout=channel.timeout)
        _check_host_key(channel, pinned, transport.get_remote_server_key())
        _login(transport, channel)
        sftp = paramiko.SFTPClient.from_transport(transport)
        sftp.get_channel().settimeout(channel.timeout)
        yield sftp
    finally:
        transport.close()


def _host_key_algorithms(keys: list[paramiko.PKey]) -> tuple[str, ...]:
    names = [name for key in keys for name in (RSA_ALGORITHMS if key.get_name() == "ssh-rsa" else [key.get_name()])]
    return tuple(dict.fromkeys(names))


def _check_host_key(channel: Channel, pinned: list[paramiko.PKey], offered: paramiko.PKey) -> None:
    if any(key.asbytes() == offered.asbytes() for key in pinned):
        return
    problem = "its host key is not the configured one" if pinned else "no host key is configured for it"
    raise UploadError(f"{channel.label}: {problem}; the server offered {offered.get_name()} {offered.fingerprint}. "
                      "Not logging in: check that fingerprint with the receiver, then set the channel's host key",
                      channel=channel.label, offered_host_key=f"{offered.get_name()} {offered.get_base64()}")


def _login(transport: paramiko.Transport, channel: Channel) -> None:
    try:
        transport.auth_password(channel.username, channel.secret)
    except paramiko.BadAuthenticationType as exc:
        if "keyboard-interactive" not in exc.allowed_types:
            raise
        transport.auth_interactive(channel.username, lambda _title, _text, prompts: [channel.secret] * len(prompts))


def _sftp_folder(channel: Channel) -> str:
    path = urllib.parse.unquote(urllib.parse.urlsplit(channel.url).path)
    return (path[3:] or ".") if path.startswith("/~/") else (path or ".")


def _sftp_put(sftp: paramiko.SFTPClient, channel: Channel, file: UploadFile, key: str,
              now: Callable[[], datetime]) -> Receipt:
    name, folder = remote_name(key, file.name), _sftp_folder(channel)
    final, temp = posixpath.join(folder, name), posixpath.join(folder, f".{name}.{secrets.token_hex(4)}.part")
    present = _sftp_holds(sftp, channel, final, file) or _write_then_rename(sftp, channel, temp, final, file)
    return Receipt("sftp", f"{channel.label.rstrip('/')}/{name}", key, "present" if present else "stored",
                   f"sha256:{file.sha256}", now(), already_present=present)


def _sftp_holds(sftp: paramiko.SFTPClient, channel: Channel, path: str, file: UploadFile) -> bool:
    """Whether `path` exists with exactly the file's bytes; other bytes under the same key are refused."""
    try:
        size = sftp.stat(path).st_size
    except FileNotFoundError:
        return False
    if size == len(file.content):
        with sftp.open(path, "rb") as handle:
            handle.prefetch(size)
            if hashlib.sha256(handle.read()).hexdigest() == file.sha256:
                return True
    raise UploadError(f"{channel.label}: {path} already exists with other content under the same idempotency key",
                      channel=channel.label, file=file.name)


def _write_then_rename(sftp: paramiko.SFTPClient, channel: Channel, temp: str, final: str, file: UploadFile) -> bool:
    """Write under a hidden temporary name, then rename: the receiver never sees half a file."""
    try:
        with sftp.open(temp, "wb") as handle:
            handle.set_pipelined(True)
            handle.write(file.content)
        if (size := sftp.stat(temp).st_size) != len(file.content):
            raise _Transient(f"{temp} holds {size} of {len(file.content)} bytes after writing")
    except Exception:
        _remove_quietly(sftp, temp)
        raise
    try:
        sftp.rename(temp, final)  # SFTP v3 rename refuses to replace: a parallel send of the same key loses here
    except OSError:
        _remove_quietly(sftp, temp)
        if not _sftp_holds(sftp, channel, final, file):
            raise
        return True
    return False


def _remove_quietly(sftp: paramiko.SFTPClient, path: str) -> None:
    try:
        sftp.remove(path)
    except (OSError, EOFError, paramiko.SSHException):
        log.warning("Could not remove the partial upload %s", path)


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


def _tls_context(channel: Channel) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=channel.ca_bundle or None)
    except (OSError, ssl.SSLError) as exc:
        raise UploadError(f"{channel.label}: CA bundle {channel.ca_bundle!r} is unusable ({exc})",
                          channel=channel.label) from exc


def _post(channel: Channel, body: bytes, headers: dict[str, str]) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One POST with certificate checks; never follows a redirect (it would carry the credentials elsewhere)."""
    parts = urllib.parse.urlsplit(channel.url)
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    connection = http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=channel.timeout,
                                             context=_tls_context(channel))
    try:
        connection.request("POST", target, body, headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    except ssl.SSLCertVerificationError as exc:
        raise UploadError(f"{channel.label}: server certificate not trusted ({exc.verify_message}); "
                          "configure the CA bundle that issued it", channel=channel.label) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise _Transient(str(exc) or type(exc).__name__) from exc
    finally:
        connection.close()


def _https_receipt(channel: Channel, file: UploadFile, key: str, status: int, headers: http.client.HTTPMessage,
                   payload: bytes, now: Callable[[], datetime]) -> Receipt:
    if status in (408, 429) or status >= 500:
        retry_after = headers.get("Retry-After", "").strip()
        raise _Transient(f"HTTP {status}", float(retry_after) if retry_after.isdigit() else None)
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
