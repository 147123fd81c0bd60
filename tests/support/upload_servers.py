"""Real loopback servers for the upload tests: a paramiko SFTP server over a folder and an HTTPS receiver."""

from __future__ import annotations

import base64
import io
import ipaddress
import json
import os
import socket
import ssl
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paramiko
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

USERNAME, PASSWORD, TOKEN = "ledgerflow", "sftp-pass-7Qz!", "bearer-token-9Xk"


def ed25519_key() -> paramiko.PKey:
    """A fresh Ed25519 host key (paramiko cannot generate those itself)."""
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
    return paramiko.Ed25519Key(file_obj=io.StringIO(pem.decode()))


def openssh_line(key: paramiko.PKey) -> str:
    """The key as an OpenSSH public key line."""
    return f"{key.get_name()} {key.get_base64()} test@loopback"


def free_port() -> int:
    """A loopback port nobody listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class FolderSFTP(paramiko.SFTPServerInterface):
    """Serves one local folder as the SFTP root; SFTP v3 rename refuses to replace, like OpenSSH."""

    def __init__(self, server, *args, root: Path, **kwargs):
        super().__init__(server, *args, **kwargs)
        self.root = root

    def _local(self, path: str) -> Path:
        local = (self.root / path.lstrip("/")).resolve()
        if local != self.root and self.root not in local.parents:
            raise PermissionError(path)
        return local

    def canonicalize(self, path: str) -> str:
        relative = self._local(path).relative_to(self.root).as_posix()
        return "/" if relative == "." else f"/{relative}"

    def list_folder(self, path):
        return self._call(lambda: [self._attributes(entry) for entry in self._local(path).iterdir()])

    def stat(self, path):
        return self._call(lambda: self._attributes(self._local(path)))

    lstat = stat

    def open(self, path, flags, attr):
        def opened():
            fd = os.open(self._local(path), flags, 0o644)
            handle = paramiko.SFTPHandle(flags)
            handle.readfile = handle.writefile = os.fdopen(fd, "r+b" if flags & os.O_RDWR else
                                                           "wb" if flags & os.O_WRONLY else "rb")
            return handle
        return self._call(opened)

    def remove(self, path):
        return self._call(lambda: self._local(path).unlink(), done=True)

    def rename(self, oldpath, newpath):
        if self._local(newpath).exists():
            return paramiko.SFTP_FAILURE
        return self._call(lambda: self._local(oldpath).rename(self._local(newpath)), done=True)

    def mkdir(self, path, attr):
        return self._call(lambda: self._local(path).mkdir(), done=True)

    @staticmethod
    def _attributes(local: Path) -> paramiko.SFTPAttributes:
        attributes = paramiko.SFTPAttributes.from_stat(local.stat())
        attributes.filename = local.name
        return attributes

    @staticmethod
    def _call(action, *, done: bool = False):
        try:
            result = action()
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)
        return paramiko.SFTP_OK if done else result


class _Logins(paramiko.ServerInterface):
    def __init__(self, server: SFTPTestServer):
        self.server = server

    def get_allowed_auths(self, username):
        return "password"

    def check_auth_password(self, username, password):
        accepted = (username, password) == (self.server.username, self.server.password)
        self.server.logins.append((username, accepted))
        return paramiko.AUTH_SUCCESSFUL if accepted else paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


class SFTPTestServer:
    """An SFTP server on a loopback port, storing into `root`; records connections and login attempts."""

    def __init__(self, root: Path, host_keys: list[paramiko.PKey], port: int = 0):
        self.root, self.host_keys, self.port = root.resolve(), host_keys, port
        self.username, self.password = USERNAME, PASSWORD
        self.connections, self.logins = 0, []
        self._listener: socket.socket | None = None
        self._transports: list[paramiko.Transport] = []
        self._stopping = threading.Event()

    def url(self, folder: str = "/inbox") -> str:
        """sftp:// url of a folder on this server."""
        return f"sftp://127.0.0.1:{self.port}{folder}"

    def start(self) -> SFTPTestServer:
        """Listen and serve in background threads."""
        self._listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening and drop every connection."""
        self._stopping.set()
        if self._listener:
            self._listener.close()
        for transport in self._transports:
            transport.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        transport = paramiko.Transport(client)
        self._transports.append(transport)
        for key in self.host_keys:
            transport.add_server_key(key)
        transport.set_subsystem_handler("sftp", paramiko.SFTPServer, FolderSFTP, root=self.root)
        try:
            transport.start_server(server=_Logins(self))
        except (paramiko.SSHException, EOFError, OSError):
            transport.close()


def make_tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1/localhost: (ca.pem, server.pem, server.key)."""
    now = datetime.now(UTC)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Ledgerflow test CA")])
    ca = _certificate(ca_name, ca_name, ca_key.public_key(), ca_key, now, ca=True)
    server = _certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]), ca_name,
                          server_key.public_key(), ca_key, now, ca=False)
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return paths


def _certificate(subject, issuer, public_key, signer, now, *, ca: bool) -> x509.Certificate:
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
               .not_valid_after(now + timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=ca, crl_sign=ca,
                                            content_commitment=False, key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, encipher_only=False, decipher_only=False),
                              critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
    return builder.sign(signer, hashes.SHA256())


class Receiver:
    """An idempotent upload endpoint: stores a file once per Idempotency-Key and answers repeats with 200."""

    def __init__(self):
        self.stored: dict[str, tuple[str, str, bytes]] = {}  # key -> (reference, file name, content)
        self.requests: list[dict] = []
        self.answers: list[tuple] = []  # scripted (status, body[, location]), used up before the normal ones
        self.slow: list[float] = []  # seconds to wait before answering, after storing: an answer lost in a timeout

    def handle(self, request: Request) -> Response:
        """Record, check the credentials, store once per key."""
        key, upload = request.headers.get("Idempotency-Key"), request.files.get("file")
        self.requests.append({"key": key, "authorization": request.headers.get("Authorization"),
                              "name": upload and upload.filename, "type": upload and upload.mimetype,
                              "content": upload and upload.read()})
        if self.answers:
            return _json(*self.answers.pop(0))
        if request.headers.get("Authorization") not in (_basic(USERNAME, PASSWORD), f"Bearer {TOKEN}"):
            return _json(401, {"error": "unknown user or token"})
        if key in self.stored:
            return _json(200, {"reference": self.stored[key][0], "idempotency_key": key})
        reference = f"RCV-{len(self.stored) + 1:04d}"
        self.stored[key] = (reference, upload.filename, self.requests[-1]["content"])
        if self.slow:
            time.sleep(self.slow.pop(0))
        return _json(201, {"reference": reference, "idempotency_key": key}, location=f"/receipts/{reference}")


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _json(status: int, body: dict, location: str | None = None) -> Response:
    response = Response(json.dumps(body), status=status, content_type="application/json")
    if location:
        response.headers["Location"] = location
    return response


def https_server(folder: Path, port: int = 0, threaded: bool = False) -> tuple[HTTPServer, Receiver, Path]:
    """An HTTPS receiver at /upload (not started yet) and the CA file that trusts it; `threaded` answers a
    retry while an earlier request is still being handled."""
    ca, certificate, key = make_tls_files(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    server, receiver = HTTPServer("127.0.0.1", port, ssl_context=context, threaded=threaded), Receiver()
    server.expect_request("/upload", method="POST").respond_with_handler(receiver.handle)
    return server, receiver, ca


def black_hole() -> socket.socket:
    """A listening socket that never accepts: connections open, then nothing is ever answered."""
    return socket.create_server(("127.0.0.1", 0))
