"""Soda's incidentLinkCallbackUrl gets the ticket links once the tickets exist."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.emulators.base import Emulator, EmulatorHTTPServer, Fault, Request, Response
from tests.conftest import TRACKER_ENV, MakeHarness, Trackers, payload

SODA_TOKEN = "soda-t0ken"


class SodaCallbacks(Emulator):
    """Soda Cloud's end of the link callback: records what it is told."""

    name = "soda"

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, Any]] = []
        self.route(
            "POST", r"/integrations/webhook/(?P<hook>[^/]+)/incident-link/(?P<incident>[^/]+)/(?P<t>.+)", self.link
        )

    def authenticate(self, request: Request) -> str:
        return "soda"  # the callback URL itself is the credential

    def link(self, request: Request) -> Response:
        self.links.append(request.json())
        return Response(200, {"ok": True})


@pytest.fixture
def soda() -> Iterator[EmulatorHTTPServer]:
    server = EmulatorHTTPServer(SodaCallbacks()).start()
    yield server
    server.stop()


def incident_with_callback(url: str) -> bytes:
    body = json.loads(payload("soda_cloud.json"))
    body["incidentLinkCallbackUrl"] = f"{url}/integrations/webhook/8224bbc2/incident-link/510fad8c/uLsecretKr6"
    return json.dumps(body).encode()


def soda_gateway(make_gateway: MakeHarness, trackers: Trackers, soda: EmulatorHTTPServer) -> Any:
    # The emulator listens on loopback over http: only an explicit (unsafe outside tests) allowlist opens it.
    port = soda.url.rsplit(":", 1)[1]
    link_back = f'{{hosts: ["127.0.0.1:{port}"], schemes: [http], allow_private: true}}'
    files = trackers.mappings()
    files["sources.yaml"] += f'  soda: {{kind: soda, token: "{SODA_TOKEN}", link_back: {link_back}}}\n'
    files["flows.yaml"] = files["flows.yaml"].replace("source: [qualytics, generic]", "source: [soda]")
    return make_gateway(files, env=TRACKER_ENV)


def test_the_ticket_links_are_posted_back_to_soda(
    make_gateway: MakeHarness, trackers: Trackers, soda: EmulatorHTTPServer
) -> None:
    gateway = soda_gateway(make_gateway, trackers, soda)
    response = gateway.post("soda", incident_with_callback(soda.url), headers={"authorization": f"Bearer {SODA_TOKEN}"})
    assert response.status_code == 202, response.text
    gateway.drain()
    links = {link["target"]: link for link in gateway.ticket("DQ-1")["links"]}
    received = sorted(soda.emulator.links, key=lambda link: link["text"])
    assert received == [
        {"url": links["jira"]["url"], "text": f"Jira {links['jira']['external_key']}"},
        {"url": links["snow"]["url"], "text": "ServiceNow INC0010001"},
    ]
    assert [e["kind"] for e in gateway.ticket("DQ-1")["timeline"]].count("linked_back") == 2
    # The callback URL is Soda's credential: it is in no execution record.
    assert "uLsecretKr6" not in json.dumps([gateway.execution(e["id"]) for e in gateway.executions()])


def test_a_failing_callback_fails_only_itself(
    make_gateway: MakeHarness, trackers: Trackers, soda: EmulatorHTTPServer
) -> None:
    soda.emulator.inject(Fault(kind="status", status=404, count=10))
    gateway = soda_gateway(make_gateway, trackers, soda)
    gateway.post("soda", incident_with_callback(soda.url), headers={"authorization": f"Bearer {SODA_TOKEN}"})
    gateway.drain()
    statuses = sorted((e["action"], e["status"]) for e in gateway.executions())
    assert statuses == [
        ("create_ticket", "succeeded"),
        ("create_ticket", "succeeded"),
        ("link_back", "failed"),
        ("link_back", "failed"),
    ]
    failed = gateway.executions(status="failed")
    assert all("HTTP 404" in e["error"] and "uLsecretKr6" not in e["error"] for e in failed)
    assert gateway.ticket("DQ-1")["state"] == "New"
