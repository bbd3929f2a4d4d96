"""An exception no edge recognises is a bug: failed at once with error_kind `bug`, its type named, not retried."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from connectors.local import LocalConnector, LocalTarget
from connectors.registry import KINDS, TargetKind
from gateway.core.retry_config import RetryConfig
from tests.conftest import LOCAL_MAPPINGS, MakeHarness, payload


class BrokenTarget(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kind: str = "broken"
    retry: RetryConfig = msgspec.field(default_factory=RetryConfig)


class BrokenConnector(LocalConnector):
    """A connector with a bug: it reads a key the tracker's answer does not have."""

    def create(self, request: Any) -> Any:
        return {}["id-holding-customer-data"]


def build(config: BrokenTarget) -> BrokenConnector:
    return BrokenConnector(LocalTarget(retry=config.retry))


def test_a_bug_in_a_connector_fails_once_as_a_bug(make_gateway: MakeHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(KINDS, "broken", TargetKind("Broken", f"{__name__}:BrokenTarget", f"{__name__}:build"))
    gateway = make_gateway({**LOCAL_MAPPINGS, "targets.yaml": "targets:\n  mirror: {kind: broken}\n"})
    assert gateway.post("qualytics", payload("qualytics.json")).status_code == 202
    gateway.drain()
    [failed] = gateway.executions(status="failed")
    assert failed["error_kind"] == "bug"
    assert "KeyError" in failed["error"]
    assert "id-holding-customer-data" not in failed["error"]
    attempts = gateway.execution(failed["id"])["attempts"]
    assert [(a["outcome"], a["error_kind"]) for a in attempts] == [("failed", "bug")]
    assert gateway.sleeps == []  # no backoff: it was never retried
