"""`make run`'s script on a bare configuration: migrates, seeds, prints the logins, serves the portal."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.servers import ROOT

pytestmark = pytest.mark.no_db


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, seconds: float = 60) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"scripts/run exited early with {process.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
                return response.status
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {seconds}s")


def test_run_script_serves_the_demo_without_redis(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "LEDGERFLOW_ENV")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'demo.db'}", SECRET_KEY="run-script-test-key-0123456789",
               HOST="127.0.0.1", PORT=str(port), BIN=str(Path(sys.executable).parent),
               FAKE_SERVICENOW_PORT=str(free_port()), DEMO_SMTP_PORT=str(free_port()))
    log = tmp_path / "run.log"
    with log.open("w") as out:
        process = subprocess.Popen([str(ROOT / "scripts" / "run")], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            assert wait_for(f"http://127.0.0.1:{port}/login", process) == 200
        finally:
            os.killpg(process.pid, 15)
            process.wait(timeout=30)
    output = log.read_text()
    assert "admin@ledgerflow.example" in output and "demo-admin-pass" in output
    assert "No REDIS_URL: background jobs run inside the web process." in output
    assert f"Ledgerflow on http://127.0.0.1:{port}" in output
    assert "Outgoing mail is printed here" in output
