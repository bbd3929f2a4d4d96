"""Each input attack of issue 11 as a case: the request, and the 4xx it must get (never a 500)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest

from gateway.web.replay import REPLAY_TEXT
from tests import postgres
from tests.chatops.support import teams_activity
from tests.conftest import Harness, MakeHarness, payload
from tests.ingress.test_every_source import SECRETS
from tests.security.support import (
    DEEP_LIST,
    DEEP_OBJECT,
    KINDS,
    generic_events,
    security_gateway,
    signed_generic,
    slack_signed,
    teams_signed,
    webhook,
)


@pytest.fixture
def gateway(make_gateway: MakeHarness) -> Harness:
    return security_gateway(make_gateway)


Attack = Callable[[Harness], Any]
CASES: list[tuple[str, Attack, int, str]] = []
for kind in KINDS:
    for shape, deep in (("list", DEEP_LIST), ("object", DEEP_OBJECT)):
        CASES.append(
            (
                f"{kind} json nested 1000 deep ({shape})",
                lambda g, k=kind, b=deep: webhook(g, k, b),
                400,
                "too_deeply_nested",
            )
        )
        CASES.append(
            (
                f"preview {kind} json nested 1000 deep ({shape})",
                lambda g, k=kind, b=deep: g.client.post(
                    f"/v1/preview/{k}", content=b, headers={"content-type": "application/json"}
                ),
                400,
                "too_deeply_nested",
            )
        )
CASES += [
    ("teams json nested 1000 deep", lambda g: teams_signed(g, DEEP_OBJECT), 400, "too_deeply_nested"),
    ("ticket id a superscript digit", lambda g: g.client.get("/v1/tickets/%C2%B2"), 404, "unknown_ticket"),
    ("ticket id past 64 bits", lambda g: g.client.get("/v1/tickets/99999999999999999999"), 404, "unknown_ticket"),
    ("ticket id of 5000 digits", lambda g: g.client.get("/v1/tickets/" + "9" * 5000), 404, "unknown_ticket"),
    (
        "move a ticket of 5000 digits",
        lambda g: g.client.post("/v1/tickets/" + "9" * 5000 + "/status", json={"status": "Resolved"}),
        404,
        "unknown_ticket",
    ),
    (
        "slack timestamp not a number",
        lambda g: slack_signed(g, "command=%2Fticket&text=list", timestamp="soon"),
        401,
        "bad_timestamp",
    ),
    (
        "slack timestamp empty",
        lambda g: g.client.post(
            "/slack/commands",
            content=b"command=%2Fticket&text=list",
            headers={"x-slack-request-timestamp": "", "x-slack-signature": "v0=00"},
        ),
        401,
        "bad_timestamp",
    ),
    (
        "slack timestamp of 5000 digits",
        lambda g: slack_signed(g, "command=%2Fticket&text=list", timestamp="9" * 5000),
        401,
        "bad_timestamp",
    ),
    ("tickets after a key past 64 bits", lambda g: g.client.get("/v1/tickets?after=" + "9" * 20), 422, "invalid_query"),
    (
        "executions after a key past 64 bits",
        lambda g: g.client.get("/v1/executions?after=" + "9" * 20),
        422,
        "invalid_query",
    ),
    (
        "slack interactive payload",
        lambda g: slack_signed(
            g, urllib.parse.urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": "U1"}})})
        ),
        422,
        "unsupported_slack_request",
    ),
    (
        "slack interactive payload nested 1000 deep",
        lambda g: slack_signed(g, urllib.parse.urlencode({"payload": DEEP_OBJECT.decode()})),
        422,
        "unsupported_slack_request",
    ),
    (
        "generic timestamp nan",
        lambda g: g.post("generic", b"{}", signed_generic(b"{}", timestamp="nan")),
        401,
        "bad_timestamp",
    ),
    (
        "generic timestamp inf",
        lambda g: g.post("generic", b"{}", signed_generic(b"{}", timestamp="inf")),
        401,
        "bad_timestamp",
    ),
    (
        "monte carlo lone surrogate, unsigned",
        lambda g: g.post("monte_carlo", b'{"payload": {"incident_id": "\\ud800"}}', {"x-mcd-signature": "00"}),
        401,
        "bad_signature",
    ),
    ("101 events in one delivery", lambda g: webhook(g, "generic", generic_events(101)), 413, "too_many_events"),
    ("tickets of a made-up state", lambda g: g.client.get("/v1/tickets?state=Sideways"), 422, "invalid_query"),
    ("executions of a made-up status", lambda g: g.client.get("/v1/executions?status=faild"), 422, "invalid_query"),
    ("executions of a made-up action", lambda g: g.client.get("/v1/executions?action=create"), 422, "invalid_query"),
    ("executions of a made-up error kind", lambda g: g.client.get("/v1/executions?error_kind=x"), 422, "invalid_query"),
]


@pytest.mark.parametrize(("attack", "status", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_attack_gets_its_4xx(gateway: Harness, attack: Attack, status: int, code: str) -> None:
    response = attack(gateway)
    assert response.status_code == status, response.text
    assert response.json()["error"] == code
    assert response.json()["detail"]
    assert gateway.tickets() == []


def test_a_filter_that_could_match_nothing_names_what_it_takes(gateway: Harness) -> None:
    webhook(gateway, "generic", generic_events(1))
    gateway.drain()
    refused = gateway.client.get("/v1/executions?status=faild").json()["detail"]
    assert "faild" in refused and "queued, running, succeeded, failed, skipped" in refused
    assert "Sideways" in gateway.client.get("/v1/tickets?state=Sideways").json()["detail"]
    assert [t["number"] for t in gateway.tickets(state="new")] == ["DQ-1"]  # as the CLI and chat read states
    assert gateway.tickets(state="in progress") == []
    assert [e["status"] for e in gateway.executions(status="succeeded", action="create_ticket")] == ["succeeded"]


def test_the_event_cap_is_named_and_a_full_batch_passes(gateway: Harness) -> None:
    refused = webhook(gateway, "generic", generic_events(101))
    assert "101 events" in refused.json()["detail"] and "limit is 100" in refused.json()["detail"]
    assert webhook(gateway, "generic", generic_events(100)).status_code == 202
    gateway.drain()
    assert len(gateway.tickets()) == 100


def test_the_event_cap_is_a_setting(make_gateway: MakeHarness) -> None:
    gateway = security_gateway(make_gateway, max_events_per_delivery=3)
    assert webhook(gateway, "generic", generic_events(4)).status_code == 413
    assert webhook(gateway, "generic", generic_events(3)).status_code == 202


@pytest.mark.parametrize("query", ["%", "%%", "a-_", "a%1"])
def test_a_search_for_a_wildcard_is_literal(gateway: Harness, query: str) -> None:
    webhook(gateway, "generic", generic_events(2))
    gateway.drain()
    assert len(gateway.tickets()) == 2
    assert [t["correlation_key"] for t in gateway.tickets(q="a-1")] == ["generic:a-1"]
    assert gateway.tickets(q=query) == []


def _mc_documented(body: bytes) -> str:
    """Monte Carlo's documented signature: HMAC-SHA512 of urlencode(json.loads(body))."""
    form = urllib.parse.urlencode(json.loads(body)).encode()
    return hmac.new(SECRETS["monte_carlo"].encode(), form, hashlib.sha512).hexdigest()


