"""`make run`'s script on a bare configuration: migrates, seeds, serves the portal, ends with the logins and URL."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.servers import ROOT

pytestmark = pytest.mark.no_db

SCRIPT = str(ROOT / "scripts" / "run")
BASE64_LINE = re.compile(r"^[A-Za-z0-9+/]{40,}={0,2}$", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_env(tmp_path: Path, **overrides) -> dict:
    """The environment `make run` gives the script, on free ports, with the database and mail under tmp_path."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "LEDGERFLOW_ENV", "SMTP_URL")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'demo.db'}", SECRET_KEY="run-script-test-key-0123456789",
               HOST="127.0.0.1", PORT=str(free_port()), BIN=str(Path(sys.executable).parent),
               FAKE_SERVICENOW_PORT=str(free_port()), DEMO_SMTP_PORT=str(free_port()),
               DEMO_MAIL_DIR=str(tmp_path / "mail"))
    env.update(overrides)
    return env


def wait_for_line(log: Path, line: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"scripts/run exited early with {process.returncode}:\n{log.read_text()}"
        if line in log.read_text().splitlines():
            return
        time.sleep(0.3)
    raise AssertionError(f"no line {line!r} within {seconds}s:\n{log.read_text()}")


def get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
        return response.status


def demo_calllog_urls(database: Path) -> set[str]:
    with sqlite3.connect(database) as connection:
        return {url for (url,) in connection.execute("select calllog_url from customers")}


def test_run_script_serves_the_demo_and_ends_with_the_logins_and_url(tmp_path):
    env = run_env(tmp_path)
    url_line = f"Ledgerflow on http://127.0.0.1:{env['PORT']} (Ctrl+C stops it)"
    log = tmp_path / "run.log"
    with log.open("w") as out:
        process = subprocess.Popen([SCRIPT], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            wait_for_line(log, url_line, process)
            time.sleep(2)  # nothing may come after it while the user reads
            output = log.read_text()
            assert get(f"http://127.0.0.1:{env['PORT']}/login") == 200
        finally:
            os.killpg(process.pid, 15)
            process.wait(timeout=30)
    lines = output.splitlines()
    logins = lines.index("Demo logins (staff enroll an authenticator app at first sign-in; the page shows a QR code):")
    assert lines[-1] == url_line
    assert len(lines[logins + 1:-1]) == 12 and all(line.startswith("  ") for line in lines[logins + 1:-1])
    assert re.fullmatch(r"  admin +admin@ledgerflow\.example +demo-admin-pass", lines[logins + 1])
    assert "No REDIS_URL: background jobs run inside the web process." in lines[:logins]
    assert demo_calllog_urls(tmp_path / "demo.db") == {f"http://127.0.0.1:{env['FAKE_SERVICENOW_PORT']}"}
    [mail] = (tmp_path / "mail").iterdir()  # the approved demo proforma, mailed to ACME with its PDF
    mail_lines = [line for line in lines if line.endswith(f" -> {mail}")]
    assert len(mail_lines) == 1 and "to billing@acme.example" in mail_lines[0]
    assert b"Content-Type: application/pdf" in mail.read_bytes()
    assert not BASE64_LINE.search(output) and "MESSAGE FOLLOWS" not in output


@pytest.mark.parametrize("variable", ["PORT", "FAKE_SERVICENOW_PORT", "DEMO_SMTP_PORT"])
def test_run_script_refuses_a_port_in_use_naming_its_variable(tmp_path, variable):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = run_env(tmp_path, **{variable: str(taken.getsockname()[1])})
        result = subprocess.run([SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"Port {env[variable]} is in use by another program: stop it, or set {variable} to a free port." in \
        result.stderr
    assert not (tmp_path / "demo.db").exists()  # refused before anything started
