"""The sandbox `gateway serve` starts when no tracker is configured: loopback Jira and ServiceNow.

Each emulator starts only when its URL variable is unset, on its default port or, when another
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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from connectors.emulators.base import Emulator, EmulatorHTTPServer

log = logging.getLogger("gateway.run.sandbox")

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
    kind: str
    server: EmulatorHTTPServer

    @property
    def url(self) -> str:
        return self.server.url

    def describe(self) -> str:
        return f"sandbox {NAMES[self.kind]} on {self.url}"


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
    started = []
    for kind, make in _emulators().items():
        variables = VARIABLES[kind]
        if os.environ.get(next(iter(variables))):
            continue
        emulator = make()
        emulator.control_token = token
        try:
            server = _listen(emulator, ports[kind])
        except OSError as exc:
            raise SystemExit(
                f"the sandbox {kind} cannot listen on 127.0.0.1:{ports[kind]} ({exc.strerror}); "
                f"choose --sandbox-ports or set {next(iter(variables))}"
            ) from None
        server.keep_state(state / f"{kind}.json")
        port = int(server.server_address[1])
        env.update({name: value.format(port=port) for name, value in variables.items()})
        started.append(Tracker(kind, server.start()))
    return started


def keep_used(trackers: list[Tracker], urls: Iterable[str]) -> list[Tracker]:
    """Stop the emulators no target points at; the others say where they are."""
    wanted = {url.rstrip("/") for url in urls}
    kept = []
    for tracker in trackers:
        if tracker.url in wanted:
            log.info("%s (tickets kept in %s)", tracker.describe(), tracker.server.state_file)
            kept.append(tracker)
        else:
            tracker.server.stop()
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
