"""Outgoing mail over SMTP: a MIME message built once, sent with retries on transient failures."""

from __future__ import annotations

import email.policy
import hashlib
import logging
import re
import smtplib
import ssl
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from email_validator import EmailNotValidError, validate_email

from portal.errors import UpstreamError
from portal.integrations.retry import RetryPolicy, Transient, retrying

log = logging.getLogger(__name__)

DEFAULT_SENDER = "Ledgerflow <billing@ledgerflow.example>"
# Bodies go out 7-bit clean (base64 / quoted-printable), so no server needs 8BITMIME; lines end in CRLF.
POLICY = email.policy.SMTP.clone(cte_type="7bit")
RESERVED_HEADERS = {"from", "to", "cc", "bcc", "subject", "message-id", "date", "mime-version", "content-type",
                    "content-transfer-encoding", "content-disposition", "sender", "return-path"}
HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # printable ASCII without ':' or space (RFC 5322 field-name)
TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


class MailError(UpstreamError):
    """Mail could not be built or sent; `field` names the bad part of the message, `smtp_code` the server's reply."""

    def __init__(self, message: str, *, field: str | None = None, smtp_code: int | None = None,
                 transient: bool = False, refused: dict[str, tuple[int, str]] | None = None):
        super().__init__(message)
        self.field, self.smtp_code, self.transient = field, smtp_code, transient
        self.refused = refused or {}


