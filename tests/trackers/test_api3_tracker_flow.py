"""A Jira Cloud target with `api: 3`: the gateway's text arrives as Atlassian Document Format."""

from __future__ import annotations

import pytest

from connectors.jira.adf import document
from tests.conftest import TRACKER_ENV, MakeHarness, Trackers, qualytics_delivery

DESCRIPTION = "Null customer ids:\n- orders.customer_id\n- orders.region\n```\nSELECT 1 {code}\n```"


def test_api_3_target_gets_an_adf_description_and_adf_recurrence_comments(
    make_gateway: MakeHarness, trackers: Trackers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trackers.jira, "deployment", "Cloud")
    gateway = make_gateway(trackers.mappings(jira_extra="    api: 3"), env=TRACKER_ENV)
    first = qualytics_delivery(5, description=DESCRIPTION, timestamp="2026-01-25T12:00:00Z")
    assert gateway.post("qualytics", first).status_code == 202
    gateway.drain()
    again = qualytics_delivery(5, description=DESCRIPTION, timestamp="2026-01-25T13:00:00Z")
    assert gateway.post("qualytics", again).status_code == 202
    gateway.drain()

    [issue] = trackers.issues()
    description = issue["fields"]["description"]
    assert description["type"] == "doc" and description["version"] == 1
    assert [block["type"] for block in description["content"]] == ["paragraph", "bulletList", "codeBlock", "paragraph"]
    assert description["content"][2]["content"] == [{"type": "text", "text": "SELECT 1 {code}"}]
    [url] = [n for n in description["content"][3]["content"] if n.get("marks")]
    assert url["marks"] == [{"type": "link", "attrs": {"href": url["text"]}}] and url["text"].startswith("https://")
    assert issue["comments"] == [document(f"The anomaly occurred again (occurrence 2): {DESCRIPTION}")]
    assert [r.path for r in trackers.jira.log if r.method == "POST" and "/comment" in r.path] == [
        f"/rest/api/3/issue/{issue['id']}/comment"
    ]
    [execution] = [e for e in gateway.executions() if e["action"] == "comment" and e["target"] == "jira"]
    assert execution["status"] == "succeeded"
