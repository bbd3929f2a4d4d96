"""`alertmanager`: Alertmanager webhook v4; each alert an anomaly keyed by fingerprint."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from gateway.core.errors import Unauthorized
from gateway.core.models import Parsed
from gateway.receive.sources import ADAPTERS, Delivery, SourceConfig
from gateway.receive.sources.alertmanager import label_fingerprint
from gateway.receive.sources.base import BasicAuth, SourceDefaults

ADAPTER = ADAPTERS["alertmanager"]
ROWS, FRESHNESS = "c3cd7761207ac6cc", "793a95c1e0f11459"


def test_a_firing_group(payload: Callable[[str], bytes], parse: Callable[..., Parsed]) -> None:
    body = payload("alertmanager_firing")
    parsed = parse("alertmanager", body, source="prom")
    rows, freshness = parsed.events
    assert parsed.ignored == []
    assert (rows.event_type, rows.anomaly_id, rows.status) == ("anomaly", ROWS, "Active")
    assert rows.correlation_key == f"prom:{ROWS}"
    assert rows.event_id == f"{ROWS}:firing:2026-01-25T12:00:00.000Z"
    assert (rows.severity, rows.raw_severity) == ("critical", "critical")
    assert rows.title == "orders has fewer rows than expected"
    assert rows.description == "orders row count 42 is below the threshold of 100"
    assert rows.url.startswith("http://prometheus.example.org:9090/graph?g0.expr=dq_row_count")
    assert (rows.datastore, rows.container, rows.check) == ("warehouse", "orders", "OrdersRowCountLow")
    assert rows.occurred_at == "2026-01-25T12:00:00.000Z"
    assert rows.tags == [
        "alertname=OrdersRowCountLow",
        "container=orders",
        "datastore=warehouse",
        "job=dq-exporter",
        "severity=critical",
    ]
    assert rows.attributes["raw_status"] == "firing"
    assert rows.attributes["ends_at"] is None
    assert rows.attributes["receiver"] == "dq-gateway"
    assert rows.attributes["fingerprint_derived"] is False
    assert rows.raw == json.loads(body)["alerts"][0]
    assert (freshness.anomaly_id, freshness.severity, freshness.raw_severity) == (
        FRESHNESS,
        "medium",
        "warning",
    )


def test_firing_then_resolved(payload: Callable[[str], bytes], parse: Callable[..., Parsed]) -> None:
    """Driven from firing to resolved: same anomaly, new event; the still-firing alert is a duplicate."""
    firing = parse("alertmanager", payload("alertmanager_firing")).events
    resolved = parse("alertmanager", payload("alertmanager_resolved")).events
    assert [e.anomaly_id for e in resolved] == [e.anomaly_id for e in firing]

    rows = resolved[0]
    assert (rows.event_type, rows.status, rows.attributes["raw_status"]) == (
        "anomaly_status_change",
        "Resolved",
        "resolved",
    )
    assert rows.event_id == f"{ROWS}:resolved:2026-01-25T12:00:00.000Z:2026-01-25T12:30:00.000Z"
    assert rows.event_id != firing[0].event_id
    assert rows.occurred_at == "2026-01-25T12:30:00.000Z"

    assert resolved[1].event_type == "anomaly"
    assert resolved[1].event_id == firing[1].event_id


def test_a_resent_unchanged_group_gives_the_same_event_ids(
    payload: Callable[[str], bytes], parse: Callable[..., Parsed]
) -> None:
    for name in ("alertmanager_firing", "alertmanager_resolved"):
        first = [e.event_id for e in parse("alertmanager", payload(name)).events]
        data = json.loads(payload(name))
        data["receiver"] = "resent"  # the group's envelope may differ; each alert's id must not
        again = [e.event_id for e in parse("alertmanager", data).events]
        assert again == first


def test_the_same_alert_firing_again_later_is_a_new_event(
    payload: Callable[[str], bytes], parse: Callable[..., Parsed]
) -> None:
    data = json.loads(payload("alertmanager_firing"))
    first = parse("alertmanager", data).events[0]
    data["alerts"][0]["startsAt"] = "2026-01-26T08:00:00.000Z"
    later = parse("alertmanager", data).events[0]
    assert later.anomaly_id == first.anomaly_id
    assert later.event_id != first.event_id


def test_a_missing_fingerprint_is_derived_as_alertmanager_does(
    payload: Callable[[str], bytes], parse: Callable[..., Parsed]
) -> None:
    data = json.loads(payload("alertmanager_firing"))
    for alert in data["alerts"]:
        del alert["fingerprint"]
    rows, freshness = parse("alertmanager", data).events
    assert (rows.anomaly_id, freshness.anomaly_id) == (ROWS, FRESHNESS)
    assert rows.attributes["fingerprint_derived"] is True


def test_label_fingerprint_matches_prometheus() -> None:
    # Test vector of prometheus/common's LabelsToSignature (same FNV-1a walk as Fingerprint).
    assert int(label_fingerprint({"name": "garland, briggs", "fear": "love is not enough"}), 16) == (
        5799056148416392346
    )
    assert label_fingerprint({"b": "2", "a": "1"}) == label_fingerprint({"a": "1", "b": "2"})
    assert label_fingerprint({}) == "cbf29ce484222325"


def test_the_jiralert_sample(payload: Callable[[str], bytes], parse: Callable[..., Parsed]) -> None:
    """A minimal body (no fingerprint, times or severity): derived id, group status, source default."""
    config = SourceConfig(kind="alertmanager", defaults=SourceDefaults(severity="high"))
    body = payload("alertmanager_jiralert_test_firing")
    (event,) = parse("alertmanager", body, config).events
    fingerprint = label_fingerprint({"alertname": "TestAlert", "key": "value"})
    assert (event.anomaly_id, event.event_id) == (fingerprint, f"{fingerprint}:firing:")
    assert (event.event_type, event.status) == ("anomaly", "Active")
    assert (event.severity, event.raw_severity) == ("high", None)
    assert event.title == event.check == "TestAlert"
    assert event.occurred_at is None
    assert parse("alertmanager", body, config).events[0].event_id == event.event_id


@pytest.mark.parametrize(
    ("label", "severity"),
    [
        ("critical", "critical"),
        ("page", "critical"),
        ("error", "high"),
        ("warning", "medium"),
        ("info", "info"),
    ],
)
def test_severity_label(
    label: str, severity: str, payload: Callable[[str], bytes], parse: Callable[..., Parsed]
) -> None:
    data = json.loads(payload("alertmanager_firing"))
    data["alerts"][0]["labels"]["severity"] = label
    assert parse("alertmanager", data).events[0].severity == severity


def test_an_empty_or_truncated_group_says_so(
    payload: Callable[[str], bytes], parse: Callable[..., Parsed]
) -> None:
    empty = parse("alertmanager", {"version": "4", "status": "resolved", "alerts": []})
    assert (empty.events, [i.reason for i in empty.ignored]) == ([], ["alertmanager group has no alerts"])
    data = json.loads(payload("alertmanager_firing"))
    data["truncatedAlerts"] = 3
    parsed = parse("alertmanager", data)
    assert len(parsed.events) == 2
    assert [i.reason for i in parsed.ignored] == ["alertmanager truncated 3 alerts"]


class TestAuth:
    token = SourceConfig(kind="alertmanager", token="am-token")
    basic_only = SourceConfig(kind="alertmanager", basic=BasicAuth(user="am", password="pw"))
    both = SourceConfig(kind="alertmanager", token="am-token", basic=BasicAuth(user="am", password="pw"))

    def test_accepts_bearer_and_basic(
        self, basic_header: Callable[[str, str], str], delivery: Callable[..., Delivery]
    ) -> None:
        basic = basic_header
        ADAPTER.verify(self.token, delivery(b"{}", {"Authorization": "Bearer am-token"}))
        ADAPTER.verify(self.basic_only, delivery(b"{}", {"Authorization": basic("am", "pw")}))
        ADAPTER.verify(self.both, delivery(b"{}", {"Authorization": "Bearer am-token"}))
        ADAPTER.verify(self.both, delivery(b"{}", {"Authorization": basic("am", "pw")}))

    @pytest.mark.parametrize(
        ("config", "headers", "code"),
        [
            ("token", {"Authorization": "Bearer wrong"}, "bad_signature"),
            ("token", {}, "missing_signature"),
            ("basic_only", ("am", "wrong"), "bad_signature"),
            ("basic_only", ("intruder", "pw"), "bad_signature"),
            ("basic_only", {"Authorization": "Bearer am-token"}, "missing_signature"),
            ("basic_only", {}, "missing_signature"),
            ("both", ("am", "wrong"), "bad_signature"),
            ("both", {"Authorization": "Bearer wrong"}, "bad_signature"),
            ("both", {}, "missing_signature"),
        ],
    )
    def test_refuses_wrong_and_missing(
        self,
        config: str,
        headers: dict[str, str] | tuple[str, str],
        code: str,
        basic_header: Callable[[str, str], str],
        delivery: Callable[..., Delivery],
    ) -> None:
        if isinstance(headers, tuple):  # Basic credentials to encode
            headers = {"Authorization": basic_header(*headers)}
        with pytest.raises(Unauthorized) as caught:
            ADAPTER.verify(getattr(self, config), delivery(b"{}", headers))
        assert caught.value.code == code
