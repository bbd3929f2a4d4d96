"""Jira's per-issue write limit: a burst of writes to one issue is retried after Retry-After and all land."""

from __future__ import annotations

import time

import pytest

from tests.conftest import TRACKER_ENV, MakeHarness, Trackers, qualytics_delivery


def test_a_burst_of_comments_on_one_issue_all_land_and_the_attempts_say_why(
    make_gateway: MakeHarness, trackers: Trackers, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = "    issue_write_interval_ms: 50\n    retry: {attempts: 6, initial: 0.1, max: 3, deadline: 60}"
    gateway = make_gateway(trackers.mappings(jira_extra=extra), env=TRACKER_ENV)
    gateway.post("qualytics", qualytics_delivery(1))
    gateway.drain()
    monkeypatch.setattr(trackers.jira, "issue_write_interval", 0.5)  # Jira: one write per issue per 0.5 s
    for text in ("first", "second", "third"):
        assert gateway.client.post("/v1/tickets/DQ-1/comments", json={"text": text}).status_code == 202
    gateway.drain(sleep=time.sleep)  # Retry-After is really waited for

    comments = [e for e in gateway.executions(action="comment", target="jira")]
    assert [e["status"] for e in comments] == ["succeeded"] * 3
    [issue] = trackers.issues()
    assert issue["comments"] == ["api: first", "api: second", "api: third"]
    attempts = [a for e in comments for a in gateway.execution(e["id"])["attempts"]]
    limited = [a for a in attempts if a["outcome"] == "failed"]
    assert limited, "the burst should have met the emulator's per-issue limit"
    assert all(a["http_status"] == 429 for a in limited)
    assert all("RateLimit-Reason: jira-per-issue-on-write" in a["message"] for a in limited)
