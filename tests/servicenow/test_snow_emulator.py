"""The emulator enforces the instance's rules on raw requests, whatever client sends them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from connectors.emulators.base import EmulatorHTTPServer
from connectors.emulators.servicenow import DEFAULT_PRIORITIES, ServiceNowEmulator

AUTH = ("sandbox", "sandbox-password")


@pytest.fixture
def api(server: EmulatorHTTPServer) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.auth = AUTH
        session.headers["Accept"] = "application/json"
        yield session


def table(server: EmulatorHTTPServer, name: str = "incident", sys_id: str = "") -> str:
    return f"{server.url}/api/now/table/{name}" + (f"/{sys_id}" if sys_id else "")


def create(api: requests.Session, server: EmulatorHTTPServer, **fields: Any) -> dict[str, Any]:
    response = api.post(table(server), json={"short_description": "x", **fields})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()["result"]
    return result


def test_records_are_wrapped_numbered_and_carry_hex_sys_ids(api: requests.Session, server: EmulatorHTTPServer) -> None:
    first, second = create(api, server), create(api, server)
    assert (first["number"], second["number"]) == ("INC0010001", "INC0010002")
    assert re.fullmatch(r"[0-9a-f]{32}", first["sys_id"])
    fetched = api.get(table(server, sys_id=first["sys_id"])).json()
    assert fetched["result"]["number"] == "INC0010001"
    assert first["state"] == "1" and isinstance(first["urgency"], str)


def test_priority_is_derived_and_not_writable(api: requests.Session, server: EmulatorHTTPServer) -> None:
    record = create(api, server, urgency=3, impact=3, priority="1")
    assert record["priority"] == "5"
    patched = api.patch(table(server, sys_id=record["sys_id"]), json={"urgency": "1", "priority": "5"}).json()
    assert patched["result"]["priority"] == "3"


def test_the_priority_lookup_is_configurable(api: requests.Session) -> None:
    emulator = ServiceNowEmulator(priorities={**DEFAULT_PRIORITIES, ("3", "3"): "4"})
    server = EmulatorHTTPServer(emulator).start()
    try:
        assert create(api, server, urgency="3", impact="3")["priority"] == "4"
    finally:
        server.stop()


def test_resolving_without_close_code_and_notes_is_refused(api: requests.Session, server: EmulatorHTTPServer) -> None:
    record = create(api, server)
    url = table(server, sys_id=record["sys_id"])
    refused = api.patch(url, json={"state": "6", "close_notes": "done"})
    assert refused.status_code == 403
    body = refused.json()
    assert body["status"] == "failure" and body["error"]["message"] == "Operation Failed"
    assert "Data Policy Exception" in body["error"]["detail"] and "Resolution code" in body["error"]["detail"]
    assert api.get(url).json()["result"]["state"] == "1"
    accepted = api.patch(url, json={"state": "6", "close_code": "Solution provided", "close_notes": "done"})
    assert accepted.json()["result"]["state"] == "6"


def test_a_short_description_longer_than_its_column_is_stored_cut_as_the_instance_does(
    api: requests.Session, server: EmulatorHTTPServer
) -> None:
    """max_length is the database column's size (KB0685779): the rest of a longer value is lost without a word."""
    long = "x" * 150 + "0123456789abcdef"
    record = create(api, server, short_description=long)
    assert record["short_description"] == long[:160]
    patched = api.patch(table(server, sys_id=record["sys_id"]), json={"short_description": "y" * 170}).json()
    assert patched["result"]["short_description"] == "y" * 160


def test_closing_is_refused_the_same_way(api: requests.Session, server: EmulatorHTTPServer) -> None:
    record = create(api, server)
    assert api.put(table(server, sys_id=record["sys_id"]), json={"state": "7"}).status_code == 403


def test_on_hold_needs_a_hold_reason(api: requests.Session, server: EmulatorHTTPServer) -> None:
    record = create(api, server)
    url = table(server, sys_id=record["sys_id"])
    assert api.patch(url, json={"state": "3"}).status_code == 403
    assert api.patch(url, json={"state": "3", "hold_reason": 1}).json()["result"]["hold_reason"] == "1"


def test_basic_auth_is_checked(server: EmulatorHTTPServer) -> None:
    for auth in (None, ("sandbox", "wrong")):
        response = requests.get(table(server), auth=auth, timeout=5)
        assert response.status_code == 401
        assert response.json()["error"]["message"] == "User Not Authenticated"


