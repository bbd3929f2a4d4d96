"""A throwaway PostgreSQL server for the tests: Debian's binaries, a temporary directory, a free port.

As root, initdb and postgres refuse to run: they run as the `postgres` user (or `nobody`).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

SWITCH = "GATEWAY_TEST_DATABASE"  # "postgresql" runs the suites that read it on PostgreSQL


def wanted() -> bool:
    return os.environ.get(SWITCH, "sqlite").lower().startswith("postgres")


def statements_sent(conn: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL of each statement a connection of the mirror sends from now on (PostgreSQL; SQLite's: none)."""
    sent: list[str] = []
    wire = getattr(conn, "wire", None)
    if wire is not None:
        real_send = wire.send
        monkeypatch.setattr(wire, "send", lambda sql, args, **kw: (sent.append(sql), real_send(sql, args, **kw))[1])
    return sent


def _bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise RuntimeError(f"{name} not found: `make test` installs Debian's postgresql (apt-get install postgresql)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="gateway-pg-"))
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            user = "postgres" if _has_user("postgres") else "nobody"
            os.chmod(self.root, 0o755)
            shutil.chown(self.root, user)
            self.prefix = ["runuser", "-u", user, "--"]

    @property
    def admin_url(self) -> str:
        return f"postgresql://gateway@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://gateway@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        data = self.root / "data"
        subprocess.run(
            [*self.prefix, _bin("initdb"), "-D", str(data), "-U", "gateway", "--auth=trust", "-E", "UTF8", "--no-sync"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.root),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "400",
        }
        args = [f"-c{key}={value}" for key, value in settings.items()]
        log = open(self.root / "server.log", "wb")  # noqa: SIM115  kept open for the server's life
        self.process = subprocess.Popen(
            [*self.prefix, _bin("postgres"), "-D", str(data), *args], stdout=log, stderr=log
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.admin_url, connect_timeout=2).close()
                return self
            except psycopg.OperationalError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError((self.root / "server.log").read_text()) from None
                time.sleep(0.1)

    def create_database(self) -> str:
        """A new, empty database; its URL."""
        name = f"gw{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        return self.url(name)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            stop = [*self.prefix, _bin("pg_ctl"), "-D", str(self.root / "data"), "stop", "-m", "fast", "-w"]
            subprocess.run(stop, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
