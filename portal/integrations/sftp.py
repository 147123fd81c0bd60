"""SFTP uploads (paramiko): the server must show a pinned host key before the password is sent;
files are written under a temporary name and renamed, named after the idempotency key so a re-send finds them."""

from __future__ import annotations

import errno
import hashlib
import logging
import posixpath
import re
import secrets
import socket
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import paramiko

from portal.integrations.channels import Channel, Receipt, UploadError, UploadFile, parse_host_keys
from portal.integrations.retry import Transient

log = logging.getLogger(__name__)
UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]")
RSA_ALGORITHMS = ("rsa-sha2-512", "rsa-sha2-256")  # what a pinned ssh-rsa key is negotiated as
SFTP_HINTS = {errno.ENOENT: "no such remote folder", errno.EACCES: "permission denied",
              errno.EPERM: "permission denied"}


def remote_name(idempotency_key: str, name: str) -> str:
    """The file's name on the SFTP server: the key (file-name safe) as a prefix, so a re-send finds it."""
    safe = UNSAFE_IN_NAME.sub("-", idempotency_key)
    if safe != idempotency_key:
        safe += "-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:8]
    return f"{safe}_{name}"


def send_files(channel: Channel, files: list[UploadFile], key: str, receipts: dict[str, Receipt],
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
        raise Transient(str(exc) or type(exc).__name__) from exc
    except (EOFError, paramiko.SSHException) as exc:
        raise Transient(str(exc) or type(exc).__name__) from exc


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
            raise Transient(f"{temp} holds {size} of {len(file.content)} bytes after writing")
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
