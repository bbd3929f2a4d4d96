"""`qualytics`: a Qualytics flow action, one event per anomaly, secret in X-Qualytics-Secret."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from gateway.core.errors import InvalidPayload, Unauthorized
from gateway.core.models import Parsed
from gateway.receive.sources import ADAPTERS, Delivery, SourceConfig

ADAPTER = ADAPTERS["qualytics"]


def test_the_sample_anomaly(payload: Callable[[str], bytes], parse: Callable[..., Parsed]) -> None:
    body = payload("qualytics")
    parsed = parse("qualytics", body, source="qualytics-prod")
    (event,) = parsed.events
    assert event.event_type == "anomaly"
    assert event.anomaly_id == "1"
    assert event.correlation_key == "qualytics-prod:1"
    assert event.status == "Active"
    assert event.severity == "medium"
    assert event.title == "Value outside expected range"
    assert (event.datastore, event.container, event.field, event.check) == (
        "Production DB",
        "orders",
        "amount",
        "Amount Range Check",
    )
    assert event.url == "https://demo.qualytics.io/..."
    assert event.occurred_at == "2026-01-25T11:59:00Z"
    assert event.raw == json.loads(body)["context"]["anomalies"][0]
    assert len(event.event_id) == 32
    assert parse("qualytics", body).events[0].event_id == event.event_id


def test_a_status_change(payload: Callable[[str], bytes], parse: Callable[..., Parsed]) -> None:
    data = json.loads(payload("qualytics"))
    data["trigger"]["type"] = "Anomaly Status Change"
    data["context"]["anomalies"][0].update(status="Resolved", previous_status="Active", weight=42)
    (event,) = parse("qualytics", data).events
    assert (event.event_type, event.status, event.previous_status, event.weight) == (
        "anomaly_status_change",
        "Resolved",
        "Active",
        42,
    )


@pytest.mark.parametrize(
    ("sent", "status"), [("resolved", "Resolved"), ("ACKNOWLEDGED", "Acknowledged"), ("invalid", "Invalid")]
)
def test_a_status_in_another_case_is_the_gateway_s_status(
    sent: str, status: str, payload: Callable[[str], bytes], parse: Callable[..., Parsed]
) -> None:
    """Flows look `event.status` up in value maps (`anomaly_to_ticket`): 'resolved' failed the ticket's update."""
    data = json.loads(payload("qualytics"))
    data["trigger"]["type"] = "Anomaly Status Change"
    data["context"]["anomalies"][0].update(status=sent, previous_status="active")
    (event,) = parse("qualytics", data).events
    assert (event.status, event.previous_status, event.attributes["raw_status"]) == (status, "Active", sent)


def test_an_unknown_status_is_ignored_naming_it(payload: Callable[[str], bytes], parse: Callable[..., Parsed]) -> None:
    data = json.loads(payload("qualytics"))
    data["trigger"]["type"] = "Anomaly Status Change"
    data["context"]["anomalies"][0]["status"] = "Discarded"
    parsed = parse("qualytics", data)
    assert parsed.events == []
    [ignored] = parsed.ignored
    assert ignored.reason == "qualytics anomaly 1: status 'Discarded' is not known"
    assert ignored.event_id


def test_a_status_change_without_status_is_a_422(
    payload: Callable[[str], bytes], parse: Callable[..., Parsed]
) -> None:
    data = json.loads(payload("qualytics"))
    data["trigger"]["type"] = "Anomaly Status Change"
    with pytest.raises(InvalidPayload, match="status"):
        parse("qualytics", data)


def test_another_trigger_is_ignored(payload: Callable[[str], bytes], parse: Callable[..., Parsed]) -> None:
    data = json.loads(payload("qualytics"))
    data["trigger"]["type"] = "Operation Complete"
    parsed = parse("qualytics", data)
    assert parsed.events == []
    assert [i.reason for i in parsed.ignored] == [
        "qualytics trigger type 'Operation Complete' is not ticketed"
    ]


class TestSecret:
    config = SourceConfig(kind="qualytics", secret="q-secret")

    def test_accepts_the_secret(self, delivery: Callable[..., Delivery]) -> None:
        ADAPTER.verify(self.config, delivery(b"{}", {"X-Qualytics-Secret": "q-secret"}))

    @pytest.mark.parametrize(
        ("headers", "code"), [({"X-Qualytics-Secret": "nope"}, "bad_signature"), ({}, "missing_signature")]
    )
    def test_refuses_wrong_and_missing(
        self, headers: dict[str, str], code: str, delivery: Callable[..., Delivery]
    ) -> None:
        with pytest.raises(Unauthorized) as caught:
            ADAPTER.verify(self.config, delivery(b"{}", headers))
        assert caught.value.code == code
