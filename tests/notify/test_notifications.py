"""Notifications: after the flow's ticket actions, the ticket as Block Kit / an Adaptive Card.

respx stands in for Slack and Teams only; Jira and ServiceNow are the loopback emulators.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import respx

from connectors.emulators.base import Fault
from gateway.notify.post import SLACK_POST_MESSAGE
from tests.chatops.support import (
    BOT_TOKEN,
    CHANNEL_ENV,
    CHANNELS,
    SLACK_WEBHOOK,
    TEAMS_WEBHOOK,
    Trackers,
    chat_files,
    notify_gateway,
)
from tests.conftest import TRACKER_ENV, Harness, MakeHarness, qualytics_delivery


def posted(route: respx.Route, index: int = -1) -> Any:
    return json.loads(route.calls[index].request.content)


def slack_text(payload: dict[str, Any]) -> str:
    """Every text of a Block Kit message, joined, for 'does it say X' checks."""
    texts = []
    for block in payload["blocks"]:
        texts += [block["text"]["text"]] if "text" in block else []
        texts += [f["text"] for f in block.get("fields", [])]
        texts += [e["text"] for e in block.get("elements", [])]
    return "\n".join(texts)


def notify_executions(gateway: Harness) -> list[dict[str, Any]]:
    return [e for e in gateway.executions() if e["action"] == "notify"]


def test_slack_and_teams_webhooks_get_the_ticket_with_its_tracker_links(
    make_gateway: MakeHarness, emulators: Trackers
) -> None:
    gateway = notify_gateway(make_gateway, emulators, "{channels: [dq-slack, dq-teams]}")
    with respx.mock() as chat:
        slack = chat.post(SLACK_WEBHOOK).respond(200, text="ok")
        teams = chat.post(TEAMS_WEBHOOK).respond(202)
        gateway.post("qualytics", qualytics_delivery(1, severity="high"))
        gateway.drain()

    [issue], [incident] = emulators.issues(), emulators.incidents()
    links = {link["target"]: link["url"] for link in gateway.ticket("DQ-1")["links"]}
    message = posted(slack)
    assert message["text"] == "DQ-1: Amount Range Check failed on orders"
    header, facts, link_block, context = message["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "DQ-1: Amount Range Check failed on orders"},
    }
    assert facts == {
        "type": "section",
        "fields": [{"type": "mrkdwn", "text": "*State*\nNew"}, {"type": "mrkdwn", "text": "*Priority*\nHigh"}],
    }
    assert f"<{links['jira']}|Jira {issue['key']} (To Do)>" in link_block["text"]["text"]
    assert f"<{links['snow']}|ServiceNow {incident['number']} (New)>" in link_block["text"]["text"]
    assert context["type"] == "context" and "flow open-dq-ticket · qualytics anomaly 1" in slack_text(message)

    card_message = posted(teams)
    assert card_message["type"] == "message"
    [attachment] = card_message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["body"][0]["text"] == "DQ-1: Amount Range Check failed on orders"
    assert card["body"][1] == {
        "type": "FactSet",
        "facts": [{"title": "State", "value": "New"}, {"title": "Priority", "value": "High"}],
    }
    actions = {a["title"]: a["url"] for a in card["actions"]}
    assert actions[f"Jira {issue['key']} (To Do)"] == links["jira"]
    assert actions[f"ServiceNow {incident['number']} (New)"] == links["snow"]

    notified = [e for e in gateway.ticket("DQ-1")["timeline"] if e["kind"] == "notified"]
    assert sorted(e["data"]["channel"] for e in notified) == ["dq-slack", "dq-teams"]
    for execution in notify_executions(gateway):
        assert execution["status"] == "succeeded"
        assert [a["outcome"] for a in gateway.execution(execution["id"])["attempts"]] == ["succeeded"]


def test_a_status_change_notification_says_the_new_state(make_gateway: MakeHarness, emulators: Trackers) -> None:
    gateway = notify_gateway(make_gateway, emulators, "{channels: [dq-slack]}")
    with respx.mock() as chat:
        slack = chat.post(SLACK_WEBHOOK).respond(200, text="ok")
        gateway.post("qualytics", qualytics_delivery(1))
        gateway.drain()
        gateway.post("qualytics", qualytics_delivery(1, trigger="Anomaly Status Change", status="Resolved"))
        gateway.drain()
    assert slack.call_count == 2
    text = slack_text(posted(slack))
    assert "*State*\nResolved" in text
    assert "(Done)" in text and "(Resolved)" in text  # Jira and ServiceNow had answered when it was posted


def test_a_bot_token_posts_chat_post_message_to_its_channel(make_gateway: MakeHarness, emulators: Trackers) -> None:
    gateway = notify_gateway(make_gateway, emulators, "{channels: [dq-bot]}")
    with respx.mock() as chat:
        api = chat.post(SLACK_POST_MESSAGE).respond(200, json={"ok": True, "channel": "C1", "ts": "1.2"})
        gateway.post("qualytics", qualytics_delivery(1))
        gateway.drain()
    request = api.calls.last.request
    assert request.headers["authorization"] == f"Bearer {BOT_TOKEN}"
    body = json.loads(request.content)
    assert body["channel"] == "#dq-alerts"
    assert body["blocks"][0]["text"]["text"] == "DQ-1: Amount Range Check failed on orders"
    [execution] = notify_executions(gateway)
    assert execution["status"] == "succeeded"
    assert execution["result"]["via"] == "slack chat.postMessage to #dq-alerts"


def test_slack_api_refusals_ratelimited_is_retried_others_are_not(
    make_gateway: MakeHarness, emulators: Trackers
) -> None:
    gateway = notify_gateway(make_gateway, emulators, "{channels: [dq-bot]}")
    with respx.mock() as chat:
        chat.post(SLACK_POST_MESSAGE).mock(
            side_effect=[
                httpx.Response(200, json={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "1"}),
                httpx.Response(200, json={"ok": True}),
                httpx.Response(200, json={"ok": False, "error": "channel_not_found"}),
            ]
        )
        gateway.post("qualytics", qualytics_delivery(1))
        gateway.drain()
        gateway.post("qualytics", qualytics_delivery(1, trigger="Anomaly Status Change", status="Resolved"))
        gateway.drain()
    first, second = sorted(notify_executions(gateway), key=lambda e: e["created_at"])
    assert first["status"] == "succeeded"
    assert [a["outcome"] for a in gateway.execution(first["id"])["attempts"]] == ["failed", "succeeded"]
    assert second["status"] == "failed"
    assert second["error_kind"] == "permanent"
    assert second["error"] == "Slack chat.postMessage refused: channel_not_found"
    assert len(gateway.execution(second["id"])["attempts"]) == 1


def test_a_failed_action_is_named_with_its_reason(make_gateway: MakeHarness, emulators: Trackers) -> None:
    gateway = notify_gateway(make_gateway, emulators, "{channels: [dq-slack, dq-teams]}")
    emulators.snow.users = {}  # the instance refuses the gateway's credentials
    with respx.mock() as chat:
        slack = chat.post(SLACK_WEBHOOK).respond(200, text="ok")
        teams = chat.post(TEAMS_WEBHOOK).respond(200, text="1")
        gateway.post("qualytics", qualytics_delivery(1))
        gateway.drain()
    [failed] = [e for e in gateway.executions(status="failed")]
    assert (failed["action"], failed["target"]) == ("create_ticket", "snow")
    # the flow's channels hear of the refused credentials too (once per target per hour), then the ticket
    texts = [slack_text(posted(slack, index)) for index in range(slack.call_count)]
    [ticket] = [index for index, text in enumerate(texts) if "DQ-1" in text]
    assert texts[1 - ticket].startswith("target snow refused the gateway's credentials\n")
    assert slack.call_count == teams.call_count == 2
    reason = f"create_ticket → snow failed: {failed['error']}"
    assert f":warning: *Needs attention*\n• {reason}" in texts[ticket]
    cards = [posted(teams, index)["attachments"][0]["content"] for index in range(2)]
    [card] = [card for card in cards if "DQ-1" in json.dumps(card)]
    # Teams text is markdown-escaped: the action's underscore and the error's parentheses
    in_markdown = reason.replace("_", "\\_").replace("(", "\\(").replace(")", "\\)")
    assert {"type": "TextBlock", "text": f"⚠ {in_markdown}", "color": "Attention", "wrap": True} in card["body"]
    assert "|Jira " in texts[ticket] and "|ServiceNow " not in texts[ticket]


def test_a_failing_endpoint_fails_only_its_own_execution(make_gateway: MakeHarness, emulators: Trackers) -> None:
    gateway = notify_gateway(make_gateway, emulators, "{channels: [dq-slack, dq-teams]}")
    with respx.mock() as chat:
        slack = chat.post(SLACK_WEBHOOK).respond(500, text="internal_error")
        teams = chat.post(TEAMS_WEBHOOK).respond(404, text="Webhook Bad Request - Null or empty event")
        gateway.post("qualytics", qualytics_delivery(1))
        gateway.drain()
    assert slack.call_count == 4  # the channel default: 4 attempts
    assert teams.call_count == 1  # a 404 is not worth repeating

    creates = [e for e in gateway.executions() if e["action"] == "create_ticket"]
    assert [e["status"] for e in creates] == ["succeeded", "succeeded"]
    ticket = gateway.ticket("DQ-1")
    assert ticket["state"] == "New"
    assert not [e for e in ticket["timeline"] if e["kind"] in ("action_failed", "notified")]

    failed = {e["target"]: e for e in gateway.executions(status="failed")}
    assert set(failed) == {"dq-slack", "dq-teams"}
    assert failed["dq-slack"]["error"] == "Slack webhook answered HTTP 500 (gave up after 4 attempts)"
    assert failed["dq-slack"]["error_kind"] == "transient"
    attempts = gateway.execution(failed["dq-slack"]["id"])["attempts"]
    assert [(a["outcome"], a["error_kind"], a["http_status"]) for a in attempts] == [("failed", "transient", 500)] * 4
    assert failed["dq-teams"]["error"] == "Teams webhook answered HTTP 404: Webhook Bad Request - Null or empty event"
    assert failed["dq-teams"]["error_kind"] == "permanent"
    assert [a["http_status"] for a in gateway.execution(failed["dq-teams"]["id"])["attempts"]] == [404]


def test_a_notification_waits_for_the_flows_ticket_actions(make_gateway: MakeHarness, emulators: Trackers) -> None:
    gateway = notify_gateway(make_gateway, emulators, "{channels: [dq-slack]}")
    emulators.jira.inject(
        Fault(kind="status", status=503, retry_after=60, method="POST", path=r"/issue$")
    )  # longer than the budget
    with respx.mock() as chat:
        slack = chat.post(SLACK_WEBHOOK).respond(200, text="ok")
        gateway.post("qualytics", qualytics_delivery(1))
        gateway.drain()
    [issue] = emulators.issues()
    text = slack_text(posted(slack))
    assert f"Jira {issue['key']} (To Do)" in text
    assert "has not finished" not in text
    [execution] = notify_executions(gateway)
    assert len(gateway.execution(execution["id"])["attempts"]) == 1


def test_past_its_wait_a_notification_says_what_has_not_finished(
    make_gateway: MakeHarness, emulators: Trackers
) -> None:
    gateway = notify_gateway(make_gateway, emulators, "{channels: [dq-slack], wait: 0}")
    emulators.jira.inject(Fault(kind="status", status=503, retry_after=60, method="POST", path=r"/issue$"))
    with respx.mock() as chat:
        slack = chat.post(SLACK_WEBHOOK).respond(200, text="ok")
        gateway.post("qualytics", qualytics_delivery(1))
        gateway.drain()
    text = slack_text(posted(slack))
    assert "create_ticket → jira has not finished yet" in text
    assert "|ServiceNow " in text and "|Jira " not in text


def test_an_action_that_fails_for_good_after_its_notification_is_announced_again(
    make_gateway: MakeHarness, emulators: Trackers
) -> None:
    retry = "    retry: {attempts: 2, initial: 30, max: 60, deadline: 3600}"
    files = chat_files(emulators, notify="{channels: [dq-slack], wait: 0}", channels=CHANNELS, jira_extra=retry)
    gateway = make_gateway(files, env={**TRACKER_ENV, **CHANNEL_ENV})
    emulators.jira.inject(Fault(kind="status", status=503, retry_after=60, count=5, method="POST", path=r"/issue$"))
    with respx.mock() as chat:
        slack = chat.post(SLACK_WEBHOOK).respond(200, text="ok")
        gateway.post("qualytics", qualytics_delivery(1))
        gateway.drain()
    assert slack.call_count == 2
    assert "create_ticket → jira has not finished yet" in slack_text(posted(slack, 0))
    [failed] = gateway.executions(status="failed")
    assert f"create_ticket → jira failed: {failed['error']}" in slack_text(posted(slack, 1))
    assert [e["status"] for e in notify_executions(gateway)] == ["succeeded", "succeeded"]
