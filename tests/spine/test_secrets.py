"""Secrets never appear in logs, API responses or execution records."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from connectors.emulators.base import Fault
from tests.conftest import QUALYTICS_SECRET, TRACKER_ENV, MakeHarness, Trackers, payload, qualytics_delivery


def test_no_secret_reaches_logs_responses_or_the_execution_log(
    make_gateway: MakeHarness, trackers: Trackers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    gateway = make_gateway(trackers.mappings(), env=TRACKER_ENV, api_token="admin-t0ken-secret")
    secrets = [
        QUALYTICS_SECRET,
        TRACKER_ENV["JIRA_API_TOKEN"],
        TRACKER_ENV["SERVICENOW_PASSWORD"],
        base64.b64encode(f"sandbox:{TRACKER_ENV['JIRA_API_TOKEN']}".encode()).decode(),
        base64.b64encode(f"sandbox:{TRACKER_ENV['SERVICENOW_PASSWORD']}".encode()).decode(),
        "admin-t0ken-secret",
    ]
    responses = [
        gateway.post("qualytics", payload("qualytics.json"), headers={"x-qualytics-secret": "wrong"}).text,
        gateway.post("qualytics", payload("qualytics.json")).text,
    ]
    trackers.jira.inject(Fault(kind="status", status=503, count=2))
    gateway.drain()
    # Auth failures are where clients like to echo credentials back.
    trackers.jira.users.clear()
    trackers.snow.users.clear()
    gateway.post("qualytics", qualytics_delivery(1, trigger="Anomaly Status Change", status="Resolved"))
    gateway.drain()
    failed = gateway.executions(status="failed")
    assert {e["target"] for e in failed} == {"jira", "snow"}
    assert all(e["error_kind"] == "auth" for e in failed)

    responses += [json.dumps(gateway.tickets()), json.dumps(gateway.ticket("DQ-1"))]
    responses += [json.dumps(gateway.execution(e["id"])) for e in gateway.executions()]
    responses.append(
        gateway.client.post(
            "/v1/preview/qualytics",
            content=payload("qualytics.json"),
            headers={"authorization": "Bearer admin-t0ken-secret"},
        ).text
    )
    responses.append(gateway.client.get("/schema/openapi.json").text)
    database = "\n".join(
        json.dumps([list(row) for row in gateway.runtime.mirror.connection().execute(f"SELECT * FROM {table}")])
        for table in ("events", "tickets", "links", "timeline", "executions", "attempts")
    )
    everything = "\n".join([caplog.text, *responses, database])
    for secret in secrets:
        assert secret not in everything, f"a secret leaked: {secret[:4]}..."
