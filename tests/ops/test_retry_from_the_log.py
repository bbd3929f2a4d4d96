"""Ops: failed executions say why, and a retry from the log gets a fresh retry budget."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from connectors.emulators.base import Fault
from gateway.decide import operations
from gateway.record.mirror import SCHEMA_VERSION, Mirror
from tests.conftest import TRACKER_ENV, MakeHarness, Trackers, qualytics_delivery

TWO_ATTEMPTS = "    retry: {attempts: 2, initial: 0.01, max: 0.05, deadline: 3600}"


def test_a_retry_from_the_log_gets_its_own_attempts(make_gateway: MakeHarness, trackers: Trackers) -> None:
    gateway = make_gateway(trackers.mappings(jira_extra=TWO_ATTEMPTS), env=TRACKER_ENV)
    trackers.jira.inject(Fault(kind="status", status=503, count=3, method="POST", path="/issue$"))
    gateway.post("qualytics", qualytics_delivery(1))
    gateway.drain()
    [failed] = gateway.executions(status="failed")
    assert failed["target"] == "jira" and failed["error_kind"] == "transient"
    assert "gave up after 2 attempts" in failed["error"]
    assert any(e["kind"] == "action_failed" for e in gateway.ticket("DQ-1")["timeline"])

    # One more 503 is left: the retried run fails once and succeeds on its second attempt.
    response = gateway.client.post(f"/v1/executions/{failed['id']}/retry")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    gateway.drain()
    detail = gateway.execution(failed["id"])
    assert detail["status"] == "succeeded"
    assert [a["outcome"] for a in detail["attempts"]] == ["failed", "failed", "failed", "succeeded"]
    assert len(trackers.issues()) == 1


def test_only_failed_executions_are_retried(make_gateway: MakeHarness, trackers: Trackers) -> None:
    gateway = make_gateway(trackers.mappings(), env=TRACKER_ENV)
    gateway.post("qualytics", qualytics_delivery(2))
    gateway.drain()
    done = gateway.executions()[0]
    response = gateway.client.post(f"/v1/executions/{done['id']}/retry")
    assert response.status_code == 409 and response.json()["error"] == "not_retryable"


def test_bulk_retry_takes_the_filters(
    make_gateway: MakeHarness, trackers: Trackers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(operations, "BULK_CHUNK", 1)  # a transaction an execution: every one still goes
    gateway = make_gateway(trackers.mappings(jira_extra=TWO_ATTEMPTS), env=TRACKER_ENV)
    trackers.jira.inject(Fault(kind="status", status=500, count=4, method="POST", path="/issue$"))
    gateway.post("qualytics", qualytics_delivery(3))
    gateway.post("qualytics", qualytics_delivery(4))
    gateway.drain()
    assert len(gateway.executions(status="failed", target="jira", error_kind="transient")) == 2
    assert gateway.executions(status="failed", target="snow") == []
    retried = gateway.client.post("/v1/executions/retry", params={"target": "snow"}).json()["retried"]
    assert retried == []
    retried = gateway.client.post("/v1/executions/retry", params={"target": "jira"}).json()["retried"]
    assert len(retried) == 2
    gateway.drain()
    assert gateway.executions(status="failed") == []
    assert len(trackers.issues()) == 2


def test_a_version_1_database_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        from gateway.record.mirror import _MIGRATIONS

        conn.executescript(_MIGRATIONS[1])
        conn.execute("INSERT INTO schema_version VALUES (1)")
        conn.execute(
            "INSERT INTO executions (id, flow, action, target, status, params, created_at)"
            " VALUES ('e1', 'f', 'create_ticket', 'jira', 'failed', '{}', 0)"
        )
    mirror = Mirror(path)
    execution = mirror.execution("e1")
    assert execution is not None and execution.attempts_base == 0
    version = mirror.connection().execute("SELECT max(version) FROM schema_version").fetchone()[0]
    assert version == SCHEMA_VERSION
