"""`gateway serve` as a user runs it: a subprocess with its embedded Redis and a worker process."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import QUALYTICS_SECRET, TRACKER_ENV, Trackers

ROOT = Path(__file__).parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Served:
    """A running `gateway serve`: its URL, log, and the pids it reported."""

    def __init__(
        self,
        root: Path,
        files: dict[str, str],
        extra_env: dict[str, str] | None = None,
        options: tuple[str, ...] = ("--no-sandbox",),
        database_url: str | None = None,
    ) -> None:
        mappings = root / "mappings"
        mappings.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (mappings / name).write_text(text)
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = root / "serve.log"
        self.env = {
            **os.environ,
            **TRACKER_ENV,
            "QUALYTICS_SECRET": QUALYTICS_SECRET,
            "GATEWAY_MAPPINGS": str(mappings),
            "GATEWAY_DATABASE_URL": database_url or f"sqlite:///{root / 'gateway.db'}",
            "GATEWAY_VAR_DIR": str(root / "var"),
            "GATEWAY_SWEEP_INTERVAL_SECONDS": "0.2",
            "PYTHONPATH": str(ROOT),
            **(extra_env or {}),
        }
        self.env.pop("REDIS_URL", None)
        self.options = options
        self.database_url = self.env["GATEWAY_DATABASE_URL"]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Served:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway.run.cli", "serve", *self.options, "--port", str(self.port)],
            cwd=self.root,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"gateway serve did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def pids(self, what: str) -> list[int]:
        pattern = {
            "worker": r"worker started, pid (\d+)",
            "redis": r"embedded redis-server pid (\d+)",
            "writer": r"ingress writer process ready, pid (\d+)",
        }[what]
        return [int(p) for p in re.findall(pattern, self.log())]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def get(self, path: str, **kwargs: Any) -> Any:
        try:
            response = httpx.get(f"{self.url}{path}", timeout=10, **kwargs)
        except httpx.HTTPError as exc:  # a CI failure then says what the gateway was doing
            raise AssertionError(f"GET {path}: {exc!r}; log:\n{self.log()[-3000:]}") from exc
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        raise AssertionError(f"condition not met within {timeout} s; log:\n{self.log()[-3000:]}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def serve(tmp_path: Path, trackers: Trackers, database_url: Callable[[Path], str]) -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(files: dict[str, str] | None = None, name: str = "served", **env: str) -> Served:
        root = tmp_path / name
        served = Served(root, files or trackers.mappings(), env, database_url=database_url(root)).start()
        started.append(served)
        return served

    yield start
    for served in started:
        if served.process is not None and served.process.poll() is None:
            served.stop()
