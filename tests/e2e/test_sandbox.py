"""The sandbox `gateway serve` starts: trackers that remember, ports that do not collide, a reset."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from connectors.emulators.base import EmulatorHTTPServer
from connectors.emulators.jira import sandbox
from tests.conftest import LOCAL_MAPPINGS, QUALYTICS_SECRET, payload, qualytics_delivery
from tests.e2e.conftest import ROOT, Served, free_port

HEADERS = {"x-qualytics-secret": QUALYTICS_SECRET, "content-type": "application/json"}
EXAMPLE = {path.name: path.read_text() for path in (ROOT / "mappings").glob("*.yaml")}


@pytest.fixture
def sandboxed(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """`gateway serve` with its sandbox, on first-choice ports nobody else on this machine uses."""
    started: list[Served] = []
    ports = f"{free_port()},{free_port()}"

    def start(name: str = "gw", files: dict[str, str] | None = None, **env: str) -> Served:
        served = Served(tmp_path / name, files or EXAMPLE, env, options=("--sandbox-ports", ports))
        for variable in ("JIRA_URL", "SERVICENOW_URL"):
            served.env.pop(variable, None)
        started.append(served.start())
        served.wait_for(lambda: "gateway ready on" in served.log())
        return served

    yield start
    for served in started:
        if served.process is not None and served.process.poll() is None:
            served.stop()


def json_body(data: object) -> bytes:
    return json.dumps(data).encode()


def sandbox_urls(served: Served) -> dict[str, str]:
    return dict(re.findall(r"sandbox (Jira|ServiceNow) on (http://[\d.:]+)", served.log()))


def post(served: Served, body: bytes) -> None:
    response = httpx.post(f"{served.url}/v1/webhooks/qualytics", content=body, headers=HEADERS, timeout=30)
    assert response.status_code == 202, response.text


def links(served: Served, number: str) -> dict[str, str]:
    ticket = served.get(f"/v1/tickets/{number}")
    return {link["target"]: link["external_key"] for link in ticket["links"]}


def settled(served: Served) -> bool:
    executions = served.get("/v1/executions")["executions"]
    return bool(executions) and all(e["status"] in ("succeeded", "failed") for e in executions)


def gateway_command(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.run.cli", *args],
        cwd=served.root,
        env=served.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_sandbox_trackers_keep_their_tickets_across_a_restart_and_reset_clears_them_with_the_mirror(
    sandboxed: Callable[..., Served],
) -> None:
    first = sandboxed()
    printed = first.log()
    assert f"console    {first.url}/ui" in printed and f"API docs   {first.url}/schema" in printed
    post(first, payload("qualytics.json"))
    first.wait_for(lambda: len(links(first, "DQ-1")) == 2)
    assert links(first, "DQ-1") == {"jira": "DQ-1", "snow": "INC0010001"}
    urls = sandbox_urls(first)
    state = Path(first.root / "var" / "sandbox")
    token = (state / "control-token").read_text().strip()
    assert httpx.get(f"{urls['Jira']}/_emulator/state", timeout=5).status_code == 401
    issues = httpx.get(f"{urls['Jira']}/_emulator/state", headers={"X-Emulator-Token": token}, timeout=5).json()
    assert [issue["key"] for issue in issues["issues"]] == ["DQ-1"]
    assert first.stop() in (0, -15)
    assert (state / "jira.json").is_file() and (state / "servicenow.json").is_file()

    again = sandboxed()
    post(again, json_body(qualytics_delivery(2)))
    again.wait_for(lambda: len(links(again, "DQ-2")) == 2)
    assert links(again, "DQ-2") == {"jira": "DQ-2", "snow": "INC0010002"}  # not DQ-1 reused
    moved = httpx.post(f"{again.url}/v1/tickets/DQ-1/status", json={"status": "Resolved", "note": "fixed"})
    assert moved.status_code == 202, moved.text
    again.wait_for(lambda: settled(again) and again.get("/v1/tickets/DQ-1")["state"] == "Resolved")
    failed = [e for e in again.get("/v1/executions")["executions"] if e["status"] == "failed"]
    assert failed == []  # the old ticket's trackers still know it: no 404
    remote = {link["target"]: link["remote_status"] for link in again.get("/v1/tickets/DQ-1")["links"]}
    assert remote == {"jira": "Done", "snow": "6"}

    refused = gateway_command(again, "sandbox", "reset")
    assert refused.returncode == 2 and "stop it first" in refused.stderr
    assert again.stop() in (0, -15)
    reset = gateway_command(again, "sandbox", "reset")
    assert reset.returncode == 0, reset.stderr
    assert "jira.json" in reset.stdout and "gateway.db" in reset.stdout

    fresh = sandboxed()
    post(fresh, json_body(qualytics_delivery(3)))
    fresh.wait_for(lambda: len(links(fresh, "DQ-1")) == 2)
    assert links(fresh, "DQ-1") == {"jira": "DQ-1", "snow": "INC0010001"}
    assert [t["number"] for t in fresh.get("/v1/tickets")["tickets"]] == ["DQ-1"]


def test_two_gateways_on_one_machine_each_get_their_own_sandbox(sandboxed: Callable[..., Served]) -> None:
    one, two = sandboxed("one"), sandboxed("two")
    first, second = sandbox_urls(one), sandbox_urls(two)
    assert set(first) == set(second) == {"Jira", "ServiceNow"}
    assert not set(first.values()) & set(second.values())  # the second took free ports
    for served in (one, two):
        post(served, payload("qualytics.json"))
    for served in (one, two):
        served.wait_for(lambda served=served: len(links(served, "DQ-1")) == 2)  # type: ignore[misc]
        assert links(served, "DQ-1") == {"jira": "DQ-1", "snow": "INC0010001"}


def test_no_emulator_starts_for_mappings_that_do_not_use_the_sandbox_and_json_logs_parse(
    sandboxed: Callable[..., Served],
) -> None:
    served = sandboxed(files=dict(LOCAL_MAPPINGS), GATEWAY_LOG_FORMAT="json")
    assert sandbox_urls(served) == {}
    for port in map(int, served.options[1].split(",")):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} is still held"

    response = httpx.post(f"{served.url}/v1/webhooks/qualytics", content=payload("qualytics.json"), headers=HEADERS)
    served.wait_for(lambda: settled(served))
    served.stop()
    lines = [json.loads(line) for line in served.log().splitlines() if line.startswith("{")]
    [accepted] = [line for line in lines if line["message"].startswith("webhook qualytics accepted")]
    assert accepted["event_ids"] == response.json()["event_ids"]
    [created] = [line for line in lines if line.get("action") == "create_ticket"]  # from the worker process
    assert (created["ticket"], created["target"], created["outcome"]) == ("DQ-1", "mirror", "succeeded")
    assert created["execution_id"] == response.json()["executions"][0]
    assert QUALYTICS_SECRET not in served.log()


def test_a_tracker_of_your_own_keeps_your_credentials_when_the_sandbox_one_goes_unused(
    sandboxed: Callable[..., Served],
) -> None:
    """Mappings naming their own Jira, JIRA_URL unset: the sandbox set JIRA_USER and JIRA_API_TOKEN to its own,
    and the user's Jira refused them (`error_kind: auth`, "check the user and token under targets.jira")."""
    own = EmulatorHTTPServer(sandbox({"ana": "ana-own-token-0123456789"}), "127.0.0.1", 0).start()
    try:
        targets = EXAMPLE["targets.yaml"].replace(
            'url: "${JIRA_URL:-http://127.0.0.1:9001}"', f"url: http://127.0.0.1:{own.server_address[1]}"
        )
        targets = targets.replace('"${JIRA_USER:-sandbox}"', '"${JIRA_USER}"')
        targets = targets.replace('"${JIRA_API_TOKEN:-sandbox-token}"', '"${JIRA_API_TOKEN}"')
        assert "${JIRA_API_TOKEN}" in targets and "127.0.0.1:9001" not in targets
        served = sandboxed(
            files={**EXAMPLE, "targets.yaml": targets}, JIRA_USER="ana", JIRA_API_TOKEN="ana-own-token-0123456789"
        )
        assert set(sandbox_urls(served)) == {"ServiceNow"}  # the sandbox Jira is not used, so not kept
        post(served, payload("qualytics.json"))
        served.wait_for(lambda: settled(served))
        created = {e["target"]: e for e in served.get("/v1/executions")["executions"]}
        assert created["jira"]["status"] == "succeeded", created["jira"]["error"]
        assert created["snow"]["status"] == "succeeded", created["snow"]["error"]
        assert links(served, "DQ-1") == {"jira": "DQ-1", "snow": "INC0010001"}
    finally:
        own.stop()