def test_monte_carlo_reserialised_replays_are_duplicates(gateway: Harness) -> None:
    body = payload("monte_carlo_incident.json")
    signature = {"x-mcd-signature": _mc_documented(body)}
    first = gateway.post("monte_carlo", body, signature)
    assert first.status_code == 202 and not first.json()["duplicate"]
    for variant in (json.dumps(json.loads(body)).encode(), json.dumps(json.loads(body), indent=4).encode()):
        replay = gateway.post("monte_carlo", variant, signature)
        assert replay.status_code == 202 and replay.json()["duplicate"], replay.text
    gateway.drain()
    assert len(gateway.tickets()) == 1


def test_monte_carlo_documented_form_is_for_small_bodies_only(gateway: Harness) -> None:
    data = json.loads(payload("monte_carlo_incident.json"))
    data["padding"] = "x" * 100_000
    body = json.dumps(data).encode()
    refused = gateway.post("monte_carlo", body, {"x-mcd-signature": _mc_documented(body)})
    assert refused.status_code == 401 and refused.json()["error"] == "bad_signature"
    raw = hmac.new(SECRETS["monte_carlo"].encode(), body, hashlib.sha512).hexdigest()
    assert gateway.post("monte_carlo", body, {"x-mcd-signature": raw}).status_code == 202


def _comments(gateway: Harness) -> list[Any]:
    return [e for e in gateway.ticket("DQ-1")["timeline"] if e["kind"] == "comment"]