@dataclass(frozen=True, repr=False)
class SmtpSettings:
    """Where and as whom to send; `ssl` is implicit TLS (port 465), `starttls` upgrades a plain connection.

    `cafile` names a CA bundle to trust instead of the system's (a private relay, the tests)."""

    host: str
    port: int
    username: str = ""
    password: str = ""
    starttls: bool = False
    ssl: bool = False
    timeout: float = 10.0
    sender: str = DEFAULT_SENDER
    cafile: str = ""

    def __post_init__(self):
        if not self.host:
            raise ValueError("SMTP host must not be empty")
        if not 0 < int(self.port) < 65536:
            raise ValueError(f"SMTP port must be 1..65535, not {self.port!r}")
        if self.starttls and self.ssl:
            raise ValueError("choose either ssl (implicit TLS) or starttls, not both")
        if self.password and not self.username:
            raise ValueError("an SMTP password needs a username")
        try:
            _address(self.sender)
        except ValueError as exc:
            raise ValueError(f"sender {self.sender!r}: {exc}") from exc

    def __repr__(self) -> str:
        return (f"SmtpSettings(host={self.host!r}, port={self.port}, username={self.username!r}, password='***', "
                f"starttls={self.starttls}, ssl={self.ssl}, timeout={self.timeout}, sender={self.sender!r}, "
                f"cafile={self.cafile!r})")

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        """`smtp://user:pass@host:587?starttls=1` or `smtps://host` (implicit TLS); query keys starttls, timeout,
        sender, cafile. Percent-encode reserved characters in the user and password."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"SMTP URL must start with smtp:// or smtps://, not {parts.scheme or '(none)'}://")
        if not parts.hostname:
            raise ValueError("SMTP URL has no host")
        query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        unknown = sorted(set(query) - {"starttls", "timeout", "sender", "cafile"})
        if unknown:
            raise ValueError(f"SMTP URL has unknown option(s): {', '.join(unknown)}")
        starttls = _flag("starttls", query.get("starttls", ""))
        secure = parts.scheme == "smtps"
        port = parts.port or (465 if secure else 587 if starttls else 25)
        options: dict[str, Any] = {"sender": query["sender"]} if "sender" in query else {}
        if "timeout" in query:
            options["timeout"] = float(query["timeout"])
        return cls(parts.hostname, port, urllib.parse.unquote(parts.username or ""),
                   urllib.parse.unquote(parts.password or ""), starttls=starttls, ssl=secure,
                   cafile=query.get("cafile", ""), **options)


@dataclass(frozen=True)
class Attachment:
    """A file to attach; `content_type` like "application/pdf"."""

    filename: str
    content: bytes = field(repr=False)
    content_type: str = "application/octet-stream"


@dataclass
class Message:
    """One e-mail. `message_id` is an idempotency key (say the job's): the same key gives the same Message-ID."""

    to: list[str]
    subject: str
    text: str
    html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    message_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


# SMTP relays ask for patience: longer waits than the retry module's defaults.
MAIL_RETRY = RetryPolicy(base_delay=2.0, max_delay=60.0)


def message_id_for(key: str, domain: str) -> str:
    """The Message-ID derived from an idempotency key: stable across retries, processes and hosts."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


def build(settings: SmtpSettings, message: Message) -> EmailMessage:
    """The MIME message: text (+ html as multipart/alternative) (+ attachments as multipart/mixed)."""
    sender = _address(settings.sender)
    recipients = _recipients(message.to)
    for name, value in (("subject", message.subject), *(("headers", v) for v in message.headers.values())):
        if "\r" in value or "\n" in value:
            raise MailError(f"{name}: line breaks are not allowed ({value!r})", field=name)
    mime = EmailMessage(policy=POLICY)
    mime["From"] = sender
    mime["To"] = recipients
    mime["Subject"] = message.subject
    mime["Date"] = formatdate(usegmt=True)
    mime["Message-ID"] = (message_id_for(message.message_id, sender.domain) if message.message_id
                          else make_msgid(domain=sender.domain))
    for name, value in message.headers.items():
        if not HEADER_NAME.match(name) or name.lower() in RESERVED_HEADERS:
            raise MailError(f"headers: {name!r} may not be set as an extra header", field="headers")
        mime[name] = value
    mime.set_content(message.text)
    if message.html is not None:
        mime.add_alternative(message.html, subtype="html")
    for attachment in message.attachments:
        _attach(mime, attachment)
    return mime


def send(settings: SmtpSettings, message: Message, *, sleep: Callable[[float], Any] = time.sleep,
         retry: RetryPolicy = MAIL_RETRY) -> str:
    """Send the message; returns its Message-ID. Every attempt sends the same bytes (same Message-ID and Date).

    A connection dropped after DATA may deliver twice; receivers can drop the copy by its Message-ID."""
    mime = build(settings, message)
    data = mime.as_bytes(policy=POLICY)
    sender = _address(settings.sender).addr_spec
    recipients = [address.addr_spec for address in mime["To"].addresses]
    message_id = str(mime["Message-ID"])
    where = f"SMTP {settings.host}:{settings.port}"
    retrying(lambda: _deliver(settings, sender, recipients, data), what=where, policy=retry, sleep=sleep,
             give_up=lambda attempts, exc: MailError(f"{where}: not sent after {attempts} attempts ({exc})",
                                                     smtp_code=exc.code, transient=True))
    log.info("Mail %s sent to %s via %s:%d", message_id, ", ".join(recipients), settings.host, settings.port)
    return message_id


def _deliver(settings: SmtpSettings, sender: str, recipients: list[str], data: bytes) -> None:
    where = f"SMTP {settings.host}:{settings.port}"
    context = ssl.create_default_context(cafile=settings.cafile or None)
    client: smtplib.SMTP | None = None
    try:
        if settings.ssl:
            client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=context)
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        if settings.starttls:
            client.starttls(context=context)
        if settings.username:
            client.login(settings.username, settings.password)
        refused = client.sendmail(sender, recipients, data)
    except smtplib.SMTPServerDisconnected as exc:
        raise Transient(f"connection lost ({exc})" if str(exc) else "connection lost") from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise _refused(where, exc.recipients, delivered=False) from exc
    except smtplib.SMTPResponseException as exc:
        raise _reply(where, exc) from exc
    except smtplib.SMTPException as exc:  # STARTTLS or AUTH not offered, no usable AUTH mechanism
        raise MailError(f"{where}: {exc}") from exc
    except (ssl.SSLEOFError, ssl.SSLZeroReturnError) as exc:
        raise Transient(f"TLS connection closed ({exc})") from exc
    except ssl.SSLError as exc:  # certificate or protocol mismatch: configuration, not weather
        raise MailError(f"{where}: TLS failed ({exc.reason or exc})") from exc
    except OSError as exc:  # refused, reset, timeout, unknown host
        raise Transient(f"{type(exc).__name__}: {exc}") from exc
    finally:
        if client is not None:
            _close(client)
    if refused:  # accepted for some: retrying would deliver twice to those
        raise _refused(where, refused, delivered=True)


def _close(client: smtplib.SMTP) -> None:
    """QUIT politely; the mail is already accepted (or not), so a failing goodbye changes nothing."""
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


def _reply(where: str, exc: smtplib.SMTPResponseException) -> Exception:
    text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    if 400 <= exc.smtp_code < 500:
        return Transient(f"{exc.smtp_code} {text}", code=exc.smtp_code)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return MailError(f"{where}: login refused ({exc.smtp_code} {text})", smtp_code=exc.smtp_code)
    stage = {smtplib.SMTPConnectError: "connection refused", smtplib.SMTPSenderRefused: "sender refused",
             smtplib.SMTPHeloError: "HELO refused"}.get(type(exc), "message refused")
    return MailError(f"{where}: {stage} ({exc.smtp_code} {text})", smtp_code=exc.smtp_code)


def _refused(where: str, refused: dict, *, delivered: bool) -> Exception:
    replies = {rcpt: (code, msg.decode(errors="replace") if isinstance(msg, bytes) else str(msg))
               for rcpt, (code, msg) in refused.items()}
    if not delivered and all(400 <= code < 500 for code, _ in replies.values()):
        return Transient("; ".join(f"{rcpt}: {code} {msg}" for rcpt, (code, msg) in replies.items()),
                         code=next(iter(replies.values()))[0])
    listed = "; ".join(f"{rcpt} ({code} {msg})" for rcpt, (code, msg) in replies.items())
    prefix = "sent, but some recipients refused" if delivered else "recipient(s) refused"
    return MailError(f"{where}: {prefix}: {listed}", field="to", smtp_code=next(iter(replies.values()))[0],
                     refused=replies)


def _attach(mime: EmailMessage, attachment: Attachment) -> None:
    name, kind = attachment.filename, attachment.content_type
    if not name or any(c in name for c in "/\\\r\n\0"):
        raise MailError(f"attachments: bad file name {name!r}", field="attachments")
    maintype, _, subtype = kind.partition("/")
    if not maintype or not subtype or not HEADER_NAME.match(maintype + subtype):
        raise MailError(f"attachments: {name}: bad content type {kind!r}", field="attachments")
    if not isinstance(attachment.content, bytes | bytearray):
        raise MailError(f"attachments: {name}: content must be bytes", field="attachments")
    # name= on Content-Type too, for clients that read only that; both RFC 2231-encoded when not ASCII.
    mime.add_attachment(bytes(attachment.content), maintype=maintype, subtype=subtype, filename=name,
                        params={"name": name})


def _recipients(to: list[str] | str) -> list[Address]:
    entries = [to] if isinstance(to, str) else list(to)
    if not entries:
        raise MailError("to: no recipients", field="to")
    found: dict[str, Address] = {}
    for entry in entries:
        try:
            address = _address(entry)
        except ValueError as exc:
            raise MailError(f"to: {entry!r} is not a valid e-mail address ({exc})", field="to") from exc
        found.setdefault(address.addr_spec.lower(), address)
    return list(found.values())


def _address(entry: str) -> Address:
    """`addr@example.com` or `Display Name <addr@example.com>` (the name may be quoted and non-ASCII)."""
    entry = (entry or "").strip()
    name, spec = "", entry
    if entry.endswith(">") and "<" in entry:
        name, _, spec = entry[:-1].rpartition("<")
        name = name.strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if any(c in name for c in "\r\n\0"):
        raise ValueError("line break in the display name")
    try:
        valid = validate_email(spec.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc
    local, _, domain = valid.ascii_email.rpartition("@")
    return Address(display_name=name, username=local, domain=domain)


def _flag(name: str, value: str) -> bool:
    if value.lower() in TRUE | FALSE:
        return value.lower() in TRUE
    raise ValueError(f"SMTP URL option {name}={value!r} is not a yes/no value")
