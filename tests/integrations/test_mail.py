"""Mail over a real SMTP server on loopback (aiosmtpd): MIME shape, addresses, retries, AUTH and TLS."""

from __future__ import annotations

import re

import pytest

from portal.integrations.mail import (
    Attachment,
    MailError,
    Message,
    RetryPolicy,
    SmtpSettings,
    build,
    message_id_for,
    send,
)
from tests.support.smtp_server import Credentials, SmtpServer, free_port, self_signed

pytestmark = [pytest.mark.no_db,
              # aiosmtpd's own advice, raised when the AUTH tests' server allows AUTH without TLS
              pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")]

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\r\n\x00\r\r\n%%EOF\n"  # every byte value, bare CR/LF, NUL
PDF_NAME = "Счёт PF-2026-11.pdf"
SENDER = "billing@ledgerflow.example"


@pytest.fixture
def server():
    with SmtpServer() as running:
        yield running


@pytest.fixture
def sleeps() -> list[float]:
    return []


def settings_for(server: SmtpServer, **options) -> SmtpSettings:
    return SmtpSettings("127.0.0.1", server.port, **options)


def invoice(**overrides) -> Message:
    fields = {"to": ["Accounts Payable <ap@acme.example>"], "subject": "Proforma PF-2026-11",
              "text": "Dear customer,\nplease find the proforma attached.\n",
              "html": "<p>Dear customer,</p><p>please find the proforma attached.</p>",
              "attachments": [Attachment(PDF_NAME, PDF, "application/pdf")], "message_id": "proforma:PF-2026-11:1"}
    return Message(**{**fields, **overrides})


def test_pdf_attachment_arrives_byte_identical_with_its_name(server, sleeps):
    message_id = send(settings_for(server), invoice(), sleep=sleeps.append)

    [got] = server.received
    [part] = list(got.message.iter_attachments())
    assert part.get_content_type() == "application/pdf"
    assert part.get_filename() == PDF_NAME
    assert part.get_content() == PDF
    assert b"filename*=utf-8''%D0%A1%D1%87%D1%91%D1%82%20PF-2026-11.pdf" in got.data  # RFC 2231
    assert got.data.isascii()  # 7-bit clean: no server needs 8BITMIME or SMTPUTF8
    assert got.message["Message-ID"] == message_id
    assert got.mail_from == SENDER and got.rcpt_tos == ["ap@acme.example"]
    assert sleeps == []


def test_text_and_html_travel_as_alternatives(server):
    send(settings_for(server), invoice())

    message = server.received[0].message
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "text/html"]
    assert attachment.get_content_disposition() == "attachment"
    plain = message.get_body(preferencelist=("plain",)).get_content()
    assert plain.replace("\r\n", "\n") == "Dear customer,\nplease find the proforma attached.\n"
    assert "<p>please find" in message.get_body(preferencelist=("html",)).get_content()


def test_text_only_message_is_a_single_part(server):
    send(settings_for(server), invoice(html=None, attachments=[]))

    message = server.received[0].message
    assert message.get_content_type() == "text/plain"
    assert not message.is_multipart()


def test_non_ascii_subject_names_and_body(server):
    subject = "Счёт PF-2026-11 за ноябрь — Acme Logistics GmbH"
    text = "Здравствуйте!\nСчёт во вложении. Grüße, Ledgerflow\n"
    send(settings_for(server, sender="Ledgerflow Buchhaltung Müller <billing@ledgerflow.example>"),
         invoice(to=["Бухгалтерия Acme <ap@acme.example>", '"Acme, Controlling" <co@acme.example>'],
                 subject=subject, text=text, html=None))

    got = server.received[0]
    message = got.message
    assert got.data.isascii()
    assert message["Subject"] == subject
    assert [(a.display_name, a.addr_spec) for a in message["To"].addresses] == [
        ("Бухгалтерия Acme", "ap@acme.example"), ("Acme, Controlling", "co@acme.example")]
    assert message["From"].addresses[0].display_name == "Ledgerflow Buchhaltung Müller"
    assert message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n") == text
    assert got.rcpt_tos == ["ap@acme.example", "co@acme.example"]
    assert got.mail_from == SENDER


@pytest.mark.parametrize("bad", ["not-an-address", "ap@acme", "ap@@acme.example", "ap@acme.example, co@acme.example",
                                 "Acme <ap@acme>", "jörg@acme.example", ""])
def test_a_bad_address_is_named_and_nothing_is_sent(server, sleeps, bad):
    with pytest.raises(MailError) as caught:
        send(settings_for(server), invoice(to=["ok@acme.example", bad]), sleep=sleeps.append)

    assert caught.value.field == "to"
    assert repr(bad) in str(caught.value)
    assert not caught.value.transient  # its HTTP status (400: a field to fix) is the edge's to decide
    assert server.received == [] and server.handler.data_attempts == 0 and sleeps == []


def test_no_recipients_is_refused(server):
    with pytest.raises(MailError, match="no recipients") as caught:
        send(settings_for(server), invoice(to=[]))
    assert caught.value.field == "to"


