"""A credential field is redacted because it is typed `Secret`, not because its name is on a list."""

from __future__ import annotations

import json
import logging
from typing import Any

import msgspec
import pytest

from connectors.base import AssignRequest, CommentRequest, CreateRequest, RemoteTicket, StatusRequest
from connectors.registry import KINDS, TargetKind
from gateway.core.outbound import PermanentError
from gateway.core.redact import Secret, secret_values
from gateway.core.retry_config import RetryConfig
from tests.conftest import LOCAL_MAPPINGS, MakeHarness, payload

API_KEY = "vault-api-key-4f9c2e81d7"  # a name no redaction list ever held


class VaultTarget(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A tracker kind declared here, whose credential is called `api_key`."""

    kind: str = "vault"
    api_key: Secret
    nested: dict[str, Secret] = msgspec.field(default_factory=dict)
    retry: RetryConfig = msgspec.field(default_factory=RetryConfig)


class VaultConnector:
    """Echoes its credential back in every refusal, as careless trackers do."""

    def __init__(self, config: VaultTarget) -> None:
        self.config = config

    def _refuse(self) -> Any:
        raise PermanentError(f"vault refused api_key={self.config.api_key}", http_status=401)

    def create(self, request: CreateRequest) -> RemoteTicket:
        return self._refuse()  # type: ignore[no-any-return]

    def preview(self, request: CreateRequest) -> dict[str, Any]:
        return self._refuse()  # type: ignore[no-any-return]

    def set_status(self, request: StatusRequest) -> RemoteTicket:
        return self._refuse()  # type: ignore[no-any-return]

    def comment(self, request: CommentRequest) -> None:
        self._refuse()

    def assign(self, request: AssignRequest) -> RemoteTicket:
        return self._refuse()  # type: ignore[no-any-return]

    def close(self) -> None:
        return None


def build(config: VaultTarget) -> VaultConnector:
    return VaultConnector(config)


def test_secret_values_walks_the_struct_types() -> None:
    config = VaultTarget(api_key=API_KEY, nested={"backup": "second-key-value"})
    assert secret_values(config) == {API_KEY, "second-key-value"}


def test_a_secret_typed_field_of_a_new_target_kind_stays_out_of_logs_and_api(
    make_gateway: MakeHarness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setitem(KINDS, "vault", TargetKind("Vault", f"{__name__}:VaultTarget", f"{__name__}:build"))
    files = {
        **LOCAL_MAPPINGS,
        "targets.yaml": f"targets:\n  mirror: {{kind: vault, api_key: {API_KEY}}}\n",
    }
    gateway = make_gateway(files, api_token="admin-t0ken-secret-value")
    assert API_KEY in gateway.runtime.mappings.secrets()

    assert gateway.post("qualytics", payload("qualytics.json")).status_code == 202
    gateway.drain()
    [failed] = gateway.executions(status="failed")
    assert failed["error"] == "vault refused api_key=***"

    preview = gateway.client.post(
        "/v1/preview/qualytics",
        content=payload("qualytics.json"),
        headers={"authorization": "Bearer admin-t0ken-secret-value", "x-qualytics-secret": "unused"},
    )
    assert preview.status_code == 200, preview.text
    assert "vault refused api_key=***" in preview.text
    shown = [
        caplog.text,
        preview.text,
        json.dumps(gateway.executions()),
        json.dumps(gateway.execution(failed["id"])),
        json.dumps(gateway.ticket(gateway.tickets()[0]["number"])),
    ]
    assert "vault refused api_key=***" in caplog.text
    for text in shown:
        assert API_KEY not in text
