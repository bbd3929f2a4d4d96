"""A gateway with every source and both chat endpoints, and requests signed the way each sender signs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from slack_sdk.signature import SignatureVerifier

from gateway.receive.security import hmac_b64
from tests.chatops.support import CHAT_SETTINGS, SIGNING_SECRET, TEAMS_SECRET
from tests.conftest import LOCAL_MAPPINGS, QUALYTICS_SECRET, Harness, MakeHarness
from tests.ingress.test_every_source import FILES, auth

GENERIC_SECRET = "generic-hmac-key-of-the-security-tests"
KINDS = ["qualytics", "soda", "monte_carlo", "great_expectations", "alertmanager", "dbt_cloud", "generic"]
SOURCES = FILES["sources.yaml"] + f'  generic: {{kind: generic, hmac_secret: "{GENERIC_SECRET}"}}\n'
DEEP_LIST = b"[" * 1000 + b"]" * 1000
DEEP_OBJECT = b'{"a":' * 1000 + b"1" + b"}" * 1000


def security_gateway(make_gateway: MakeHarness, **settings: Any) -> Harness:
    files = {**FILES, "sources.yaml": SOURCES, "targets.yaml": LOCAL_MAPPINGS["targets.yaml"]}
    return make_gateway(files, **{**CHAT_SETTINGS, **settings})


def signed_generic(body: bytes, timestamp: str | None = None) -> dict[str, str]:
    stamp = timestamp or str(int(time.time()))
    digest = hmac.new(GENERIC_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"x-gateway-timestamp": stamp, "x-gateway-signature": f"sha256={digest}"}


def signed_for(kind: str, body: bytes) -> dict[str, str]:
    """Each source's valid proof for these bytes: an attack that gets past authentication."""
    if kind == "generic":
        return signed_generic(body)
    if kind == "qualytics":
        return {"x-qualytics-secret": QUALYTICS_SECRET}
    return auth(kind, body)


def webhook(gateway: Harness, kind: str, body: bytes, headers: dict[str, str] | None = None) -> Any:
    return gateway.post(kind, body, signed_for(kind, body) if headers is None else headers)


def slack_signed(gateway: Harness, body: str, timestamp: str | None = None) -> Any:
    stamp = timestamp or str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stamp, body=body)
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": signature,
    }
    return gateway.client.post("/slack/commands", content=body.encode(), headers=headers)


def teams_signed(gateway: Harness, body: bytes) -> Any:
    signature = hmac_b64(base64.b64decode(TEAMS_SECRET), body)
    headers = {"content-type": "application/json", "authorization": f"HMAC {signature}"}
    return gateway.client.post("/teams/messages", content=body, headers=headers)


def generic_events(count: int) -> bytes:
    return json.dumps(
        [
            {"event_id": f"e-{i}", "event_type": "anomaly", "anomaly_id": f"a-{i}", "severity": "high"}
            for i in range(count)
        ]
    ).encode()
