"""`monte_carlo`: Monte Carlo alert webhooks, HMAC-SHA512 in x-mcd-signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Callable

import pytest

from gateway.core.errors import Unauthorized
from gateway.core.models import Parsed
from gateway.receive.sources import ADAPTERS, Delivery, SourceConfig

ADAPTER = ADAPTERS["monte_carlo"]
SECRET = "mc-secret"
ANOMALY = "0b3a4f4e-5d1c-4a57-9a43-0b0f8d1e2c11"


def test_custom_rule_incident(payload: Callable[[str], bytes], parse: Callable[..., Parsed]) -> None:
    body = payload("monte_carlo_incident")
    parsed = parse("monte_carlo", body, source="mc")
    (event,) = parsed.events
    assert event.event_type == "anomaly"
    assert event.anomaly_id == "f83867b6-8f25-428b-807c-08518f63384c"
    assert event.correlation_key == "mc:f83867b6-8f25-428b-807c-08518f63384c"
    assert event.status == "Active"
    assert (event.severity, event.raw_severity) == ("medium", None)
    assert event.title == "test rule"
    assert event.url == "https://getmontecarlo.com/incidents/f83867b6-8f25-428b-807c-08518f63384c"
    assert event.check == "custom_sql"
    assert event.container == ""
    assert event.occurred_at == "2026-01-25T12:00:00Z"
    assert event.attributes["mc_type"] == "open_custom_rule_anomaly_incident"
    assert event.attributes["rule_uuid"] == "0c8e06aa-a44b-4f2d-8a37-5ed3f394431d"
    assert event.attributes["raw_status"] is None
    assert event.raw == json.loads(body)
    assert parse("monte_carlo", body).events[0].event_id == event.event_id


def test_table_anomaly(payload: Callable[[str], bytes], parse: Callable[..., Parsed]) -> None:
    (event,) = parse("monte_carlo", payload("monte_carlo_anomaly")).events
    assert (event.event_type, event.anomaly_id, event.status) == ("anomaly", ANOMALY, "Active")
    assert event.title == event.description == "Has 42 rows vs. 101 expected"
    assert event.container == "artemis"
    assert event.check == "open_anomaly_incident"
    assert event.attributes["group_id"] == "zeus:ares"


def test_status_change(payload: Callable[[str], bytes], parse: Callable[..., Parsed]) -> None:
    opened = parse("monte_carlo", payload("monte_carlo_anomaly")).events[0]
    (event,) = parse("monte_carlo", payload("monte_carlo_status_fixed")).events
    assert event.event_type == "anomaly_status_change"
    assert event.anomaly_id == opened.anomaly_id
    assert event.event_id != opened.event_id
    assert (event.status, event.attributes["raw_status"]) == ("Resolved", "fixed")
    assert (event.severity, event.raw_severity) == ("high", "SEV-2")
    assert event.attributes["owner"] == "oncall@example.com"


@pytest.mark.parametrize(
    ("feedback", "status"),
    [
        ("no_status", "Active"),
        ("investigating", "Acknowledged"),
        ("work_in_progress", "Acknowledged"),
        ("fixed", "Resolved"),
        ("no_action_needed", "Resolved"),
        ("expected", "Invalid"),
        ("false_positive", "Invalid"),
        ("FALSE_POSITIVE", "Invalid"),
    ],
)
def test_feedback_vocabulary_at_either_level(
    feedback: str, status: str, payload: Callable[[str], bytes], parse: Callable[..., Parsed]
) -> None:
    data = json.loads(payload("monte_carlo_anomaly"))
    in_payload = json.loads(json.dumps(data))
    in_payload["payload"]["alert_feedback"] = feedback
    top_level = {**data, "alert_feedback": feedback, "type": ""}
    for body in (in_payload, top_level):
        (event,) = parse("monte_carlo", body).events
        assert (event.event_type, event.status, event.attributes["raw_status"]) == (
            "anomaly_status_change",
            status,
            feedback,
        )


@pytest.mark.parametrize(
    ("declared", "severity"), [("SEV-1", "critical"), ("SEV-3", "medium"), ("SEV-4", "low")]
)
def test_declared_severity(
    declared: str, severity: str, payload: Callable[[str], bytes], parse: Callable[..., Parsed]
) -> None:
    data = json.loads(payload("monte_carlo_anomaly"))
    data["payload"]["declared_alert_severity"] = declared
    (event,) = parse("monte_carlo", data).events
    assert (event.severity, event.raw_severity) == (severity, declared)


def test_an_update_without_a_status_is_ignored(
    payload: Callable[[str], bytes], parse: Callable[..., Parsed]
) -> None:
    data = json.loads(payload("monte_carlo_anomaly"))
    data["type"] = "incident_owner_changed"
    data["payload"]["owner"] = "someone@example.com"
    parsed = parse("monte_carlo", data)
    assert parsed.events == []
    assert [i.reason for i in parsed.ignored] == [
        "monte carlo 'incident_owner_changed' carries no status change"
    ]


def test_an_unknown_feedback_is_ignored_with_its_value(
    payload: Callable[[str], bytes], parse: Callable[..., Parsed]
) -> None:
    data = json.loads(payload("monte_carlo_anomaly"))
    data["payload"]["alert_feedback"] = "snoozed"
    parsed = parse("monte_carlo", data)
    assert parsed.events == []
    assert [i.reason for i in parsed.ignored] == ["monte carlo alert_feedback 'snoozed' is not known"]


def sign(message: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha512).hexdigest()


class TestSignature:
    config = SourceConfig(kind="monte_carlo", secret=SECRET)

    def test_accepts_hmac_sha512_of_the_raw_body(
        self, payload: Callable[[str], bytes], delivery: Callable[..., Delivery]
    ) -> None:
        body = payload("monte_carlo_incident")
        ADAPTER.verify(self.config, delivery(body, {"x-mcd-signature": sign(body)}))

    def test_accepts_the_documented_urlencoded_form(
        self, payload: Callable[[str], bytes], delivery: Callable[..., Delivery]
    ) -> None:
        body = payload("monte_carlo_incident")
        documented = urllib.parse.urlencode(json.loads(body)).encode()
        ADAPTER.verify(self.config, delivery(body, {"X-MCD-Signature": sign(documented)}))

    @pytest.mark.parametrize(
        ("headers", "code"),
        [
            ({"x-mcd-signature": "0" * 128}, "bad_signature"),
            ({"x-mcd-signature": ""}, "missing_signature"),
            ({}, "missing_signature"),
        ],
    )
    def test_refuses_wrong_and_missing(
        self,
        headers: dict[str, str],
        code: str,
        payload: Callable[[str], bytes],
        delivery: Callable[..., Delivery],
    ) -> None:
        with pytest.raises(Unauthorized) as caught:
            ADAPTER.verify(self.config, delivery(payload("monte_carlo_incident"), headers))
        assert caught.value.code == code

    def test_refuses_another_secret_and_a_tampered_body(
        self, payload: Callable[[str], bytes], delivery: Callable[..., Delivery]
    ) -> None:
        body = payload("monte_carlo_incident")
        tampered = body.replace(b"test rule", b"fake rule")
        documented = urllib.parse.urlencode(json.loads(body)).encode()
        cases = [(body, sign(body, "other")), (tampered, sign(body)), (tampered, sign(documented))]
        for sent, signature in cases:
            with pytest.raises(Unauthorized) as caught:
                ADAPTER.verify(self.config, delivery(sent, {"x-mcd-signature": signature}))
            assert caught.value.code == "bad_signature"

    def test_a_malformed_body_can_only_match_on_its_raw_bytes(
        self, delivery: Callable[..., Delivery]
    ) -> None:
        ADAPTER.verify(self.config, delivery(b"{oops", {"x-mcd-signature": sign(b"{oops")}))
        with pytest.raises(Unauthorized):
            ADAPTER.verify(self.config, delivery(b"{oops", {"x-mcd-signature": sign(b"")}))

    def test_without_a_secret_nothing_is_checked(self, delivery: Callable[..., Delivery]) -> None:
        ADAPTER.verify(SourceConfig(kind="monte_carlo", allow_unauthenticated=True), delivery(b"{}"))
