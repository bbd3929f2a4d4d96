"""Bounded requests against a real `gateway serve`: head size, slow clients, and memory after an attack."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import LOCAL_MAPPINGS
from tests.e2e.conftest import Served

ATTACK_CONNECTIONS = 10
ATTACK_HEADER_BYTES = 32 * 1024 * 1024
GIVE_UP_AFTER = 60.0  # a bound for the test itself; the gateway is configured to cut far sooner


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One `gateway serve` for the module (it only needs a local target), cutting requests after 2 s."""
    env = {"GATEWAY_REQUEST_TIMEOUT_SECONDS": "2", "GATEWAY_KEEP_ALIVE_SECONDS": "1"}
    running = Served(tmp_path_factory.mktemp("bounds"), LOCAL_MAPPINGS, env).start()
    yield running
    running.stop()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def connect(served: Served) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=GIVE_UP_AFTER)
    return sock


def huge_head(served: Served) -> int:
    """Send up to 32 MiB of one header; the bytes sent before the gateway cut the connection."""
    sent = 0
    chunk = b"a" * 65536
    with connect(served) as sock:
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
            while sent < ATTACK_HEADER_BYTES:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
    return sent


def read_status(sock: socket.socket) -> int:
    """One whole response off a kept-alive connection (its head, then Content-Length bytes); its status."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(4096)
        assert more, "the connection closed before an answer"
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        more = sock.recv(4096)
        assert more, "the connection closed inside an answer"
        body += more
    return int(lines[0].split()[1])


def cut_while_trickling(sock: socket.socket, start: bytes, piece: bytes) -> bool:
    """Send `start`, then `piece` every 0.2 s: True when the gateway closes the connection."""
    deadline = time.monotonic() + GIVE_UP_AFTER
    sock.settimeout(0.2)
    try:
        sock.sendall(start)
        while time.monotonic() < deadline:
            try:
                if sock.recv(4096) == b"":
                    return True
            except TimeoutError:
                pass
            sock.sendall(piece)
    except OSError:  # reset or broken pipe: cut
        return True
    return False


def test_a_head_over_16_kib_is_refused_and_a_normal_one_served(served: Served) -> None:
    assert httpx.get(f"{served.url}/healthz", headers={"x-pad": "a" * 10_000}).status_code == 200
    refused = httpx.get(f"{served.url}/healthz", headers={"x-pad": "a" * 20_000})  # one header past the bound
    assert refused.status_code == 431 and refused.json()["error"] == "headers_too_large"
    refused = httpx.get(f"{served.url}/v1/tickets", headers={f"x-pad-{i}": "a" * 1000 for i in range(20)})
    assert refused.status_code == 431
    assert refused.json()["error"] == "headers_too_large" and "16384" in refused.json()["detail"]
    assert "passed 16384 bytes (431)" in served.log() and "Invalid HTTP request" not in served.log()


def test_huge_headers_are_cut_and_the_memory_comes_back(served: Served) -> None:
    assert served.process is not None
    httpx.get(f"{served.url}/healthz")
    before = rss_kib(served.process.pid)
    with ThreadPoolExecutor(ATTACK_CONNECTIONS) as pool:
        sent = list(pool.map(lambda _: huge_head(served), range(ATTACK_CONNECTIONS)))
    print(f"bytes sent before the cut: {sent}")
    assert all(n < ATTACK_HEADER_BYTES for n in sent)
    assert httpx.get(f"{served.url}/healthz").status_code == 200
    after = rss_kib(served.process.pid)
    print(f"web process RSS: {before} KiB before, {after} KiB after")
    assert after - before < 20 * 1024


@pytest.mark.parametrize(
    ("what", "start", "piece"),
    [
        ("headers a line at a time", b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"X-A: b\r\n"),
        (
            "a body a byte at a time",
            b"POST /v1/webhooks/qualytics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n",
            b"{",
        ),
        ("nothing at all", b"", b""),
    ],
)
def test_a_slow_client_is_cut_and_a_fast_one_is_not(served: Served, what: str, start: bytes, piece: bytes) -> None:
    with connect(served) as slow, ThreadPoolExecutor(1) as pool:
        cut = pool.submit(cut_while_trickling, slow, start, piece)
        fast = [httpx.get(f"{served.url}/healthz").status_code for _ in range(5)]
        assert cut.result(), f"{what}: the gateway never closed the connection"
    assert fast == [200] * 5


def test_each_kept_alive_request_has_its_own_deadline(served: Served) -> None:
    """A second request on a connection has 2 s from its own first byte, not from when the connection opened:
    this one ends 2.2 s after the connection opened, 1.5 s after it began, and is answered."""
    with connect(served) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert read_status(sock) == 200
        time.sleep(0.7)  # idle, within the 1 s keep-alive
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        for _ in range(5):
            time.sleep(0.3)
            sock.sendall(b"X-A: b\r\n")
        sock.sendall(b"\r\n")
        assert read_status(sock) == 200


def test_an_idle_keep_alive_connection_is_closed(served: Served) -> None:
    with connect(served) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert cut_while_trickling(sock, b"", b"")


def test_on_loopback_without_a_token_one_warning_and_private_files(served: Served) -> None:
    assert served.log().count("GATEWAY_API_TOKEN is not set") == 1
    assert (served.root / "var").stat().st_mode & 0o777 == 0o700
    for name in ("gateway.db", "gateway.db-wal"):
        assert (served.root / name).stat().st_mode & 0o777 == 0o600, name


def test_every_command_creates_its_files_for_the_owner_only(tmp_path: Path) -> None:
    from tests.faults.conftest import cli

    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path}/fresh/gateway.db",
        "GATEWAY_VAR_DIR": f"{tmp_path}/var",
    }
    env.pop("REDIS_URL", None)
    result = cli(env, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "fresh" / "gateway.db").stat().st_mode & 0o777 == 0o600