def test_repeated_recipients_are_sent_once(server):
    send(settings_for(server), invoice(to=["ap@acme.example", "AP <AP@acme.example>"]))
    assert server.received[0].rcpt_tos == ["ap@acme.example"]


def test_server_down_is_retried_with_backoff_then_transient(sleeps):
    settings = SmtpSettings("127.0.0.1", free_port(), timeout=2)

    with pytest.raises(MailError) as caught:
        send(settings, invoice(), sleep=sleeps.append, retry=RetryPolicy(attempts=3, base_delay=1.0))

    assert caught.value.transient and caught.value.field is None
    assert "after 3 attempts" in str(caught.value) and "ConnectionRefusedError" in str(caught.value)
    assert sleeps == [1.0, 2.0]


@pytest.mark.parametrize("reply", ["421 4.3.2 Service shutting down", "450 4.2.1 Mailbox busy",
                                   "451 4.3.0 Local error, try again", "452 4.3.1 Insufficient storage"])
def test_transient_reply_is_retried_and_the_same_message_goes_out(server, sleeps, reply):
    server.handler.data_replies.extend([reply, reply])

    message_id = send(settings_for(server), invoice(), sleep=sleeps.append)

    assert sleeps == [2.0, 4.0]
    assert server.handler.data_attempts == 3
    [got] = server.received
    assert got.message["Message-ID"] == message_id


def test_transient_replies_until_the_attempts_run_out(server, sleeps):
    server.handler.data_replies.extend(["451 4.3.0 Try again later"] * 5)

    with pytest.raises(MailError, match=re.escape("451 4.3.0 Try again later")) as caught:
        send(settings_for(server), invoice(), sleep=sleeps.append, retry=RetryPolicy(attempts=2))

    assert caught.value.transient and caught.value.smtp_code == 451
    assert len(sleeps) == 1 and server.received == []


def test_permanent_550_recipient_is_not_retried(server, sleeps):
    server.handler.rcpt_replies["gone@acme.example"] = "550 5.1.1 Mailbox unavailable"

    with pytest.raises(MailError) as caught:
        send(settings_for(server), invoice(to=["gone@acme.example"]), sleep=sleeps.append)

    error = caught.value
    assert not error.transient and error.smtp_code == 550 and error.field == "to"
    assert "gone@acme.example (550 5.1.1 Mailbox unavailable)" in str(error)
    assert sleeps == [] and server.received == []


def test_permanent_data_reply_is_not_retried(server, sleeps):
    server.handler.data_replies.append("554 5.7.1 Message rejected as spam")

    with pytest.raises(MailError, match=re.escape("message refused (554 5.7.1 Message rejected as spam)")) as caught:
        send(settings_for(server), invoice(), sleep=sleeps.append)

    assert not caught.value.transient and caught.value.smtp_code == 554
    assert sleeps == [] and server.handler.data_attempts == 1


def test_some_recipients_refused_is_reported_without_resending(server, sleeps):
    server.handler.rcpt_replies["gone@acme.example"] = "550 5.1.1 Mailbox unavailable"

    with pytest.raises(MailError, match=re.escape("some recipients refused: gone@acme.example (550")) as caught:
        send(settings_for(server), invoice(to=["ap@acme.example", "gone@acme.example"]), sleep=sleeps.append)

    assert caught.value.refused == {"gone@acme.example": (550, "5.1.1 Mailbox unavailable")}
    assert [got.rcpt_tos for got in server.received] == [["ap@acme.example"]]
    assert sleeps == []


def test_message_id_is_stable_for_an_idempotency_key(server):
    settings = settings_for(server)
    first = send(settings, invoice(message_id="job-42"))
    again = send(settings, invoice(message_id="job-42"))
    other = send(settings, invoice(message_id="job-43"))
    random_ids = {send(settings, invoice(message_id=None)) for _ in range(2)}

    assert first == again == message_id_for("job-42", "ledgerflow.example")
    assert first.startswith("<") and first.endswith("@ledgerflow.example>")
    assert other != first and len(random_ids) == 2
    assert [got.message["Message-ID"] for got in server.received[:3]] == [first, first, other]


def test_extra_headers_arrive_and_reserved_or_broken_ones_are_refused(server):
    extra = {"X-Ledgerflow-Document": "PF-2026-11", "Reply-To": "ar@ledgerflow.example",
             "Auto-Submitted": "auto-generated"}
    send(settings_for(server), invoice(headers=extra))
    message = server.received[0].message
    assert message["X-Ledgerflow-Document"] == "PF-2026-11" and message["Auto-Submitted"] == "auto-generated"

    for bad in ({"Bcc": "spy@evil.example"}, {"Message-ID": "<x@y>"}, {"X Bad": "1"}, {"X-Doc": "a\r\nBcc: x@y.de"}):
        with pytest.raises(MailError) as caught:
            build(settings_for(server), invoice(headers=bad))
        assert caught.value.field == "headers"
    with pytest.raises(MailError) as caught:
        build(settings_for(server), invoice(subject="Invoice\nBcc: spy@evil.example"))
    assert caught.value.field == "subject"


