"""What every source adapter shares: registration, auth keys, 400 on bad JSON, 422 naming the field."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.core.errors import InvalidPayload, MalformedJson
from gateway.core.models import Parsed
from gateway.receive.sources import ADAPTERS

HERE = Path(__file__).resolve().parent
PAYLOADS = HERE.parent / "data" / "payloads"

# Copied verbatim from the design's reference set; every other sample is a variant described in SOURCE.md.
REFERENCE_SAMPLES = {
    "alertmanager_jiralert_test_firing",
    "dbt_cloud_job_run_errored",
    "great_expectations",
    "qualytics",
    "soda_cloud",
    "soda_cloud_validate",
}

AUTH_KEYS = {
    "generic": ("hmac_secret", "token", "basic"),
    "qualytics": ("secret",),
    "soda": ("token",),
    "monte_carlo": ("secret",),
    "great_expectations": ("token",),
    "alertmanager": ("token", "basic"),
    "dbt_cloud": ("secret",),
}


def test_every_kind_is_registered_with_its_auth_keys() -> None:
    assert {kind: adapter.auth_keys for kind, adapter in ADAPTERS.items()} == AUTH_KEYS
    assert all(adapter.kind == kind for kind, adapter in ADAPTERS.items())


@pytest.mark.parametrize("kind", sorted(AUTH_KEYS))
@pytest.mark.parametrize("body", [b"{not json", b"", b"   ", b'{"a": 1'])
def test_malformed_json_is_a_400(kind: str, body: bytes, parse: Callable[..., Parsed]) -> None:
    with pytest.raises(MalformedJson) as caught:
        parse(kind, body)
    assert caught.value.status_code == 400
    assert caught.value.code == "malformed_json"


WRONG_SHAPES: list[tuple[str, Any, str]] = [
    ("generic", {"event_id": "e1", "anomaly_id": "a1"}, "event_type"),
    (
        "generic",
        [{"event_id": "e", "event_type": "anomaly", "anomaly_id": "a"}, {"event_id": "e2"}],
        "event 1",
    ),
    ("qualytics", {"trigger": {"type": "Anomaly"}}, "context"),
    ("qualytics", {"trigger": {"type": "Anomaly"}, "context": {"anomalies": [{}]}}, "`id`"),
    ("soda", {"sentAt": "2022-10-01T09:12:10Z"}, "`event`"),
    ("soda", {"event": "incidentCreated"}, "`incident`"),
    ("soda", {"event": "incidentUpdated", "incident": {"id": "i1"}}, "`status`"),
    ("soda", {"event": "checkEvaluation"}, "`checkResults`"),
    ("soda", {"event": "checkEvaluation", "checkResults": [{"id": "c1"}]}, "`outcome`"),
    ("monte_carlo", {"type": "open_anomaly_incident"}, "`payload`"),
    ("monte_carlo", {"type": "open_anomaly_incident", "payload": {"url": "u"}}, "`incident_id`"),
    ("great_expectations", {"data_asset_name": "t", "validation_results": []}, "`test_suite_name`"),
    (
        "great_expectations",
        {"test_suite_name": "s", "validation_results": [{"success": False}]},
        "expectation_config",
    ),
    ("great_expectations", {"test_suite_name": "s", "validation_results": "oops"}, "validation_results"),
    ("great_expectations", [{"test_suite_name": "s"}, {"validation_results": []}], "notification 1"),
    ("alertmanager", {"status": "firing", "receiver": "r"}, "`alerts`"),
    ("alertmanager", {"alerts": [{"labels": {"a": 1}}]}, "alerts[0].labels"),
    ("dbt_cloud", {"eventType": "job.run.errored"}, "`data`"),
    (
        "dbt_cloud",
        {
            "eventType": "job.run.errored",
            "data": {"jobId": "1", "environmentId": "2", "runStatus": "Errored"},
        },
        "`runId`",
    ),
    ("dbt_cloud", [], "object"),
]


@pytest.mark.parametrize(("kind", "body", "field"), WRONG_SHAPES)
def test_the_right_tool_in_the_wrong_shape_is_a_422_naming_the_field(
    kind: str, body: Any, field: str, parse: Callable[..., Parsed]
) -> None:
    with pytest.raises(InvalidPayload) as caught:
        parse(kind, body)
    assert caught.value.status_code == 422
    assert field in caught.value.detail


def test_every_sample_payload_is_exercised_and_described() -> None:
    """A sample nobody parses, or nobody can trace to its source, is dead weight."""
    tests = "".join(path.read_text() for path in HERE.glob("test_*.py"))
    described = (PAYLOADS / "SOURCE.md").read_text()
    for sample in sorted(PAYLOADS.glob("*.json")):
        assert re.search(rf'"{re.escape(sample.stem)}"', tests), f"{sample.name} is not used by a test"
    for sample in sorted(PAYLOADS.glob("*.json")):
        if sample.stem not in REFERENCE_SAMPLES:
            assert f"`{sample.name}`" in described, f"{sample.name} has no line in SOURCE.md"


EMPTY_BATCHES: list[tuple[str, Any, str]] = [
    ("generic", [], "generic delivery holds no events"),
    (
        "qualytics",
        {"trigger": {"type": "Anomaly"}, "context": {"anomalies": []}},
        "qualytics posted no anomalies",
    ),
    ("soda", {"event": "checkEvaluation", "checkResults": []}, "soda checkEvaluation carries no check results"),
    ("great_expectations", {"test_suite_name": "s", "validation_results": []}, "great expectations posted no"),
    ("alertmanager", {"alerts": []}, "alertmanager group has no alerts"),
]


@pytest.mark.parametrize(("kind", "body", "reason"), EMPTY_BATCHES, ids=[b[0] for b in EMPTY_BATCHES])
def test_a_batch_of_nothing_is_ignored_with_a_reason(
    kind: str, body: Any, reason: str, parse: Callable[..., Parsed]
) -> None:
    """An empty batch made no event and no ignored item: a 200 that said nothing and recorded nothing."""
    parsed = parse(kind, body)
    assert parsed.events == []
    [ignored] = parsed.ignored
    assert ignored.reason.startswith(reason) and not ignored.ping


def test_a_null_in_a_map_is_the_key_left_out_and_a_null_list_item_is_still_a_422(
    parse: Callable[..., Parsed],
) -> None:
    """`null` means 'not given' where a value may be left out (an optional field, a label); a list keeps its
    items, so `[null]` where strings are due is still refused, naming the item."""
    alert = {"labels": {"alertname": "RowsLow", "severity": None}, "annotations": {"summary": None}}
    (event,) = parse("alertmanager", {"alerts": [alert]}).events
    assert (event.title, event.raw_severity, event.attributes["labels"]) == ("RowsLow", None, {"alertname": "RowsLow"})
    anomaly = {"id": 7, "tags": ["orders", None]}
    with pytest.raises(InvalidPayload) as caught:
        parse("qualytics", {"trigger": {"type": "Anomaly"}, "context": {"anomalies": [anomaly]}})
    assert caught.value.detail == (
        "qualytics payload: Expected `str`, got `null` - at `$.context.anomalies[0].tags[1]`"
    )
