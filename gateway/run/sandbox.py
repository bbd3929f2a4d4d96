"""The sandbox `gateway serve` starts when no tracker is configured: loopback Jira and ServiceNow.

Each emulator runs in a process of its own (its work stays off the web process's CPU) and
starts only when its URL variable is unset, on its default port or, when another
process holds that port, on a free one (the variables then point there). Once the mappings
are loaded, an emulator no target uses is stopped again. Their tickets are kept in
`var/sandbox/<kind>.json` so that they stay in step with the mirror across restarts;
`gateway sandbox reset` clears both. The control endpoints (`/_emulator/*`) need the token
written to `var/sandbox/control-token`.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from connectors.emulators.base import Emulator, EmulatorHTTPServer
from gateway.run.heap import freeze_startup_heap

log = logging.getLogger("gateway.run.sandbox")

CONTROL_TOKEN_VARIABLE = "GATEWAY_SANDBOX_CONTROL_TOKEN"
PORTS = {"jira": 9001, "servicenow": 9002}
NAMES = {"jira": "Jira", "servicenow": "ServiceNow"}
# The variables the example mappings read, first the URL.
VARIABLES = {
    "jira": {"JIRA_URL": "http://127.0.0.1:{port}", "JIRA_USER": "sandbox", "JIRA_API_TOKEN": "sandbox-token"},
    "servicenow": {
        "SERVICENOW_URL": "http://127.0.0.1:{port}",
        "SERVICENOW_USER": "sandbox",
        "SERVICENOW_PASSWORD": "sandbox-password",
    },
}


def _emulators() -> dict[str, Callable[[], Emulator]]:
    from connectors.emulators.jira import sandbox
    from connectors.emulators.servicenow import ServiceNowEmulator

    return {"jira": sandbox, "servicenow": ServiceNowEmulator}


@dataclass
class Tracker:
    """A sandbox tracker: an emulator in a process of its own, so its work is not the web process's."""

    kind: str
    url: str
    state_file: Path
    process: subprocess.Popen[bytes]

    def describe(self) -> str:
        return f"sandbox {NAMES[self.kind]} on {self.url}"

    def stop(self) -> None:
        """SIGTERM (the emulator writes its state), then SIGKILL if it does not end."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def directory(var_dir: Path) -> Path:
    return var_dir / "sandbox"


def control_token(var_dir: Path) -> str:
    """The sandbox's control token: made once, kept beside its state (mode 0600)."""
    path = directory(var_dir) / "control-token"
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
        file.write(token)
    return token


def _listen(emulator: Emulator, port: int) -> EmulatorHTTPServer:
    try:
        return EmulatorHTTPServer(emulator, "127.0.0.1", port)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE or port == 0:
            raise
        log.info("port %s is taken (another gateway?); the sandbox %s takes a free port", port, emulator.name)
        return EmulatorHTTPServer(emulator, "127.0.0.1", 0)


def start_sandbox(env: dict[str, str], var_dir: Path, ports: dict[str, int] | None = None) -> list[Tracker]:
    """An emulator for each tracker whose URL is not set; `env` gets the variables that point at it."""
    ports = {**PORTS, **(ports or {})}
    state = directory(var_dir)
    token = control_token(var_dir)
    started: list[Tracker] = []
    for kind in PORTS:
        variables = VARIABLES[kind]
        if os.environ.get(next(iter(variables))):
            continue
        try:
            tracker = _spawn(kind, ports[kind], state / f"{kind}.json", token)
        except SystemExit:
            for other in started:
                other.stop()
            raise
        env.update({name: value.format(port=tracker.url.rsplit(":", 1)[1]) for name, value in variables.items()})
        started.append(tracker)
    return started


def _spawn(kind: str, port: int, state_file: Path, token: str) -> Tracker:
    """Start one emulator process and read the port it listens on (its first line)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.run.sandbox", kind, str(port), str(state_file)],
        env={**os.environ, CONTROL_TOKEN_VARIABLE: token},
        stdin=subprocess.PIPE,  # its end of this pipe closing tells the emulator the gateway is gone
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    first = process.stdout.readline().decode().strip()
    if not first.startswith("listening "):
        process.wait()
        raise SystemExit(
            f"the sandbox {kind} cannot listen on 127.0.0.1:{port} ({first or 'it exited'}); "
            f"choose --sandbox-ports or set {next(iter(VARIABLES[kind]))}"
        )
    return Tracker(kind, f"http://127.0.0.1:{first.split()[1]}", state_file, process)


def run_emulator(kind: str, port: int, state_file: Path) -> None:
    """The emulator process: listen, say the port, serve until SIGTERM or the gateway's pipe closes."""
    emulator = _emulators()[kind]()
    emulator.control_token = os.environ.get(CONTROL_TOKEN_VARIABLE, "")
    try:
        server = _listen(emulator, port)
    except OSError as exc:
        print(f"error {exc.strerror}", flush=True)
        raise SystemExit(1) from None
    server.keep_state(state_file)
    freeze_startup_heap()  # the sandbox stands in for the trackers: no collector pauses of its own either
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def watch_gateway() -> None:
        while os.read(0, 4096):  # b"" when the gateway's end closes, also when it was killed
            pass
        stop.set()

    threading.Thread(target=watch_gateway, daemon=True).start()
    server.start()
    print(f"listening {server.server_address[1]}", flush=True)
    stop.wait()
    server.stop()
    server.save_state()


def keep_used(trackers: list[Tracker], urls: Iterable[str]) -> list[Tracker]:
    """Stop the emulators no target points at; the others say where they are."""
    wanted = {url.rstrip("/") for url in urls}
    kept = []
    for tracker in trackers:
        if tracker.url in wanted:
            log.info("%s (tickets kept in %s)", tracker.describe(), tracker.state_file)
            kept.append(tracker)
        else:
            tracker.stop()
    return kept


def mark_serving(var_dir: Path) -> Path:
    """A pid file while a gateway serves from this var/: `reset` refuses to pull the state from under it."""
    path = directory(var_dir) / "serving.pid"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(os.getpid()))
    return path


def serving_pid(var_dir: Path) -> int | None:
    try:
        pid = int((directory(var_dir) / "serving.pid").read_text())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid


def reset(var_dir: Path, database: Path) -> list[Path]:
    """Forget the sandbox trackers' tickets and the mirror together; the paths removed."""
    pid = serving_pid(var_dir)
    if pid is not None:
        raise RuntimeError(f"a gateway (pid {pid}) is serving this sandbox: stop it first")
    removed = []
    candidates = [*directory(var_dir).glob("*.json"), *(Path(f"{database}{suffix}") for suffix in ("", "-wal", "-shm"))]
    for path in candidates:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


if __name__ == "__main__":
    run_emulator(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]))
