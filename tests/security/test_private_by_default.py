"""Private by default: what needs the token, cross-site requests, the Host header, and `gateway serve --host`."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import Harness, MakeHarness
from tests.e2e.conftest import ROOT
from tests.security.support import generic_events, security_gateway, webhook

API_TOKEN = "api-token-of-the-security-tests"
METRICS_TOKEN = "metrics-token-for-the-scraper"
LOOPBACK = ("localhost", "127.0.0.1", "::1")


@pytest.fixture
def gateway(make_gateway: MakeHarness) -> Harness:
    gateway = security_gateway(make_gateway, api_token=API_TOKEN, metrics_token=METRICS_TOKEN)
    webhook(gateway, "generic", generic_events(1))
    gateway.drain()
    return gateway


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


READS = ["/v1/tickets", "/v1/tickets/DQ-1", "/v1/tickets?q=a", "/v1/executions", "/metrics"]


@pytest.mark.parametrize("path", READS)
def test_every_read_needs_the_token(gateway: Harness, path: str) -> None:
    refused = gateway.client.get(path)
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
    assert gateway.client.get(path, headers=bearer("wrong-token-of-the-same-size")).status_code == 401
    assert gateway.client.get(path, headers=bearer(API_TOKEN)).status_code == 200


def test_the_metrics_token_opens_metrics_only(gateway: Harness) -> None:
    assert gateway.client.get("/metrics", headers=bearer(METRICS_TOKEN)).status_code == 200
    assert gateway.client.get("/v1/tickets", headers=bearer(METRICS_TOKEN)).status_code == 401


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/schema/openapi.json"])
def test_health_stays_open(gateway: Harness, path: str) -> None:
    assert gateway.client.get(path).status_code == 200


def test_webhooks_keep_their_own_auth(gateway: Harness) -> None:
    assert webhook(gateway, "generic", generic_events(2)).status_code == 202
    assert gateway.post("generic", generic_events(1), {}).status_code == 401


CHANGES: list[tuple[str, dict[str, str], int, str]] = [
    ("a form post", {"content-type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
    ("text/plain (a no-cors fetch)", {"content-type": "text/plain"}, 415, "unsupported_media_type"),
    ("a multipart form", {"content-type": "multipart/form-data; boundary=x"}, 415, "unsupported_media_type"),
    (
        "JSON from a foreign origin",
        {"content-type": "application/json", "origin": "https://evil.example"},
        403,
        "foreign_origin",
    ),
]


@pytest.mark.parametrize(("headers", "status", "code"), [c[1:] for c in CHANGES], ids=[c[0] for c in CHANGES])
def test_cross_site_changes_are_refused(gateway: Harness, headers: dict[str, str], status: int, code: str) -> None:
    response = gateway.client.post(
        "/v1/tickets/DQ-1/comments", content=b'{"text": "forged"}', headers={**bearer(API_TOKEN), **headers}
    )
    assert (response.status_code, response.json()["error"]) == (status, code)
    timeline = gateway.client.get("/v1/tickets/DQ-1", headers=bearer(API_TOKEN)).json()["timeline"]
    assert not any(e["kind"] == "comment" for e in timeline)


def test_a_same_origin_json_change_goes_through(gateway: Harness) -> None:
    headers = {**bearer(API_TOKEN), "content-type": "application/json", "origin": "http://testserver.local"}
    response = gateway.client.post("/v1/tickets/DQ-1/comments", content=b'{"text": "fine"}', headers=headers)
    assert response.status_code == 202, response.text


def test_without_a_token_only_the_allowed_host_names_are_answered(make_gateway: MakeHarness) -> None:
    gateway = security_gateway(make_gateway, allowed_hosts=LOOPBACK)
    rebound = gateway.client.get("/v1/tickets", headers={"host": "attacker.example"})
    assert rebound.status_code == 421 and rebound.json()["error"] == "host_not_allowed"
    for host in ("127.0.0.1:8080", "localhost", "[::1]:8080"):
        assert gateway.client.get("/v1/tickets", headers={"host": host}).status_code == 200


def test_with_a_token_any_host_name_is_answered(make_gateway: MakeHarness) -> None:
    gateway = security_gateway(make_gateway, allowed_hosts=LOOPBACK, api_token=API_TOKEN)
    response = gateway.client.get("/v1/tickets", headers={"host": "gateway.example.com", **bearer(API_TOKEN)})
    assert response.status_code == 200


def serve_on(host: str, *extra: str, **env: str) -> Any:
    clean = {k: v for k, v in os.environ.items() if k not in ("GATEWAY_API_TOKEN", "REDIS_URL")}
    return subprocess.run(
        [sys.executable, "-m", "gateway.run.cli", "serve", "--no-sandbox", "--host", host, "--port", "1", *extra],
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_refuses_a_public_host_without_a_token() -> None:
    refused = serve_on("0.0.0.0")
    assert refused.returncode == 2
    assert "refusing to listen on 0.0.0.0 without GATEWAY_API_TOKEN" in refused.stderr
    assert "--insecure" in refused.stderr


def test_the_openapi_document_declares_the_bearer_scheme(gateway: Harness) -> None:
    document = gateway.client.get("/schema/openapi.json", headers=bearer(API_TOKEN)).json()
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "GATEWAY_API_TOKEN",
    }
    assert {"bearer": []} in document["security"]


def test_the_openapi_document_declares_request_bodies(gateway: Harness) -> None:
    paths = gateway.client.get("/schema/openapi.json", headers=bearer(API_TOKEN)).json()["paths"]
    status = paths["/v1/tickets/{reference}/status"]["post"]["requestBody"]
    assert status["required"] is True
    assert status["content"]["application/json"]["schema"]["required"] == ["status"]
    assert "application/json" in paths["/v1/webhooks/{source}"]["post"]["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in paths["/slack/commands"]["post"]["requestBody"]["content"]


def test_the_openapi_document_describes_a_webhooks_answer(gateway: Harness) -> None:
    document = gateway.client.get("/schema/openapi.json", headers=bearer(API_TOKEN)).json()
    accepted = document["paths"]["/v1/webhooks/{source}"]["post"]["responses"]["202"]
    reference = accepted["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][reference.rsplit("/", 1)[1]]
    assert sorted(schema["required"]) == ["duplicate", "event_ids", "executions", "ignored"]
