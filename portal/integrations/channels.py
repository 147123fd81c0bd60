"""Upload channels: what to send (UploadFile), where and as whom (Channel), what came back (Receipt)."""

from __future__ import annotations

import base64
import hashlib
import re
import ssl
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import paramiko

from portal.errors import UpstreamError

NAME_PATTERN = re.compile(r'[^./\\"\x00-\x1f\x7f][^/\\"\x00-\x1f\x7f]{0,199}')
CONTENT_TYPE_PATTERN = re.compile(r"[\w.+-]+/[\w.+-]+(;[\x20-\x7e]*)?")
KEY_TYPE_PATTERN = re.compile(r"(ssh|ecdsa|sk)-[\w@.-]+")


class ChannelError(ValueError):
    """A channel setting is wrong; `field` names it (url, username, host_key, ca_certificates, timeout, kind)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class UploadError(UpstreamError):
    """An upload failed; names the channel (never its secret), the receiver's HTTP status if any. `transient` ones
    are worth retrying later."""

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
    ca_certificates: str = ""  # HTTPS: PEM certificate(s) of the CA(s) to trust instead of the system's

    def __post_init__(self):
        if self.kind not in ("sftp", "https"):
            raise ChannelError("kind", f"kind must be 'sftp' or 'https', not {self.kind!r}")
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme != self.kind or not parts.hostname:
            raise ChannelError("url", f"url must be {self.kind}://host/...: {self.label!r}")
        if parts.username is not None or parts.password is not None:
            raise ChannelError("url", "put credentials in username and secret, not in the url")
        try:
            _ = parts.port
        except ValueError as exc:
            raise ChannelError("url", str(exc)) from exc
        if not self.timeout > 0:
            raise ChannelError("timeout", f"timeout must be positive, not {self.timeout!r}")
        if self.kind == "sftp" and not self.username:
            raise ChannelError("username", "an SFTP channel needs a username")
        if self.kind == "sftp" and self.host_key:
            try:
                parse_host_keys(self.host_key)
            except ValueError as exc:
                raise ChannelError("host_key", str(exc)) from exc
        if self.kind == "https":
            self.tls_context()  # refuses unusable CA certificates now, not at the first upload

    def tls_context(self) -> ssl.SSLContext:
        """Certificate and host name checks against the configured CA certificates, else the system's."""
        try:
            return ssl.create_default_context(cadata=self.ca_certificates.strip() or None)
        except (ssl.SSLError, ValueError, TypeError) as exc:  # TypeError: non-ASCII text pasted into the PEM
            raise ChannelError("ca_certificates", f"CA certificates are not usable PEM certificates ({exc})") from exc

    @property
    def label(self) -> str:
        """The url without credentials, query or fragment: safe in messages and logs."""
        parts = urllib.parse.urlsplit(self.url)
        host = parts.netloc.rpartition("@")[2]
        return f"{parts.scheme}://{host}{parts.path}"

    def __repr__(self) -> str:
        return (f"Channel(kind={self.kind!r}, url={self.label!r}, username={self.username!r}, "
                f"secret={'***' if self.secret else ''!r}, timeout={self.timeout}, "
                f"host_key={bool(self.host_key)}, ca_certificates={bool(self.ca_certificates)})")


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