@pytest.mark.parametrize("redis_away", [False, True], ids=["redis", "in memory"])
def test_a_replayed_slack_command_is_answered_and_not_run_again(gateway: Harness, redis_away: bool) -> None:
    webhook(gateway, "generic", generic_events(1))
    if redis_away:
        gateway.client.app.state.dispatcher = None
    body = urllib.parse.urlencode({"command": "/ticket", "text": "DQ-1 comment once", "user_name": "steve"})
    stamp = str(int(time.time()))
    first = slack_signed(gateway, body, timestamp=stamp)
    assert first.status_code == 200 and first.json()["text"].startswith("Comment added to DQ-1")
    replay = slack_signed(gateway, body, timestamp=stamp)
    assert replay.status_code == 200 and replay.json()["text"] == REPLAY_TEXT
    assert len(_comments(gateway)) == 1
    again = slack_signed(gateway, body, timestamp=str(int(stamp) + 1))  # a new request with the same text
    assert again.json()["text"].startswith("Comment added to DQ-1")
    assert len(_comments(gateway)) == 2


def test_a_replayed_teams_message_is_answered_and_not_run_again(gateway: Harness) -> None:
    webhook(gateway, "generic", generic_events(1))
    body = teams_activity("DQ-1 comment once")
    assert teams_signed(gateway, body).json()["text"].startswith("Comment added to DQ-1")
    replay = teams_signed(gateway, body)
    assert replay.status_code == 200 and replay.json()["text"] == REPLAY_TEXT
    assert len(_comments(gateway)) == 1


@pytest.fixture
def on_postgres(make_gateway: MakeHarness, monkeypatch: pytest.MonkeyPatch) -> Harness:
    """The security gateway with its mirror on PostgreSQL, whatever the run's database: its text has no NUL."""
    monkeypatch.setenv(postgres.SWITCH, "postgresql")
    gateway = security_gateway(make_gateway)
    webhook(gateway, "generic", generic_events(1))
    gateway.drain()
    return gateway


GENERIC_EVENT = {"event_id": "e-9", "event_type": "anomaly", "anomaly_id": "a-9", "severity": "high"}
NUL_ANOMALY = {"source": "generic", "anomaly_id": "a-\u0000"}
NUL_CASES: list[tuple[str, Attack]] = [
    (
        "generic anomaly id",
        lambda g: webhook(g, "generic", json.dumps([{**GENERIC_EVENT, "anomaly_id": "a-\u0000"}]).encode()),
    ),
    (
        "generic event id",
        lambda g: webhook(g, "generic", json.dumps([{**GENERIC_EVENT, "event_id": "e-\u0000"}]).encode()),
    ),
    ("ticket search", lambda g: g.client.get("/v1/tickets?q=a%00b")),
    ("execution filter", lambda g: g.client.get("/v1/executions?target=%00")),
    ("execution id", lambda g: g.client.get("/v1/executions/a%00b")),
    ("retry filter", lambda g: g.client.post("/v1/executions/retry?flow=%00")),
    ("link an anomaly", lambda g: g.client.post("/v1/tickets/DQ-1/anomalies", json=NUL_ANOMALY)),
]


@pytest.mark.parametrize("attack", [c[1] for c in NUL_CASES], ids=[c[0] for c in NUL_CASES])
def test_a_nul_character_postgresql_cannot_store_is_a_422(on_postgres: Harness, attack: Attack) -> None:
    response = attack(on_postgres)
    assert response.status_code == 422, response.text  # not 503 "database unavailable": the tool would retry it forever
    assert response.json()["error"] == "invalid_value" and "NUL" in response.json()["detail"]
    assert [t["number"] for t in on_postgres.tickets()] == ["DQ-1"]
    assert [a["anomaly_id"] for a in on_postgres.ticket("DQ-1")["anomalies"]] == ["a-0"]
    assert on_postgres.client.get("/readyz").json()["database"] == "ok"


@pytest.mark.parametrize("chat", ["slack", "teams"])
def test_a_nul_character_typed_in_chat_is_answered_as_a_refusal(on_postgres: Harness, chat: str) -> None:
    text = "DQ-1 link generic:a-\u0000"
    if chat == "slack":
        body = urllib.parse.urlencode({"command": "/ticket", "text": text, "user_name": "steve"})
        response = slack_signed(on_postgres, body)
    else:
        response = teams_signed(on_postgres, teams_activity(text))
    assert response.status_code == 200, response.text
    reply = response.json()["text"]
    assert reply.startswith("Nothing changed: what was typed cannot be stored") and "NUL" in reply
    assert [a["anomaly_id"] for a in on_postgres.ticket("DQ-1")["anomalies"]] == ["a-0"]