def test_encoded_queries_fields_and_limit(api: requests.Session, server: EmulatorHTTPServer) -> None:
    create(api, server, correlation_id="a", category="database")
    create(api, server, correlation_id="b", category="database")
    create(api, server, correlation_id="b", category="software")
    params = {"sysparm_query": "correlation_id=b^category=database", "sysparm_fields": "number,category"}
    assert api.get(table(server), params=params).json()["result"] == [{"number": "INC0010002", "category": "database"}]
    limited = api.get(table(server), params={"sysparm_query": "category=database", "sysparm_limit": "1"})
    assert len(limited.json()["result"]) == 1
    newest = api.get(table(server), params={"sysparm_query": "ORDERBYDESCnumber", "sysparm_fields": "number"})
    assert newest.json()["result"][0]["number"] == "INC0010003"
    assert api.get(table(server), params={"sysparm_query": "correlation_id=zzz"}).json() == {"result": []}


def test_groups_and_users_are_found_by_name_and_referenced(api: requests.Session, server: EmulatorHTTPServer) -> None:
    groups = api.get(table(server, "sys_user_group"), params={"sysparm_query": "name=data-platform"}).json()
    users = api.get(table(server, "sys_user"), params={"sysparm_query": "user_name=dq.gateway"}).json()
    [group], [user] = groups["result"], users["result"]
    named = {"short_description": "x", "assignment_group": "data-platform", "assigned_to": "Jane Doe", "urgency": "1"}
    response = api.post(table(server), json=named, params={"sysparm_input_display_value": "true"})
    record = response.json()["result"]
    assert record["assignment_group"]["value"] == group["sys_id"]
    assert (
        record["assigned_to"]["value"]
        == api.get(table(server, "sys_user"), params={"sysparm_query": "user_name=jane.doe"}).json()["result"][0][
            "sys_id"
        ]
    )
    assert record["urgency"] == "1"  # a value that is no label is kept
    record = create(api, server, caller_id=user["sys_id"])
    assert record["caller_id"]["value"] == user["sys_id"]
    assert record["caller_id"]["link"].endswith(f"/api/now/table/sys_user/{user['sys_id']}")


def test_a_name_in_a_reference_without_display_input_is_a_broken_reference(
    api: requests.Session, server: EmulatorHTTPServer
) -> None:
    record = create(api, server, assignment_group="data-platform", caller_id="dq.gateway")
    assert record["assignment_group"]["value"] == "data-platform"  # stored as given: no such sys_id
    assert record["caller_id"]["value"] == "dq.gateway"


def test_work_notes_go_to_the_journal(
    api: requests.Session, server: EmulatorHTTPServer, emulator: ServiceNowEmulator
) -> None:
    record = create(api, server, work_notes="opened by test")
    api.patch(table(server, sys_id=record["sys_id"]), json={"work_notes": "second", "comments": "to caller"})
    [incident] = emulator.incidents()
    assert [(entry["element"], entry["value"]) for entry in incident["journal"]] == [
        ("work_notes", "opened by test"),
        ("work_notes", "second"),
        ("comments", "to caller"),
    ]


def test_errors_use_servicenows_shape(api: requests.Session, server: EmulatorHTTPServer) -> None:
    missing = api.get(table(server, sys_id="0" * 32))
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {
            "message": "No Record found",
            "detail": "Record doesn't exist or ACL restricts the record retrieval",
        },
        "status": "failure",
    }
    assert api.get(table(server, "no_such_table")).json()["error"]["message"] == "Invalid table no_such_table"
    injected = requests.post(
        f"{server.url}/_emulator/faults",
        json={"kind": "status", "status": 503},
        headers={"X-Emulator-Token": server.emulator.control_token},
        timeout=5,
    )
    assert injected.status_code == 204
    assert api.get(table(server)).json()["status"] == "failure"


def test_state_over_http_lists_incidents(api: requests.Session, server: EmulatorHTTPServer) -> None:
    create(api, server, correlation_id="k")
    control = {"X-Emulator-Token": server.emulator.control_token}
    assert requests.get(f"{server.url}/_emulator/state", timeout=5).status_code == 401  # not for the instance's users
    state = requests.get(f"{server.url}/_emulator/state", headers=control, timeout=5).json()
    assert [incident["correlation_id"] for incident in state["incidents"]] == ["k"]
