"""`soda`: Soda Cloud incidents and check evaluations; a token, since Soda signs nothing."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from gateway.core.errors import Unauthorized
from gateway.core.models import Parsed
from gateway.receive.sources import ADAPTERS, Delivery, SourceConfig
from gateway.receive.sources.base import SourceDefaults

ADAPTER = ADAPTERS["soda"]
INCIDENT = "e1f399a3-09ea-***"


def test_incident_created(payload: Callable[[str], bytes], parse: Callable[..., Parsed]) -> None:
    body = payload("soda_cloud")
    parsed = parse("soda", body, source="soda")
    (event,) = parsed.events
    assert parsed.ignored == []
    assert event.event_type == "anomaly"
    assert event.anomaly_id == INCIDENT
    assert event.correlation_key == f"soda:{INCIDENT}"
    assert (event.status, event.attributes["raw_status"]) == ("Active", "opened")
    assert (event.severity, event.raw_severity) == ("high", "major")
    assert event.title == event.description == "Invalid customer ids"
    assert event.url == "https://cloud.soda.io/incidents/e1f399a3-******-1992d2744ef6"
    assert event.occurred_at == "2022-05-18T06:07:34Z"
    assert event.attributes["link_callback_url"] == json.loads(body)["incidentLinkCallbackUrl"]
    assert event.attributes["number"] == 196
    assert event.attributes["lead"] == "personn@soda.io"
    assert event.attributes["reporter"] == "person@soda.io"
    assert event.attributes["links"][0]["integrationType"] == "slack"
    assert (event.datastore, event.container, event.check) == ("", "", "")
    assert event.raw == json.loads(body)["incident"]
    assert parse("soda", body).events[0].event_id == event.event_id


def test_incident_updated_with_drifted_spellings(
    payload: Callable[[str], bytes], parse: Callable[..., Parsed]
) -> None:
    (event,) = parse("soda", payload("soda_cloud_updated")).events
    assert event.event_type == "anomaly_status_change"
    assert event.anomaly_id == INCIDENT
    assert (event.status, event.attributes["raw_status"]) == ("Acknowledged", "inProgress")
    assert (event.severity, event.raw_severity) == ("critical", "Critical")
    assert (event.datastore, event.container, event.field) == ("sodaspark", "customers", "customer_id")
    assert event.check == "checks for customers:\nmissing_count(customer_id) = 0"
    assert event.occurred_at == "2022-05-18T07:10:00Z"
    assert event.attributes["check_ids"] == ["39d706c3-5a48-4f4b***"]
    assert "link_callback_url" not in event.attributes


def test_incident_resolved(payload: Callable[[str], bytes], parse: Callable[..., Parsed]) -> None:
    created = parse("soda", payload("soda_cloud")).events[0]
    (event,) = parse("soda", payload("soda_cloud_resolved")).events
    assert (event.event_type, event.status, event.attributes["raw_status"]) == (
        "anomaly_status_change",
        "Resolved",
        "Resolved",
    )
    assert event.anomaly_id == created.anomaly_id
    assert event.event_id != created.event_id
    assert event.attributes["resolution_notes"] == "Backfilled the missing ids"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("opened", "Active"),
        ("REPORTED", "Active"),
        ("investigating", "Acknowledged"),
        ("Fixing", "Acknowledged"),
        ("in_progress", "Acknowledged"),
        ("inProgress", "Acknowledged"),
        ("resolved", "Resolved"),
    ],
)
def test_incident_status_vocabulary(
    raw: str, status: str, payload: Callable[[str], bytes], parse: Callable[..., Parsed]
) -> None:
    data = json.loads(payload("soda_cloud_updated"))
    data["incident"]["status"] = raw
    (event,) = parse("soda", data).events
    assert (event.status, event.attributes["raw_status"]) == (status, raw)


def test_an_unknown_status_on_an_update_is_ignored_with_its_value(
    payload: Callable[[str], bytes], parse: Callable[..., Parsed]
) -> None:
    data = json.loads(payload("soda_cloud_updated"))
    data["incident"]["status"] = "snoozed"
    parsed = parse("soda", data)
    assert parsed.events == []
    assert [i.reason for i in parsed.ignored] == ["soda incident status 'snoozed' is not known"]


def test_an_incident_created_already_resolved_is_a_status_change(
    payload: Callable[[str], bytes], parse: Callable[..., Parsed]
) -> None:
    data = json.loads(payload("soda_cloud"))
    data["incident"]["status"] = "resolved"
    (event,) = parse("soda", data).events
    assert (event.event_type, event.status) == ("anomaly_status_change", "Resolved")


def test_an_incident_without_severity_takes_the_default(
    payload: Callable[[str], bytes], parse: Callable[..., Parsed]
) -> None:
    data = json.loads(payload("soda_cloud"))
    del data["incident"]["severity"]
    config = SourceConfig(kind="soda", defaults=SourceDefaults(severity="critical"))
    (event,) = parse("soda", data, config).events
    assert (event.severity, event.raw_severity) == ("critical", None)


def test_an_incident_without_title_or_number_is_named_by_its_id(
    payload: Callable[[str], bytes], parse: Callable[..., Parsed]
) -> None:
    data = json.loads(payload("soda_cloud"))
    data["incident"].pop("title", None)
    (event,) = parse("soda", data).events
    assert event.title == f"Soda incident #{data['incident']['number']}"
    data["incident"].pop("number", None)
    (event,) = parse("soda", data).events
    assert event.title == f"Soda incident {data['incident']['id']}"  # not "#None"


def test_check_evaluation(payload: Callable[[str], bytes], parse: Callable[..., Parsed]) -> None:
    body = payload("soda_cloud_check_evaluation")
    raw_checks = json.loads(body)["checkResults"]
    parsed = parse("soda", body, source="soda")
    failing, warning, passing = parsed.events
    assert failing.event_type == warning.event_type == "anomaly"
    assert failing.anomaly_id == "39d706c3-5a48-4f4b***"
    assert (failing.status, failing.severity, failing.raw_severity) == ("Active", "medium", "fail")
    assert (failing.datastore, failing.container, failing.field) == ("sodaspark", "bnm_orders", "columnName")
    assert failing.check == raw_checks[0]["definition"]
    assert failing.url == "https://cloud.soda.io/checks/39d706c3-5a48-b"
    assert failing.tags == ["critical-path", "finance"]
    assert failing.occurred_at == "2022-01-04T09:49:48.060897Z"
    assert failing.raw == raw_checks[0]
    assert (warning.anomaly_id, warning.status, warning.severity) == (
        "7a1c2b3d-0000-4f4b***",
        "Active",
        "low",
    )
    assert (warning.attributes["outcome"], warning.attributes["raw_status"]) == ("warn", "WARN")
    assert warning.field == ""
    assert passing.event_type == "anomaly_status_change"
    assert (passing.anomaly_id, passing.status) == ("9f8e7d6c-1111-4f4b***", "Resolved")
    assert len({failing.event_id, warning.event_id, passing.event_id}) == 3
    (ignored,) = parsed.ignored
    assert ignored.reason == "soda check 5e5e5e5e-2222-4f4b***: outcome 'notEvaluated' is not ticketed"


def test_a_later_pass_resolves_the_failing_check(
    payload: Callable[[str], bytes], parse: Callable[..., Parsed]
) -> None:
    data = json.loads(payload("soda_cloud_check_evaluation"))
    failing = parse("soda", data).events[0]
    data["checkResults"] = [
        {**data["checkResults"][0], "outcome": "pass", "dataTimestamp": "2022-01-05T09:00:00Z"}
    ]
    (passing,) = parse("soda", data).events
    assert passing.anomaly_id == failing.anomaly_id
    assert (passing.event_type, passing.status) == ("anomaly_status_change", "Resolved")
    assert passing.event_id != failing.event_id


def test_validate_ping_is_ignored(payload: Callable[[str], bytes], parse: Callable[..., Parsed]) -> None:
    parsed = parse("soda", payload("soda_cloud_validate"))
    assert parsed.events == []
    assert [i.reason for i in parsed.ignored] == ["validate ping"]


def test_other_events_are_ignored(parse: Callable[..., Parsed]) -> None:
    parsed = parse("soda", {"event": "contractPublished", "contract": {}})
    assert parsed.events == []
    assert [i.reason for i in parsed.ignored] == ["soda event 'contractPublished' is not ticketed"]


class TestToken:
    config = SourceConfig(kind="soda", token="soda-token")

    @pytest.mark.parametrize(
        "headers", [{"Authorization": "Bearer soda-token"}, {"X-Gateway-Token": "soda-token"}]
    )
    def test_accepts_the_token(self, headers: dict[str, str], delivery: Callable[..., Delivery]) -> None:
        ADAPTER.verify(self.config, delivery(b"{}", headers))

    @pytest.mark.parametrize(
        ("headers", "code"),
        [
            ({"Authorization": "Bearer wrong"}, "bad_signature"),
            ({"X-Gateway-Token": "wrong"}, "bad_signature"),
            ({}, "missing_signature"),
        ],
    )
    def test_refuses_wrong_and_missing(
        self, headers: dict[str, str], code: str, delivery: Callable[..., Delivery]
    ) -> None:
        with pytest.raises(Unauthorized) as caught:
            ADAPTER.verify(self.config, delivery(b"{}", headers))
        assert caught.value.code == code

    def test_without_a_token_configured_nothing_is_checked(self, delivery: Callable[..., Delivery]) -> None:
        ADAPTER.verify(SourceConfig(kind="soda", allow_unauthenticated=True), delivery(b"{}"))
