"""Keeps the worker processes `gateway serve` started alive, and stops them by pid at the end.

RQ's work horse leaves the process group, so a group kill would miss it: each worker is
stopped by its own pid (SIGTERM, then SIGKILL), after supervision has stopped so nothing
restarts what is being stopped.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Mapping

log = logging.getLogger("gateway.run.supervisor")
DEFAULT_WORKERS = 3  # `gateway serve --workers`: 100 webhooks/s to two trackers under 250 ms p99 here (make bench)


class Supervisor:
    def __init__(self, env: Mapping[str, str], count: int = 1, check_every: float = 0.5) -> None:
        self.env = dict(env)
        self.count = count
        self.check_every = check_every
        self.processes: list[subprocess.Popen[bytes]] = []
        self.restarts = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def _spawn(self) -> subprocess.Popen[bytes]:
        # its own session: only the supervisor decides when a worker stops
        process = subprocess.Popen([sys.executable, "-m", "gateway.run.worker"], env=self.env, start_new_session=True)
        log.info("worker started, pid %s", process.pid)
        return process

    def start(self) -> Supervisor:
        with self._lock:
            self.processes = [self._spawn() for _ in range(self.count)]
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(self.check_every):
            with self._lock:
                if self._stop.is_set():
                    return
                for index, process in enumerate(self.processes):
                    code = process.poll()
                    if code is not None:
                        self.restarts += 1
                        log.warning("worker pid %s exited with %s; restarting it", process.pid, code)
                        self.processes[index] = self._spawn()

    @property
    def pids(self) -> list[int]:
        with self._lock:
            return [p.pid for p in self.processes]

    def stop_supervising(self) -> None:
        """From now on a worker that exits stays down (shutdown has begun)."""
        self._stop.set()

    def stop(self, timeout: float = 15.0) -> None:
        self.stop_supervising()
        with self._lock:
            processes = list(self.processes)
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning("worker pid %s did not stop; killing it", process.pid)
                process.kill()
                process.wait()
        log.info("workers stopped")


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env
