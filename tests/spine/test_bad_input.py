"""Bad input gets a clear 4xx naming the problem, never a 500, and nothing is half-written."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from tests.conftest import QUALYTICS_SECRET, Harness, payload


def signed(body: bytes, secret: str = "generic-hmac-key", at: float | None = None) -> dict[str, str]:
    timestamp = str(int(at if at is not None else time.time()))
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"x-gateway-timestamp": timestamp, "x-gateway-signature": f"sha256={digest}"}


GOOD_EVENT = {
    "event_id": "e-1",
    "event_type": "anomaly",
    "anomaly_id": "a-1",
    "severity": "high",
    "check": "not_null",
    "container": "orders",
}


def generic(body: Any) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


CASES: list[tuple[str, str, bytes, dict[str, str] | None, int, str]] = [
    ("malformed json", "qualytics", b'{"trigger": ', None, 400, "malformed_json"),
    ("empty body", "qualytics", b"", None, 400, "malformed_json"),
    ("json of the wrong shape", "qualytics", b'{"trigger": {"type": "Anomaly"}}', None, 422, "invalid_payload"),
    (
        "wrong types",
        "qualytics",
        json.dumps({"trigger": {"type": "Anomaly"}, "context": {"anomalies": "many"}}).encode(),
        None,
        422,
        "invalid_payload",
    ),
    ("a list where an object belongs", "qualytics", b"[1, 2]", None, 422, "invalid_payload"),
    ("missing secret", "qualytics", payload("qualytics.json"), {"x-qualytics-secret": ""}, 401, "missing_signature"),
    ("bad secret", "qualytics", payload("qualytics.json"), {"x-qualytics-secret": "nope"}, 401, "bad_signature"),
    ("unknown source", "nosuch", b"{}", None, 404, "unknown_source"),
    ("generic: missing field", "generic", generic({**GOOD_EVENT, "anomaly_id": None}), "sign", 422, "invalid_payload"),
    (
        "generic: bad event type",
        "generic",
        generic({**GOOD_EVENT, "event_type": "explosion"}),
        "sign",
        422,
        "invalid_payload",
    ),
    ("generic: unsigned", "generic", generic(GOOD_EVENT), None, 401, "missing_signature"),
    ("generic: forged", "generic", generic(GOOD_EVENT), "forged", 401, "bad_signature"),
    ("generic: stale", "generic", generic(GOOD_EVENT), "stale", 401, "stale_timestamp"),
]


@pytest.mark.parametrize(
    ("source", "body", "headers", "status", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_bodies_get_their_4xx_and_change_nothing(
    gateway: Harness, source: str, body: bytes, headers: Any, status: int, code: str
) -> None:
    if headers == "sign":
        headers = signed(body)
    elif headers == "forged":
        headers = signed(body, secret="not-the-key")
    elif headers == "stale":
        headers = signed(body, at=time.time() - 600)
    response = gateway.post(source, body, headers=headers)
    assert response.status_code == status, response.text
    error = response.json()
    assert error["error"] == code
    assert error["detail"]  # names the problem
    assert QUALYTICS_SECRET not in response.text
    assert gateway.tickets() == [] and gateway.executions() == []
    assert gateway.runtime.mirror.connection().execute("SELECT count(*) FROM events").fetchone()[0] == 0


def test_a_wrong_shape_names_the_missing_field(gateway: Harness) -> None:
    response = gateway.post("qualytics", b'{"trigger": {"type": "Anomaly"}}')
    assert "context" in response.json()["detail"]


def test_a_huge_body_is_refused_before_it_is_read_whole(make_gateway: Any) -> None:
    gateway: Harness = make_gateway(max_body_bytes=1024)
    response = gateway.post("qualytics", b"{" + b" " * 5000 + b"}")
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert gateway.tickets() == []


def test_an_unknown_source_is_a_404_whatever_its_body(make_gateway: Any) -> None:
    gateway: Harness = make_gateway(max_body_bytes=1024)
    response = gateway.post("nosuch", b"{" + b" " * 5000 + b"}")
    assert (response.status_code, response.json()["error"]) == (404, "unknown_source")


def test_a_signed_generic_event_is_accepted(gateway: Harness) -> None:
    body = generic([GOOD_EVENT, {**GOOD_EVENT, "event_id": "e-2", "anomaly_id": "a-2"}])
    response = gateway.post("generic", body, headers=signed(body))
    assert response.status_code == 202, response.text
    assert len(response.json()["event_ids"]) == 2
    gateway.drain()
    assert sorted(t["correlation_key"] for t in gateway.tickets()) == ["generic:a-1", "generic:a-2"]


def test_a_forbidden_transition_answers_409_and_changes_nothing(gateway: Harness) -> None:
    gateway.post("qualytics", payload("qualytics.json"))
    gateway.drain()
    assert gateway.client.post("/v1/tickets/DQ-1/status", json={"status": "Canceled"}).status_code == 202
    gateway.drain()
    before = gateway.ticket("DQ-1")
    response = gateway.client.post("/v1/tickets/DQ-1/status", json={"status": "In Progress"})
    assert response.status_code == 409
    assert response.json()["error"] == "forbidden_transition"
    assert "Canceled" in response.json()["detail"]
    assert gateway.ticket("DQ-1") == before
    assert [e["status"] for e in gateway.executions(action="update_ticket_status")] == ["succeeded"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"status": "Sideways"}', 422, "unknown_status"),
        (b'{"state": "Resolved"}', 422, "invalid_payload"),
        (b"not json", 400, "malformed_json"),
    ],
)
def test_bad_status_requests(gateway: Harness, body: bytes, status: int, code: str) -> None:
    gateway.post("qualytics", payload("qualytics.json"))
    response = gateway.client.post("/v1/tickets/DQ-1/status", content=body)
    assert (response.status_code, response.json()["error"]) == (status, code)
    assert gateway.ticket("DQ-1")["state"] == "New"


def test_unknown_ticket_and_execution_are_404(gateway: Harness) -> None:
    assert gateway.client.get("/v1/tickets/DQ-77").json()["error"] == "unknown_ticket"
    assert gateway.client.get("/v1/executions/nope").json()["error"] == "unknown_execution"
    assert gateway.client.post("/v1/executions/nope/retry").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "query", "named"),
    [
        ("GET", "/v1/tickets", {"state": "Open"}, "New, In Progress, On Hold, Resolved, Closed, Canceled"),
        ("GET", "/v1/executions", {"status": "Failed"}, "queued, running, succeeded, failed, skipped"),
        ("GET", "/v1/executions", {"error_kind": "timeout"}, "transient, permanent, bug, auth"),
        ("GET", "/v1/executions", {"action": "create"}, "create_ticket, update_ticket_status, comment"),
        ("POST", "/v1/executions/retry", {"error_kind": "Transient"}, "transient, permanent, bug, auth"),
    ],
)
def test_a_filter_value_no_row_can_hold_is_refused_naming_the_allowed_ones(
    gateway: Harness, method: str, path: str, query: dict[str, str], named: str
) -> None:
    """A typo in a filter is not an empty list (nor a bulk retry that retries nothing): the CLI refuses it too."""
    gateway.post("qualytics", payload("qualytics.json"))
    gateway.drain()
    response = gateway.client.request(method, path, params=query)
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["error"] == "invalid_query"
    ((name, value),) = query.items()
    assert f"{name}={value!r}" in error["detail"] and named in error["detail"]


@pytest.mark.parametrize(
    ("path", "query", "named"),
    [
        ("/v1/tickets", {"limit": "abc"}, "limit='abc' is not a whole number: limit is a page size from 1 to 1000"),
        ("/v1/tickets", {"after": "abc"}, "after='abc' is not a whole number: after is the `next`"),
        ("/v1/executions", {"limit": "1.5"}, "limit='1.5' is not a whole number: limit is a page size"),
        ("/v1/executions", {"limit": "50", "after": "x"}, "after='x' is not a whole number"),
    ],
)
def test_a_page_size_or_key_that_is_no_number_is_refused_naming_it(
    gateway: Harness, path: str, query: dict[str, str], named: str
) -> None:
    """It said 'limit and after must be whole numbers' whichever of them was wrong."""
    response = gateway.client.get(path, params=query)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_query"
    assert response.json()["detail"].startswith(named)


def test_a_state_filter_is_read_as_chat_and_the_cli_read_it(gateway: Harness) -> None:
    gateway.post("qualytics", payload("qualytics.json"))
    gateway.drain()
    for spelling in ("New", "new", "NEW"):
        assert [t["number"] for t in gateway.tickets(state=spelling)] == ["DQ-1"], spelling
    assert gateway.tickets(state="in_progress") == []
    assert [e["status"] for e in gateway.executions(status="succeeded", action="create_ticket")] == ["succeeded"]


def test_write_endpoints_need_the_api_token_when_it_is_set(make_gateway: Any) -> None:
    gateway: Harness = make_gateway(api_token="admin-t0ken")
    gateway.post("qualytics", payload("qualytics.json"))
    denied = gateway.client.post("/v1/tickets/DQ-1/status", json={"status": "Resolved"})
    assert denied.status_code == 401 and denied.json()["error"] == "unauthorized"
    allowed = gateway.client.post(
        "/v1/tickets/DQ-1/status", json={"status": "Resolved"}, headers={"authorization": "Bearer admin-t0ken"}
    )
    assert allowed.status_code == 202
    assert gateway.client.get("/v1/tickets").status_code == 401  # reads need it too (private by default)


def test_a_generic_event_without_an_id_is_accepted_once(gateway: Harness) -> None:
    body = generic({k: v for k, v in GOOD_EVENT.items() if k != "event_id"})
    first = gateway.post("generic", body, headers=signed(body))
    again = gateway.post("generic", body, headers=signed(body))
    assert (first.status_code, again.status_code) == (202, 202), first.text
    assert first.json()["duplicate"] is False and again.json()["duplicate"] is True
    assert again.json()["event_ids"] == first.json()["event_ids"]
    gateway.drain()
    assert [t["correlation_key"] for t in gateway.tickets()] == ["generic:a-1"]