@pytest.mark.parametrize("attachment", [Attachment("../x.pdf", b"x", "application/pdf"),
                                        Attachment("", b"x", "application/pdf"),
                                        Attachment("x.pdf", b"x", "pdf")])
def test_bad_attachments_are_named(server, attachment):
    with pytest.raises(MailError, match="attachments: ") as caught:
        build(settings_for(server), invoice(attachments=[attachment]))
    assert caught.value.field == "attachments"


def test_password_is_not_in_repr():
    settings = SmtpSettings("smtp.example.com", 587, "mailer", "s3cret-Passw0rd", starttls=True)
    assert "s3cret-Passw0rd" not in repr(settings) and "password='***'" in repr(settings)
    assert "s3cret-Passw0rd" not in repr(SmtpSettings.from_url("smtp://mailer:s3cret-Passw0rd@smtp.example.com"))


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
def test_auth_with_each_mechanism(mechanism):
    credentials = Credentials("mailer", "pa:ss word")
    other = {"LOGIN": "PLAIN", "PLAIN": "LOGIN"}[mechanism]
    with SmtpServer(credentials=credentials, exclude_mechanisms=(other,)) as server:
        send(settings_for(server, username="mailer", password="pa:ss word"), invoice())

    assert credentials.mechanisms == [mechanism]
    assert server.received[0].authenticated_as == "mailer"


def test_wrong_password_is_permanent_and_not_echoed(sleeps):
    with SmtpServer(credentials=Credentials("mailer", "right")) as server, pytest.raises(MailError) as caught:
        send(settings_for(server, username="mailer", password="wrong-secret"), invoice(), sleep=sleeps.append)

    assert not caught.value.transient and caught.value.smtp_code == 535
    assert "login refused" in str(caught.value) and "wrong-secret" not in str(caught.value)
    assert sleeps == [] and server.received == []


def test_starttls_then_auth(tmp_path):
    cert, key = self_signed(tmp_path)
    credentials = Credentials("mailer", "secret")
    with SmtpServer(credentials=credentials, tls_files=(cert, key)) as server:
        send(settings_for(server, username="mailer", password="secret", starttls=True, cafile=str(cert)), invoice())

    [got] = server.received
    assert got.tls and got.authenticated_as == "mailer"
    assert got.message.iter_attachments().__next__().get_content() == PDF


def test_implicit_tls(tmp_path):
    cert, key = self_signed(tmp_path)
    with SmtpServer(tls_files=(cert, key), implicit_tls=True) as server:
        send(SmtpSettings("localhost", server.port, ssl=True, cafile=str(cert)), invoice())
    assert server.received[0].tls


def test_untrusted_certificate_is_permanent(tmp_path, sleeps):
    cert, key = self_signed(tmp_path)
    with SmtpServer(tls_files=(cert, key)) as server, pytest.raises(MailError, match="TLS failed") as caught:
        send(settings_for(server, starttls=True), invoice(), sleep=sleeps.append)
    assert not caught.value.transient and sleeps == [] and server.received == []


def test_starttls_not_offered_is_permanent(server, sleeps):
    with pytest.raises(MailError, match="STARTTLS") as caught:
        send(settings_for(server, starttls=True), invoice(), sleep=sleeps.append)
    assert not caught.value.transient and sleeps == []


def test_settings_from_url():
    s = SmtpSettings.from_url("smtp://apikey:p%40ss%2Fw@smtp.example.com:2525?starttls=1&timeout=5"
                              "&sender=Ledgerflow%20%3Cbilling%40ledgerflow.example%3E")
    assert (s.host, s.port, s.username, s.password, s.starttls, s.ssl, s.timeout) == (
        "smtp.example.com", 2525, "apikey", "p@ss/w", True, False, 5.0)
    assert s.sender == "Ledgerflow <billing@ledgerflow.example>"
    assert SmtpSettings.from_url("smtp://relay.internal").port == 25
    assert SmtpSettings.from_url("smtp://relay.internal?starttls=yes").port == 587
    secure = SmtpSettings.from_url("smtps://u:p@smtp.example.com")
    assert (secure.port, secure.ssl, secure.starttls) == (465, True, False)
    assert SmtpSettings.from_url("smtp://localhost:1025").username == ""


@pytest.mark.parametrize(("url", "problem"), [
    ("http://smtp.example.com", "smtp:// or smtps://"), ("smtp://", "no host"),
    ("smtp://h?starttls=maybe", "yes/no"), ("smtp://h?tls=1", "unknown option"),
    ("smtps://h?starttls=1", "either ssl"), ("smtp://h?sender=nobody", "sender"),
    ("smtp://:pw@h", "needs a username"),
])
def test_settings_from_bad_url(url, problem):
    with pytest.raises(ValueError, match=problem):
        SmtpSettings.from_url(url)
