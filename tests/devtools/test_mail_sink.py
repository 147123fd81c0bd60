"""The local SMTP server of `make run`: one .eml file and one printed line per mail, in-process and as a command."""

from __future__ import annotations

import email
import email.policy
import io
import re
import smtplib
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from devtools import mail_sink
from tests.support.paths import ROOT
from tests.support.smtp_server import free_port

pytestmark = pytest.mark.no_db

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"  # every byte value: base64 in the mail
SAFE_NAME = re.compile(r"[0-9]{8}-[0-9]{6}-[0-9]{4}\.eml")


def proforma_mail(subject: str = "Счёт PF-C-2026-001-2026-10") -> EmailMessage:
    """A mail like the e-mail step's: text, a PDF attachment, a non-ASCII subject and file name."""
    message = EmailMessage()
    message["From"] = "Ledgerflow <billing@ledgerflow.example>"
    message["To"] = "billing@acme.example"
    message["Subject"] = subject
    message.set_content("Dear customer,\n\nplease find attached the proforma.\n")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="Счёт PF-C-2026-001.pdf")
    return message


def send(port: int, message: EmailMessage, to: list[str] | None = None) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(message, to_addrs=to)


def read(path: Path) -> EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


@pytest.fixture
def sink(tmp_path):
    """The sink on a free port, printing into a buffer; yields (port, folder, printed)."""
    printed = io.StringIO()
    port = free_port()
    controller = mail_sink.start(tmp_path / "mail", port=port, out=printed)
    try:
        yield port, tmp_path / "mail", printed
    finally:
        controller.stop()


def test_a_mail_is_kept_as_one_file_with_its_attachment_and_one_line(sink):
    port, folder, printed = sink
    send(port, proforma_mail(), to=["billing@acme.example", "hidden@ledgerflow.example"])
    files = list(folder.iterdir())
    assert len(files) == 1 and SAFE_NAME.fullmatch(files[0].name)
    kept = read(files[0])
    assert kept["Subject"] == "Счёт PF-C-2026-001-2026-10"
    assert kept["X-MailFrom"] == "billing@ledgerflow.example"
    assert kept["X-RcptTo"] == "billing@acme.example, hidden@ledgerflow.example"  # a Bcc is seen too
    assert "please find attached the proforma." in kept.get_body(("plain",)).get_content()
    [attachment] = kept.iter_attachments()
    assert attachment.get_filename() == "Счёт PF-C-2026-001.pdf" and attachment.get_content() == PDF
    [line] = printed.getvalue().splitlines()
    assert re.fullmatch(r"[0-9]{2}:[0-9]{2}:[0-9]{2} mail from billing@ledgerflow\.example to "
                        r"billing@acme\.example, hidden@ledgerflow\.example: \"Счёт PF-C-2026-001-2026-10\" -> "
                        + re.escape(str(files[0])), line)


def test_each_mail_gets_its_own_file_and_line(sink):
    port, folder, printed = sink
    for number in range(3):
        send(port, proforma_mail(f"Mail {number}"))
    files = sorted(folder.iterdir())
    assert [read(path)["Subject"] for path in files] == ["Mail 0", "Mail 1", "Mail 2"]  # the names sort in order
    assert len(printed.getvalue().splitlines()) == 3


def test_a_restarted_sink_keeps_the_earlier_files(tmp_path):
    folder = tmp_path / "mail"
    for subject in ("first run", "second run"):
        port = free_port()
        controller = mail_sink.start(folder, port=port, out=io.StringIO())
        try:
            send(port, proforma_mail(subject))
        finally:
            controller.stop()
    assert sorted(read(path)["Subject"] for path in folder.iterdir()) == ["first run", "second run"]


def test_the_line_stays_one_line_whatever_the_subject():
    line = mail_sink.summary(mail_sink.datetime(2026, 11, 2, 9, 30), "", ["a@example.com"], "two\nlines\x1b[2J",
                             Path("instance/mail/x.eml"))
    assert line == '09:30:00 mail from <> to a@example.com: "two lines [2J" -> instance/mail/x.eml'


def test_the_command_prints_where_mail_goes_then_one_line_per_mail(tmp_path):
    port = free_port()
    folder = tmp_path / "mail"
    command = [sys.executable, "-m", "devtools.mail_sink", "--port", str(port), "--dir", str(folder)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        started = process.stdout.readline()
        assert started.strip() == (f"Local SMTP server on smtp://127.0.0.1:{port}: each mail is kept in {folder}/ "
                                   "and listed here in one line")
        send(port, proforma_mail())
        mail_line = process.stdout.readline()
        [kept] = folder.iterdir()
        assert mail_line.rstrip("\n").endswith(f"-> {kept}")
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert output == ""  # nothing else: no message body, no base64


def test_the_command_refuses_a_port_in_use_in_one_line(tmp_path):
    port = free_port()
    controller = mail_sink.start(tmp_path / "first", port=port, out=io.StringIO())
    try:
        result = subprocess.run([sys.executable, "-m", "devtools.mail_sink", "--port", str(port), "--dir",
                                 str(tmp_path / "second")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    finally:
        controller.stop()
    assert result.returncode == 1 and result.stdout == ""
    assert re.fullmatch(rf"Local SMTP server: .*\('127\.0\.0\.1', {port}\).*address already in use\n", result.stderr)
