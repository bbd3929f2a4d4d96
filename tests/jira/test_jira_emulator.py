"""The emulator itself behaves like Jira where integrations trip (reference/trackers.md)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from connectors.emulators.base import EmulatorHTTPServer
from connectors.emulators.jira import sandbox

CONTROL = {"X-Emulator-Token": "jira-control-token"}


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    emulator = sandbox()
    emulator.control_token = CONTROL["X-Emulator-Token"]
    server = EmulatorHTTPServer(emulator, "127.0.0.1", 0).start()
    yield server.url
    server.stop()


def _call(url: str, method: str, path: str, auth: Any = ("sandbox", "sandbox-token"), **kw: Any) -> requests.Response:
    headers = {}
    if isinstance(auth, str):
        headers, auth = {"Authorization": f"Bearer {auth}"}, None
    return requests.request(method, url + path, auth=auth, headers=headers, timeout=5, **kw)


def _new_issue(url: str) -> str:
    fields = {"project": {"key": "DQ"}, "issuetype": {"name": "Bug"}, "summary": "s"}
    answer = _call(url, "POST", "/rest/api/2/issue", json={"fields": fields})
    assert answer.status_code == 201
    return str(answer.json()["key"])


def test_sandbox_takes_basic_auth_and_the_token_as_bearer(sandbox_url: str) -> None:
    assert _call(sandbox_url, "GET", "/rest/api/2/serverInfo").status_code == 200
    assert _call(sandbox_url, "GET", "/rest/api/2/serverInfo", auth="sandbox-token").status_code == 200
    refused = _call(sandbox_url, "GET", "/rest/api/2/serverInfo", auth=("sandbox", "guess"))
    assert refused.status_code == 401
    assert refused.json()["errorMessages"]


def test_a_transition_not_offered_from_the_current_status_is_refused(sandbox_url: str) -> None:
    key = _new_issue(sandbox_url)

    answer = _call(sandbox_url, "POST", f"/rest/api/2/issue/{key}/transitions", json={"transition": {"id": "31"}})

    assert answer.status_code == 400
    assert answer.json()["errorMessages"] == ["Transition id '31' is not valid for this issue."]


def test_resolution_is_required_on_the_way_to_done(sandbox_url: str) -> None:
    key = _new_issue(sandbox_url)
    path = f"/rest/api/2/issue/{key}/transitions"
    assert _call(sandbox_url, "POST", path, json={"transition": {"id": "11"}}).status_code == 204

    offered = _call(sandbox_url, "GET", path, params={"expand": "transitions.fields"}).json()["transitions"]
    refused = _call(sandbox_url, "POST", path, json={"transition": {"id": "31"}})
    done = _call(
        sandbox_url,
        "POST",
        path,
        json={"transition": {"id": "31"}, "fields": {"resolution": {"name": "Done"}}},
    )

    to_done = next(t for t in offered if t["to"]["name"] == "Done")
    assert to_done["fields"]["resolution"]["required"] is True
    assert refused.status_code == 400 and "resolution" in refused.json()["errors"]
    assert done.status_code == 204


def test_search_finds_by_label_and_key_and_state_is_served(sandbox_url: str) -> None:
    key = _new_issue(sandbox_url)

    by_key = _call(sandbox_url, "GET", "/rest/api/2/search", params={"jql": f"key = {key}"}).json()
    by_label = _call(sandbox_url, "GET", "/rest/api/2/search", params={"jql": 'labels = "nope"'}).json()
    state = requests.get(sandbox_url + "/_emulator/state", headers=CONTROL, timeout=5).json()

    assert [i["key"] for i in by_key["issues"]] == [key]
    assert by_label["issues"] == []
    assert [i["key"] for i in state["issues"]] == [key]
