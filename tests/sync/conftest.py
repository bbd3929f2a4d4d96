"""Two-way sync harness: a gateway served over real HTTP (the Jira emulator posts its webhooks there),
the loopback trackers acting as people, and the real RQ worker draining what comes of it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from gateway.web.app import create_app
from tests.conftest import TRACKER_ENV, Harness, MakeHarness, Trackers, qualytics_delivery

JIRA_SECRET = "jira-hook-s3cret-value"
SNOW_SECRET = "snow-push-s3cret-value"
SYNC_ENV = {**TRACKER_ENV, "JIRA_HOOK_SECRET": JIRA_SECRET, "SNOW_PUSH_SECRET": SNOW_SECRET}
JIRA_SYNC = '    sync: {webhook_secret: "${JIRA_HOOK_SECRET}"}'
SNOW_SYNC = '    sync: {webhook_secret: "${SNOW_PUSH_SECRET}", poll_interval: 60}'


class Served:
    """The harness's gateway behind uvicorn on a loopback port, for deliveries from the emulators."""

    def __init__(self, gateway: Harness) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(create_app(gateway.runtime, gateway.dispatcher), log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started:
            assert time.time() < deadline, "the gateway did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class Synced:
    """One gateway with a ticket linked to a Jira issue and a ServiceNow incident, and the people in both."""

    def __init__(self, gateway: Harness, trackers: Trackers, served: Served) -> None:
        self.gateway, self.trackers, self.served = gateway, trackers, served
        self.hook_url = f"{served.url}/v1/trackers/jira/webhook"

    def jira_hooks(self, **settings: Any) -> None:
        """Point the Jira emulator's webhook at the gateway (or set delivery faults)."""
        self._control(self.trackers.jira, "/_emulator/webhook", {"url": self.hook_url, **settings})

    def release(self, reverse: bool = False) -> None:
        self._control(self.trackers.jira, "/_emulator/webhook/release", {"reverse": reverse})

    def in_jira(self, **action: Any) -> dict[str, Any]:
        """A person in Jira on the first issue (or `key`): move_to, comment, assign, as alice unless `as` says."""
        issue = action.pop("key", None) or self.trackers.issues()[0]["key"]
        return self._control(self.trackers.jira, "/_emulator/act", {"issue": issue, **action})

    def in_snow(self, **action: Any) -> dict[str, Any]:
        """A person in ServiceNow (jane.doe unless `as` says otherwise)."""
        incident = self.trackers.incidents()[0]["number"]
        return self._control(self.trackers.snow, "/_emulator/act", {"incident": incident, **action})

    def deliveries(self) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = self.trackers.jira.state()["webhooks"]["sent"]
        return sent

    def ticket(self) -> dict[str, Any]:
        return self.gateway.ticket("DQ-1")

    def timeline(self, *kinds: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.ticket()["timeline"]
        return [e for e in entries if not kinds or e["kind"] in kinds]

    def sync_executions(self) -> list[dict[str, Any]]:
        return [e for e in self.gateway.executions() if e["flow"].startswith("sync:")]

    def snow_state_writes(self, state: str) -> int:
        """How many times the gateway wrote this state to the incident."""
        return sum(
            1
            for r in self.trackers.snow.log
            if r.method == "PATCH" and isinstance(r.body, dict) and r.body.get("state") == state
        )

    def _control(self, emulator: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """An emulator's control endpoint over HTTP, with its control token."""
        base = self.trackers.jira_server.url if emulator is self.trackers.jira else self.trackers.snow_server.url
        headers = {"x-emulator-token": emulator.control_token}
        response = httpx.post(f"{base}{path}", json=body, headers=headers, timeout=30)
        assert response.status_code < 300, response.text
        return response.json() if response.content else {}


SyncedFactory = Callable[..., Synced]


@pytest.fixture
def synced(make_gateway: MakeHarness, trackers: Trackers) -> Iterator[SyncedFactory]:
    servers: list[Served] = []

    def make(
        jira_sync: str = JIRA_SYNC,
        snow_sync: str = SNOW_SYNC,
        flows: str | None = None,
        extra: str = "",
        swap: dict[str, str] | None = None,
        **settings: Any,
    ) -> Synced:
        files = trackers.mappings(jira_extra=jira_sync, snow_extra=snow_sync, flows=flows)
        for old, new in (swap or {}).items():  # a line of the targets as written, changed
            assert old in files["targets.yaml"], old
            files["targets.yaml"] = files["targets.yaml"].replace(old, new)
        if extra:
            files["extra.yaml"] = extra
        gateway = make_gateway(files, env=SYNC_ENV, **settings)
        served = Served(gateway)
        servers.append(served)
        world = Synced(gateway, trackers, served)
        assert gateway.post("qualytics", qualytics_delivery(1, severity="high")).status_code == 202
        gateway.drain()
        world.jira_hooks(secret=JIRA_SECRET)
        return world

    yield make
    for served in servers:
        served.stop()
