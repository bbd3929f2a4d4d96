"""`dbt_cloud`: dbt Cloud job webhooks, `Authorization` = hex HMAC-SHA256 of the body."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable

import pytest

from gateway.core.errors import Unauthorized
from gateway.core.models import Parsed
from gateway.receive.sources import ADAPTERS, Delivery, SourceConfig
from gateway.receive.sources.base import SourceDefaults

ADAPTER = ADAPTERS["dbt_cloud"]
SECRET = "dbt-secret-token"
ANOMALY = "job:123:env:1234"


def test_an_errored_run(payload: Callable[[str], bytes], parse: Callable[..., Parsed]) -> None:
    body = payload("dbt_cloud_job_run_errored")
    parsed = parse("dbt_cloud", body, source="dbt")
    (event,) = parsed.events
    assert (event.event_type, event.event_id, event.anomaly_id) == ("anomaly", "12345:errored", ANOMALY)
    assert event.correlation_key == f"dbt:{ANOMALY}"
    assert (event.status, event.attributes["raw_status"]) == ("Active", "Errored")
    assert (event.severity, event.raw_severity) == ("medium", None)
    assert event.title == "dbt Cloud job dbt Vault errored in dbt Vault Demo"
    assert event.description == "Kicked off from UI by test@test.com"
    assert (event.datastore, event.container, event.check) == (
        "Snowflake Github Demo",
        "dbt Vault Demo",
        "dbt Vault",
    )
    assert event.occurred_at == "2023-01-31T21:15:20Z"
    assert event.attributes["dbt_event_id"] == "wev_2L6m5BggBw9uPNuSmtg4MUiW4Re"
    assert event.attributes["run_id"] == "12345"
    assert event.raw == json.loads(body)


def test_errored_and_completed_for_one_run_share_the_event_id(
    payload: Callable[[str], bytes], parse: Callable[..., Parsed]
) -> None:
    errored = parse("dbt_cloud", payload("dbt_cloud_job_run_errored")).events[0]
    completed = parse("dbt_cloud", payload("dbt_cloud_job_run_completed_errored")).events[0]
    assert completed.event_type == "anomaly"
    assert (completed.event_id, completed.anomaly_id) == (errored.event_id, errored.anomaly_id)
    assert completed.occurred_at == "2023-01-31T21:15:20Z"


def test_a_later_successful_run_resolves(
    payload: Callable[[str], bytes], parse: Callable[..., Parsed]
) -> None:
    config = SourceConfig(kind="dbt_cloud", defaults=SourceDefaults(severity="low"))
    (event,) = parse("dbt_cloud", payload("dbt_cloud_job_run_completed_success"), config).events
    assert (event.event_type, event.event_id, event.anomaly_id) == (
        "anomaly_status_change",
        "12346:success",
        ANOMALY,
    )
    assert (event.status, event.attributes["raw_status"], event.severity) == ("Resolved", "Success", "low")
    assert event.title == "dbt Cloud job dbt Vault succeeded in dbt Vault Demo"
    assert event.occurred_at == "2023-01-31T19:29:32Z"


@pytest.mark.parametrize(
    ("name", "change", "reason"),
    [
        (
            "dbt_cloud_job_run_started",
            {},
            "dbt cloud job.run.started with runStatus 'Running' is not ticketed",
        ),
        (
            "dbt_cloud_job_run_completed_success",
            {"runStatus": "Cancelled"},
            "dbt cloud job.run.completed with runStatus 'Cancelled' is not ticketed",
        ),
    ],
)
def test_other_runs_are_ignored(
    name: str,
    change: dict[str, str],
    reason: str,
    payload: Callable[[str], bytes],
    parse: Callable[..., Parsed],
) -> None:
    data = json.loads(payload(name))
    data["data"].update(change)
    parsed = parse("dbt_cloud", data)
    assert parsed.events == []
    assert [(i.reason, i.event_id) for i in parsed.ignored] == [(reason, data["eventId"])]


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class TestSignature:
    config = SourceConfig(kind="dbt_cloud", secret=SECRET)

    def test_accepts_hmac_sha256_of_the_body(
        self, payload: Callable[[str], bytes], delivery: Callable[..., Delivery]
    ) -> None:
        body = payload("dbt_cloud_job_run_errored")
        ADAPTER.verify(self.config, delivery(body, {"Authorization": sign(body)}))

    @pytest.mark.parametrize(
        ("headers", "code"),
        [
            ({"Authorization": "0" * 64}, "bad_signature"),
            ({"Authorization": "Bearer " + SECRET}, "bad_signature"),
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
            ADAPTER.verify(self.config, delivery(payload("dbt_cloud_job_run_errored"), headers))
        assert caught.value.code == code

    def test_refuses_another_secret_and_a_tampered_body(
        self, payload: Callable[[str], bytes], delivery: Callable[..., Delivery]
    ) -> None:
        body = payload("dbt_cloud_job_run_errored")
        cases = [(body, sign(body, "other")), (body.replace(b"Errored", b"Success"), sign(body))]
        for sent, signature in cases:
            with pytest.raises(Unauthorized) as caught:
                ADAPTER.verify(self.config, delivery(sent, {"Authorization": signature}))
            assert caught.value.code == "bad_signature"
