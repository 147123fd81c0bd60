"""A local SMTP server for `make run`: keeps each mail as an .eml file and prints one line per mail."""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import itertools
import re
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import TextIO

from aiosmtpd.controller import Controller

ACCEPTED = "250 Message accepted for delivery"


class MailSink:
    """aiosmtpd handler: writes each message to `folder` as <local time>-<counter>.eml and prints one line."""

    def __init__(self, folder: Path, out: TextIO | None = None):
        self.folder = Path(folder)
        self.out = out
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook
        """Store the message, print its summary line, accept it."""
        received = datetime.now().astimezone()
        path = self.store(received, envelope.mail_from, envelope.rcpt_tos, envelope.original_content)
        print(summary(received, envelope.mail_from, envelope.rcpt_tos, subject_of(envelope.original_content), path),
              file=self.out or sys.stdout, flush=True)
        return ACCEPTED

    def store(self, received: datetime, mail_from: str, rcpt_tos: list[str], data: bytes) -> Path:
        """Write the message under a new file name; never overwrite one kept by an earlier run."""
        self.folder.mkdir(parents=True, exist_ok=True)
        # The envelope is not in the message (Bcc recipients are nowhere else): keep it as aiosmtpd's handlers do.
        header = f"X-MailFrom: {mail_from}\r\nX-RcptTo: {', '.join(rcpt_tos)}\r\n".encode()
        with self._lock:
            while True:
                path = self.folder / file_name(received, next(self._counter))
                try:
                    with path.open("xb") as file:
                        file.write(header + data)
                    return path
                except FileExistsError:  # a restarted sink counts from 1 again within the same second
                    continue


def file_name(received: datetime, number: int) -> str:
    """A sortable name of digits and dashes only, e.g. 20261203-182124-0001.eml."""
    return f"{received:%Y%m%d-%H%M%S}-{number:04d}.eml"


def subject_of(data: bytes) -> str:
    """The decoded Subject header (encoded words such as Cyrillic included), or an empty string."""
    headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(data)
    return str(headers.get("Subject", ""))


def summary(received: datetime, mail_from: str, rcpt_tos: list[str], subject: str, path: Path) -> str:
    """One line: time, sender, recipients, subject, file; control characters become spaces to keep it one line."""
    line = f"{received:%H:%M:%S} mail from {mail_from or '<>'} to {', '.join(rcpt_tos)}: \"{subject}\" -> {path}"
    return re.sub(r"[\x00-\x1f\x7f]", " ", line)


def start(folder: Path, host: str = "127.0.0.1", port: int = 8025, out: TextIO | None = None) -> Controller:
    """Serve a MailSink on host:port in a background thread; stop() the returned controller to end it."""
    # A fixed banner name: aiosmtpd would otherwise look up this host's FQDN, slow without DNS.
    controller = Controller(MailSink(folder, out), hostname=host, port=port, server_hostname="localhost",
                            ready_timeout=10.0)
    controller.start()
    return controller


def main(argv: list[str] | None = None) -> None:
    """Serve in the foreground: python -m devtools.mail_sink --port 8025 --dir instance/mail."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--dir", type=Path, default=Path("instance", "mail"), help="where the .eml files go")
    options = parser.parse_args(argv)
    try:
        controller = start(options.dir, options.host, options.port)
    except OSError as exc:  # the port is taken, or the host is not this machine's: one line, not a traceback
        sys.exit(f"Local SMTP server: {exc}")
    print(f"Local SMTP server on smtp://{options.host}:{options.port}: each mail is kept in {options.dir}/ "
          "and listed here in one line", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
