"""What an operator sees: /metrics names and labels after a run, /readyz naming what is degraded,
log lines with the ids (GATEWAY_LOG_FORMAT=json parses), and no secret anywhere."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.run.logs import JsonFormatter, redact_secrets_of, set_redactor
from tests.conftest import QUALYTICS_SECRET, TRACKER_ENV, Harness, MakeHarness, Trackers, qualytics_delivery


def samples(gateway: Harness) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = gateway.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def labels(**pairs: str) -> frozenset[tuple[str, str]]:
    return frozenset(pairs.items())


def test_metrics_after_a_run_count_webhooks_refused_ones_too_and_time_the_executions(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    gateway = make_gateway(trackers.mappings(), TRACKER_ENV)
    assert gateway.post("qualytics", qualytics_delivery(1)).status_code == 202
    wrong = gateway.post("qualytics", qualytics_delivery(2), {"x-qualytics-secret": "not-the-secret"})
    assert wrong.status_code == 401
    assert gateway.post("no-such-source", qualytics_delivery(3)).status_code == 404
    assert gateway.post("qualytics", b"{not json").status_code == 400
    gateway.drain()

    found = samples(gateway)
    assert found[("dq_gateway_webhooks_total", labels(source="qualytics", status="202"))] == 1
    assert found[("dq_gateway_webhooks_total", labels(source="qualytics", status="401"))] == 1
    assert found[("dq_gateway_webhooks_total", labels(source="qualytics", status="400"))] == 1
    assert found[("dq_gateway_webhooks_total", labels(source="unknown", status="404"))] == 1
    for target in ("jira", "snow"):
        action = labels(action="create_ticket", target=target)
        assert found[("dq_gateway_executions_finished_total", action | labels(outcome="succeeded"))] == 1
        assert found[("dq_gateway_execution_latency_seconds_count", action)] == 1
        assert found[("dq_gateway_execution_latency_seconds_bucket", action | labels(le="+Inf"))] == 1
        assert found[("dq_gateway_execution_latency_seconds_sum", action)] >= 0
        assert found[("dq_gateway_connector_call_seconds_count", action)] >= 1
    assert found[("dq_gateway_queue_wait_seconds_count", labels(action="create_ticket"))] == 2
    # the gauges that were there stay
    assert found[("dq_gateway_tickets", labels(state="New"))] == 1
    assert found[("dq_gateway_executions", labels(status="succeeded", action="create_ticket", target="jira"))] == 1
    assert found[("dq_gateway_redis_up", labels())] == 1


def test_readyz_names_a_target_whose_credentials_are_refused(make_gateway: MakeHarness, trackers: Trackers) -> None:
    gateway = make_gateway(trackers.mappings(), TRACKER_ENV)
    trackers.snow.users = {}  # the instance stops accepting the gateway's password
    gateway.post("qualytics", qualytics_delivery(1))
    gateway.drain()
    ready = gateway.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "degraded",
        "database": "ok",
        "redis": "ok",
        "ingress_writer": "in process",
        "targets": {"jira": "ok", "snow": "credentials refused (HTTP 401)"},
        "degraded": ["target snow"],
    }


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The gateway's log lines as GATEWAY_LOG_FORMAT=json writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("gateway")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)
    set_redactor(lambda text: text)


def test_json_log_lines_parse_carry_the_ids_and_no_secret(
    make_gateway: MakeHarness, trackers: Trackers, json_lines: io.StringIO
) -> None:
    gateway = make_gateway(trackers.mappings(), TRACKER_ENV)
    redact_secrets_of(gateway.runtime)
    accepted = gateway.post("qualytics", qualytics_delivery(1)).json()
    gateway.post("qualytics", qualytics_delivery(2), {"x-qualytics-secret": QUALYTICS_SECRET + "-wrong"})
    gateway.drain()
    trackers.jira.users = {}
    trackers.jira.tokens = set()  # Jira refuses the next call: a failure line
    gateway.post("qualytics", qualytics_delivery(1, trigger="Anomaly Status Change", status="Resolved"))
    gateway.drain()

    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    accepted_lines = [line for line in lines if line["message"].startswith("webhook qualytics accepted")]
    [webhook] = [line for line in accepted_lines if line["event_ids"] == accepted["event_ids"]]
    assert webhook["executions"] == accepted["executions"] and webhook["duration_ms"] >= 0
    [refused] = [line for line in lines if line["message"].startswith("webhook qualytics refused")]
    assert (refused["status"], refused["level"]) == (401, "warning")
    created = {line["target"]: line for line in lines if line.get("action") == "create_ticket"}
    assert set(created) == {"jira", "snow"}
    for target, line in created.items():
        assert line["execution_id"] in accepted["executions"]
        assert line["event_id"] == accepted["event_ids"][0]
        assert (line["ticket"], line["outcome"]) == ("DQ-1", "succeeded")
        assert line["external_key"] == {"jira": trackers.issues()[0]["key"], "snow": "INC0010001"}[target]
        assert line["duration_ms"] >= 0
        assert f"create_ticket -> {target} DQ-1 ({line['external_key']}): succeeded in" in line["message"]
    [failed] = [line for line in lines if line.get("outcome") == "failed"]
    assert (failed["action"], failed["target"], failed["ticket"], failed["level"]) == (
        "update_ticket_status",
        "jira",
        "DQ-1",
        "warning",
    )
    text = json_lines.getvalue()
    for secret in (QUALYTICS_SECRET, *TRACKER_ENV.values()):
        assert secret not in text
