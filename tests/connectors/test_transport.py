"""The trackers' lean transport against a loopback server: what `requests` users rely on still holds."""

from __future__ import annotations

import datetime as dt
import gzip
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connectors import transport
from connectors.sessions import prepare_session


@dataclass
class Seen:
    connections: int = 0
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def setup(self) -> None:
        super().setup()
        self.server.seen.connections += 1

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.requests.append((self.command, self.path, dict(self.headers.items())))
        path = self.path.split("?")[0]
        if path == "/slow":
            time.sleep(1.0)
        if path == "/gzip":
            self._answer(200, gzip.compress(b'{"zipped": true}'), {"Content-Encoding": "gzip"})
        elif path == "/cookie":
            self._answer(200, b"{}", {"Set-Cookie": "route=node-7; Path=/"})
        elif path == "/moved":
            self._answer(302, b"", {"Location": "/echo?after=redirect"})
        elif path == "/hang-up":  # answers as if it keeps the connection, then closes it
            self._answer(200, b'{"then": "closed"}')
            self.close_connection = True
        else:
            self._answer(200, json.dumps({"method": self.command, "path": self.path, "body": body.decode()}).encode())

    do_GET = do_POST = do_PUT = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen = Seen()
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.shutdown()
    running.server_close()


def session_for(url: str) -> requests.Session:
    session = requests.Session()
    prepare_session(session, url)
    return session


def test_calls_share_one_kept_alive_connection(server: Server) -> None:
    session = session_for(server.url)
    answers = [session.get(f"{server.url}/echo", params={"n": n}, timeout=5).json() for n in range(5)]
    posted = session.post(f"{server.url}/issue", json={"summary": "ünïcode"}, timeout=5)

    assert [a["path"] for a in answers] == [f"/echo?n={n}" for n in range(5)]
    assert posted.status_code == 200 and json.loads(posted.json()["body"]) == {"summary": "ünïcode"}
    assert posted.headers["content-type"] == "application/json"
    assert server.seen.connections == 1
    adapter = session.get_adapter(server.url)
    assert isinstance(adapter, transport.KeptAliveAdapter)
    # a request's head and body are two writes: the body must not wait for a delayed ACK (Nagle)
    (conn,) = adapter._local.connections.values()
    assert conn.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_a_connection_the_server_closed_is_replaced(server: Server) -> None:
    session = session_for(server.url)
    assert session.get(f"{server.url}/hang-up", timeout=5).json() == {"then": "closed"}
    time.sleep(0.1)  # the server's close reaches the client
    assert session.get(f"{server.url}/echo", timeout=5).json()["path"] == "/echo"
    assert server.seen.connections == 2


def test_a_stale_connection_is_tried_again_only_for_idempotent_methods(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server closes as the client sends (the check before reuse missed it): a GET goes again on a
    new connection; a POST is not sent twice (the job's retry decides, with its find-before-create)."""
    session = session_for(server.url)
    monkeypatch.setattr(transport, "_dropped", lambda sock: False)
    session.get(f"{server.url}/hang-up", timeout=5)
    time.sleep(0.1)
    assert session.get(f"{server.url}/echo", timeout=5).json()["method"] == "GET"

    session.get(f"{server.url}/hang-up", timeout=5)
    time.sleep(0.1)
    posts_before = sum(1 for method, _, _ in server.seen.requests if method == "POST")
    with pytest.raises(requests.ConnectionError):
        session.post(f"{server.url}/issue", json={}, timeout=5)
    assert sum(1 for method, _, _ in server.seen.requests if method == "POST") == posts_before
    assert session.post(f"{server.url}/issue", json={}, timeout=5).status_code == 200  # a new connection


def test_timeouts_and_refusals_are_requests_errors(server: Server) -> None:
    session = session_for(server.url)
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.get(f"{server.url}/slow", timeout=(2, 0.2))
    assert session.get(f"{server.url}/echo", timeout=5).status_code == 200  # the timed-out connection is gone

    with pytest.raises(requests.exceptions.ConnectionError) as refused:
        session.get(f"http://127.0.0.1:{free_port()}/", timeout=2)
    assert not isinstance(refused.value, requests.Timeout)


def test_gzip_cookies_and_redirects(server: Server) -> None:
    session = session_for(server.url)
    assert session.get(f"{server.url}/gzip", timeout=5).json() == {"zipped": True}
    assert server.seen.requests[-1][2]["Accept-Encoding"] == "gzip, deflate"

    session.get(f"{server.url}/cookie", timeout=5)
    session.get(f"{server.url}/echo", timeout=5)
    assert server.seen.requests[-1][2].get("Cookie") == "route=node-7"

    moved = session.get(f"{server.url}/moved", timeout=5)
    assert moved.json()["path"] == "/echo?after=redirect"
    assert [r.status_code for r in moved.history] == [302]


def test_streams_and_proxies_go_through_requests_own_adapter(server: Server) -> None:
    session = session_for(server.url)
    streamed = session.get(f"{server.url}/echo", stream=True, timeout=5)
    assert json.loads(b"".join(streamed.iter_content(4))) == {"method": "GET", "path": "/echo", "body": ""}
    assert not isinstance(streamed.raw, transport._Raw)

    # the test server stands in for a proxy: the request line carries the whole URL
    session.proxies = {"http": server.url}
    session.get("http://tracker.example/rest/api/2/serverInfo", timeout=5)
    assert server.seen.requests[-1][1] == "http://tracker.example/rest/api/2/serverInfo"


def test_tls_is_verified_against_the_sessions_bundle(tmp_path: Path) -> None:
    cert_file, key_file = self_signed(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_file, key_file)
    running = Server(tls)
    url = f"https://localhost:{running.server_address[1]}"
    try:
        untrusting = session_for(url)  # certifi's bundle does not know this certificate
        with pytest.raises(requests.exceptions.SSLError):
            untrusting.get(f"{url}/echo", timeout=5)

        trusting = session_for(url)
        trusting.verify = str(cert_file)
        assert trusting.get(f"{url}/echo", timeout=5).json()["path"] == "/echo"
        assert trusting.get(f"{url}/echo", timeout=5).status_code == 200
        assert running.seen.connections == 1  # kept alive (the refused handshake never reached a handler)
    finally:
        running.shutdown()
        running.server_close()


def free_port() -> int:
    """A port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file
