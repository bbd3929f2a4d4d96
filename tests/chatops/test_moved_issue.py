"""A Jira issue moved to another project: the link keeps its id, follows it, and shows the new key."""

from __future__ import annotations

import json

import respx

from tests.chatops.support import RESPONSE_URL, Trackers, followups, slash, tracker_gateway
from tests.conftest import MakeHarness, qualytics_delivery


def test_a_moved_issue_is_followed_and_its_new_key_shown(make_gateway: MakeHarness, emulators: Trackers) -> None:
    gateway = tracker_gateway(make_gateway, emulators)
    gateway.post("qualytics", qualytics_delivery(1))
    gateway.drain()
    [issue] = emulators.issues()
    issue_id = issue["id"]
    assert emulators.jira.move_issue("DQ-1", "OPS") == "OPS-1"

    with respx.mock() as slack:
        answer_url = slack.post(RESPONSE_URL).respond(200)
        assert slash(gateway, "DQ-1 resolved fixed upstream").status_code == 200
        gateway.drain()
        followups(gateway)

    [moved] = emulators.issues()
    assert (moved["key"], moved["id"], moved["status"]) == ("OPS-1", issue_id, "Done")
    outcome = json.loads(answer_url.calls.last.request.content)["text"]
    assert "Jira OPS-1 (Done)" in outcome and "Every linked tracker followed." in outcome
    ticket = gateway.ticket("DQ-1")
    [jira_link] = [link for link in ticket["links"] if link["target"] == "jira"]
    assert (jira_link["external_key"], jira_link["external_id"]) == ("OPS-1", issue_id)
    relinked = [e["data"] for e in ticket["timeline"] if e["kind"] == "linked" and e["data"].get("was")]
    url = f"{emulators.jira_server.url}/browse/OPS-1"
    assert relinked == [{"target": "jira", "key": "OPS-1", "url": url, "was": "DQ-1"}]
    shown = slash(gateway, "DQ-1").json()["text"]
    assert "linked jira OPS-1 (moved from DQ-1)" in shown
