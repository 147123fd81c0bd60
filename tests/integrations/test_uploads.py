"""Upload channels against real loopback servers: a paramiko SFTP server and an HTTPS receiver (no mocks)."""

from __future__ import annotations

import base64
import logging
from datetime import datetime

import paramiko
import pytest

from portal.integrations.uploads import (
    Channel,
    ChannelError,
    Receipt,
    RetryPolicy,
    UploadError,
    UploadFile,
    parse_host_keys,
    remote_name,
    upload,
)
from tests.support.upload_servers import (
    PASSWORD,
    TOKEN,
    USERNAME,
    SFTPTestServer,
    black_hole,
    ed25519_key,
    free_port,
    https_server,
    make_tls_files,
    openssh_line,
)

pytestmark = pytest.mark.no_db

KEY = "ledgerflow-proforma-42"
NOW = datetime(2026, 12, 1, 9, 30)
INVOICE = UploadFile("PF-2026-0042.xml", b"<Invoice>\xc3\xa4 42</Invoice>\n", "application/xml")
PDF = UploadFile("PF-2026-0042.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 40, "application/pdf")


@pytest.fixture(scope="module")
def host_key() -> paramiko.PKey:
    return ed25519_key()


@pytest.fixture
def sftp(tmp_path, host_key):
    (tmp_path / "inbox").mkdir()
    server = SFTPTestServer(tmp_path, [host_key]).start()
    yield server
    server.stop()


@pytest.fixture
def https(tmp_path):
    server, receiver, ca = https_server(tmp_path)
    server.start()
    server.receiver, server.ca = receiver, ca.read_text()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def sleeps() -> list[float]:
    return []


def sftp_channel(server, trusted: paramiko.PKey, **options) -> Channel:
    settings = {"url": server.url(), "username": USERNAME, "secret": PASSWORD, "timeout": 5.0,
                "host_key": openssh_line(trusted), **options}
    return Channel("sftp", **settings)


def https_channel(server, **options) -> Channel:
    settings = {"url": server.url_for("/upload"), "username": USERNAME, "secret": PASSWORD, "timeout": 5.0,
                "ca_certificates": server.ca, **options}
    return Channel("https", **settings)


def send(channel, sleeps, files=(INVOICE,), key=KEY, **options) -> list[Receipt]:
    return upload(channel, list(files), key, sleep=sleeps.append, now=lambda: NOW, **options)


# --- SFTP -----------------------------------------------------------------------------------------------------------

def test_sftp_upload_lands_with_the_exact_bytes(sftp, host_key, sleeps, tmp_path):
    receipts = send(sftp_channel(sftp, host_key), sleeps, [INVOICE, PDF])
    names = [f"{KEY}_{INVOICE.name}", f"{KEY}_{PDF.name}"]
    assert sorted(path.name for path in (tmp_path / "inbox").iterdir()) == sorted(names)  # no temporary files left
    assert (tmp_path / "inbox" / names[0]).read_bytes() == INVOICE.content
    assert (tmp_path / "inbox" / names[1]).read_bytes() == PDF.content
    assert receipts[0] == Receipt("sftp", f"sftp://127.0.0.1:{sftp.port}/inbox/{names[0]}", KEY, "stored",
                                  f"sha256:{INVOICE.sha256}", NOW, already_present=False)
    assert [r.already_present for r in receipts] == [False, False] and sleeps == [] and sftp.connections == 1


def test_sftp_same_key_again_is_already_present_not_a_duplicate(sftp, host_key, sleeps, tmp_path):
    channel = sftp_channel(sftp, host_key)
    first = send(channel, sleeps, [INVOICE, PDF])
    again = send(channel, sleeps, [INVOICE, PDF])
    assert [(r.status, r.already_present) for r in again] == [("present", True), ("present", True)]
    assert [r.location for r in again] == [r.location for r in first]
    assert len(list((tmp_path / "inbox").iterdir())) == 2
    other_key = send(channel, sleeps, [INVOICE], key="ledgerflow-proforma-43")
    assert not other_key[0].already_present and len(list((tmp_path / "inbox").iterdir())) == 3


def test_sftp_same_key_with_other_bytes_is_refused(sftp, host_key, sleeps, tmp_path):
    send(sftp_channel(sftp, host_key), sleeps)
    changed = UploadFile(INVOICE.name, b"<Invoice>43</Invoice>", "application/xml")
    with pytest.raises(UploadError, match="already exists with other content") as caught:
        send(sftp_channel(sftp, host_key), sleeps, [changed])
    assert not caught.value.transient and caught.value.file == INVOICE.name
    assert (tmp_path / "inbox" / f"{KEY}_{INVOICE.name}").read_bytes() == INVOICE.content


def test_sftp_key_made_file_name_safe(sftp, host_key, sleeps, tmp_path):
    receipt = send(sftp_channel(sftp, host_key), sleeps, key="proforma:42:v1")[0]
    name = remote_name("proforma:42:v1", INVOICE.name)
    assert name.startswith("proforma-42-v1-") and name.endswith(f"_{INVOICE.name}")
    assert name != remote_name("proforma-42-v1", INVOICE.name)
    assert receipt.idempotency_key == "proforma:42:v1" and (tmp_path / "inbox" / name).exists()


def test_sftp_wrong_password_names_the_channel_and_is_not_retried(sftp, host_key, sleeps):
    channel = sftp_channel(sftp, host_key, secret="not-the-password")
    with pytest.raises(UploadError, match=rf"sftp://127\.0\.0\.1:{sftp.port}/inbox: login refused") as caught:
        send(channel, sleeps)
    assert (caught.value.transient, caught.value.channel) == (False, channel.label)
    assert sleeps == [] and sftp.connections == 1 and sftp.logins == [(USERNAME, False)]


@pytest.mark.parametrize("configured", ["other key", "none"])
def test_sftp_unknown_host_key_is_refused_before_the_password_goes(sftp, host_key, sleeps, configured):
    pinned = openssh_line(ed25519_key()) if configured == "other key" else ""
    with pytest.raises(UploadError, match="Not logging in") as caught:
        send(sftp_channel(sftp, host_key, host_key=pinned), sleeps)
    assert host_key.fingerprint in str(caught.value)
    assert caught.value.offered_host_key == f"ssh-ed25519 {host_key.get_base64()}"
    assert not caught.value.transient and sleeps == [] and sftp.logins == []


def test_sftp_pinned_key_is_asked_for_among_several(tmp_path, sleeps):
    (tmp_path / "inbox").mkdir()
    ed25519, ecdsa = ed25519_key(), paramiko.ECDSAKey.generate()
    server = SFTPTestServer(tmp_path, [ed25519, ecdsa]).start()
    try:
        for pinned in (ecdsa, ed25519):
            assert send(sftp_channel(server, pinned), sleeps, key=pinned.get_name())[0].status == "stored"
    finally:
        server.stop()


def test_sftp_server_down_then_up_is_retried(tmp_path, host_key, sleeps):
    (tmp_path / "inbox").mkdir()
    server = SFTPTestServer(tmp_path, [host_key], port=free_port())

    def sleep(seconds):
        sleeps.append(seconds)
        server.start()

    try:
        receipts = upload(sftp_channel(server, host_key), [INVOICE], KEY, sleep=sleep)
    finally:
        server.stop()
    assert sleeps == [1.0] and receipts[0].status == "stored"
    assert (tmp_path / "inbox" / f"{KEY}_{INVOICE.name}").read_bytes() == INVOICE.content


def test_sftp_missing_folder_is_a_configuration_error(sftp, host_key, sleeps):
    with pytest.raises(UploadError, match="no such remote folder") as caught:
        send(sftp_channel(sftp, host_key, url=sftp.url("/outbox")), sleeps)
    assert not caught.value.transient and sleeps == []


def test_host_keys_are_read_in_the_usual_formats(host_key):
    blob = host_key.get_base64()
    for text in (openssh_line(host_key), f"[sftp.example.com]:2222 ssh-ed25519 {blob}", blob,
                 f"# receiver's key\n\nssh-ed25519 {blob}\n"):
        assert [key.asbytes() for key in parse_host_keys(text)] == [host_key.asbytes()]
    for text in ("", "ssh-ed25519 not-base64", "@cert-authority *.example.com ssh-ed25519 " + blob, "AAAA"):
        with pytest.raises(ValueError):
            parse_host_keys(text)


@pytest.mark.parametrize(("kind", "url", "options", "field", "problem"), [
    ("sftp", "https://example.com/in", {}, "url", "url must be sftp://"),
    ("ftp", "ftp://example.com/in", {}, "kind", "kind must be"),
    ("sftp", "sftp://bob:pw@example.com/in", {}, "url", "not in the url"),
    ("https", "http://example.com/upload", {}, "url", "url must be https://"),
    ("https", "https://example.com:99999/upload", {}, "url", "out of range"),
    ("sftp", "sftp://example.com/in", {"host_key": "ssh-ed25519 not-base64"}, "host_key", "not an SSH public key"),
    ("https", "https://example.com/upload", {"ca_certificates": "-----BEGIN CERTIFICATE-----\nAAAA\n"
                                                                 "-----END CERTIFICATE-----\n"},
     "ca_certificates", "not usable PEM certificates"),
    ("https", "https://example.com/upload", {"ca_certificates": "-----BEGIN CERTIFICATE-----\nAA\u00a0AA\n"
                                                                 "-----END CERTIFICATE-----\n"},
     "ca_certificates", "not usable PEM certificates"),
])
def test_channel_settings_are_checked_and_name_the_setting(kind, url, options, field, problem):
    with pytest.raises(ChannelError, match=problem) as caught:
        Channel(kind, url, username="bob", secret="pw", **options)
    assert caught.value.field == field


def test_https_trusts_the_ca_certificates_given_as_text_and_only_them(https, sleeps, tmp_path):
    assert send(https_channel(https), sleeps)[0].reference == "RCV-0001"
    (tmp_path / "other").mkdir()
    other_ca = make_tls_files(tmp_path / "other")[0]  # a CA that did not issue the receiver's certificate
    with pytest.raises(UploadError, match="certificate not trusted"):
        send(https_channel(https, ca_certificates=other_ca.read_text()), sleeps)
    assert len(https.receiver.requests) == 1


def test_files_and_keys_are_checked():
    for name in ("../etc/passwd", ".hidden", "a/b.xml", 'quote".xml', ""):
        with pytest.raises(ValueError, match="plain file name"):
            UploadFile(name, b"x", "text/plain")
    with pytest.raises(ValueError, match="media type"):
        UploadFile("a.xml", b"x", "text/xml\r\nX-Injected: 1")
    channel = Channel("https", "https://127.0.0.1/upload", timeout=1)
    for key in ("", "line\nbreak", "with space"):
        with pytest.raises(ValueError, match="idempotency key"):
            upload(channel, [INVOICE], key)
    with pytest.raises(ValueError, match="distinct names"):
        upload(channel, [INVOICE, INVOICE], KEY)


# --- HTTPS ----------------------------------------------------------------------------------------------------------

def test_https_upload_carries_the_key_and_basic_auth(https, sleeps):
    receipts = send(https_channel(https), sleeps)
    [request] = https.receiver.requests
    assert request["key"] == KEY
    assert request["authorization"] == "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    assert (request["name"], request["type"], request["content"]) == (INVOICE.name, "application/xml", INVOICE.content)
    assert receipts == [Receipt("https", https.url_for("/receipts/RCV-0001"), KEY, "HTTP 201", "RCV-0001", NOW,
                                already_present=False)]


def test_https_bearer_token_when_there_is_no_username(https, sleeps):
    receipt = send(https_channel(https, username="", secret=TOKEN), sleeps)[0]
    assert https.receiver.requests[0]["authorization"] == f"Bearer {TOKEN}" and receipt.reference == "RCV-0001"


def test_https_same_key_again_is_already_present(https, sleeps):
    channel = https_channel(https)
    first, again = send(channel, sleeps)[0], send(channel, sleeps)[0]
    assert (again.reference, again.status, again.already_present) == (first.reference, "HTTP 200", True)
    assert len(https.receiver.stored) == 1


def test_https_409_naming_the_same_key_is_already_present_other_409_is_an_error(https, sleeps):
    https.receiver.answers += [(409, {"idempotency_key": KEY, "reference": "RCV-0007"}),
                               (409, {"error": "invoice number already used"})]
    receipt = send(https_channel(https), sleeps)[0]
    assert (receipt.already_present, receipt.reference, receipt.status) == (True, "RCV-0007", "HTTP 409")
    with pytest.raises(UploadError, match="HTTP 409 \\(invoice number already used\\)") as caught:
        send(https_channel(https), sleeps)
    assert caught.value.http_status == 409 and not caught.value.transient


def test_https_each_of_several_files_gets_its_own_key(https, sleeps):
    receipts = send(https_channel(https), sleeps, [INVOICE, PDF])
    keys = [f"{KEY}:{INVOICE.name}", f"{KEY}:{PDF.name}"]
    assert [r["key"] for r in https.receiver.requests] == keys == [r.idempotency_key for r in receipts]
    assert [r.reference for r in receipts] == ["RCV-0001", "RCV-0002"]


def test_https_server_down_then_up_is_retried(tmp_path, sleeps):
    server, receiver, ca = https_server(tmp_path, port=free_port())
    channel = Channel("https", f"https://127.0.0.1:{server.port}/upload", USERNAME, PASSWORD, 5.0,
                      ca_certificates=ca.read_text())

    def sleep(seconds):
        sleeps.append(seconds)
        if not server.is_running():
            server.start()

    try:
        receipts = upload(channel, [INVOICE], KEY, sleep=sleep)
    finally:
        server.stop()
    assert sleeps == [1.0] and receipts[0].reference == "RCV-0001" and len(receiver.requests) == 1


def test_https_5xx_is_retried_with_growing_delays_and_retry_after(https, sleeps):
    https.receiver.answers += [(503, {}), (502, {})]
    assert send(https_channel(https), sleeps)[0].reference == "RCV-0001"
    assert sleeps == [1.0, 2.0] and len(https.receiver.requests) == 3


def test_https_answer_lost_in_a_timeout_is_retried_and_stored_once(tmp_path, sleeps):
    """POST is retried because the receiver deduplicates on the Idempotency-Key: the repeat finds the first copy."""
    server, receiver, ca = https_server(tmp_path, threaded=True)
    receiver.slow.append(3.0)  # stores the file, then answers too late for the client
    server.start()
    try:
        channel = Channel("https", server.url_for("/upload"), USERNAME, PASSWORD, 0.5, ca_certificates=ca.read_text())
        [receipt] = upload(channel, [INVOICE], KEY, sleep=sleeps.append, now=lambda: NOW)
    finally:
        server.stop()
    assert [r["key"] for r in receiver.requests] == [KEY, KEY] and len(receiver.stored) == 1
    assert (receipt.reference, receipt.status, receipt.already_present) == ("RCV-0001", "HTTP 200", True)
    assert sleeps == [1.0]


def test_https_redirect_is_not_followed(https, sleeps):
    https.receiver.answers.append((307, {}, https.url_for("/upload")))  # followed, it would post a second time
    with pytest.raises(UploadError, match="HTTP 307") as caught:
        send(https_channel(https), sleeps)
    assert not caught.value.transient and len(https.receiver.requests) == 1


def test_https_always_down_gives_up_as_transient(sleeps):
    channel = Channel("https", f"https://127.0.0.1:{free_port()}/upload", USERNAME, PASSWORD, 2.0)
    with pytest.raises(UploadError, match="upload failed after 3 attempts") as caught:
        send(channel, sleeps, retry=RetryPolicy(attempts=3, base_delay=0.5))
    assert caught.value.transient and caught.value.channel == channel.label and sleeps == [0.5, 1.0]


def test_https_timeout_is_retried_then_transient(sleeps):
    with black_hole() as listener:
        channel = Channel("https", f"https://127.0.0.1:{listener.getsockname()[1]}/upload", USERNAME, PASSWORD, 0.2)
        with pytest.raises(UploadError, match="timed out") as caught:
            send(channel, sleeps, retry=RetryPolicy(attempts=2))
    assert caught.value.transient and sleeps == [1.0]


def test_https_401_is_not_retried(https, sleeps):
    with pytest.raises(UploadError, match="HTTP 401 \\(bad credentials, unknown user or token\\)") as caught:
        send(https_channel(https, secret="wrong"), sleeps)
    assert (caught.value.http_status, caught.value.transient, caught.value.file) == (401, False, INVOICE.name)
    assert sleeps == [] and len(https.receiver.requests) == 1


def test_https_untrusted_certificate_is_refused_without_retry(https, sleeps):
    with pytest.raises(UploadError, match="certificate not trusted") as caught:
        send(https_channel(https, ca_certificates=""), sleeps)
    assert not caught.value.transient and sleeps == [] and https.receiver.requests == []


def test_secrets_never_in_repr_errors_or_logs(sftp, https, host_key, sleeps, caplog):
    caplog.set_level(logging.DEBUG)
    channels = [sftp_channel(sftp, host_key), https_channel(https)]
    for channel in channels:
        send(channel, sleeps)
        assert PASSWORD not in repr(channel) and "secret='***'" in repr(channel)
    https.receiver.answers.append((503, {}))
    send(https_channel(https), sleeps, key="other-key")
    failures = []
    for channel in (sftp_channel(sftp, host_key, secret=PASSWORD + "x"), https_channel(https, secret=PASSWORD + "x")):
        with pytest.raises(UploadError) as caught:
            send(channel, sleeps)
        failures += [str(caught.value), repr(caught.value)]
    text = caplog.text + "".join(failures)
    assert "Upload" in caplog.text and "retrying" in caplog.text
    for secret in (PASSWORD, base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()):
        assert secret not in text
