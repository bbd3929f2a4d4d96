"""Ticket-event notifications say what changed: the move and who made it, the new assignee, the comment.

Slack and Teams through respx; e-mail to a loopback SMTP server; PagerDuty to its loopback emulator.
"""

from __future__ import annotations

from typing import Any

import respx

from connectors.emulators.base import EmulatorHTTPServer
from gateway.notify.markup import slack_payload
from gateway.notify.messages import Message
from tests.chatops.support import (
    CHANNEL_ENV,
    CHANNELS,
    RESPONSE_URL,
    SLACK_WEBHOOK,
    TEAMS_WEBHOOK,
    Trackers,
    followups,
    slash,
    tracker_gateway,
)
from tests.conftest import MakeHarness, qualytics_delivery
from tests.notify.test_email_pagerduty import ROUTING_KEY, Inbox, channels, events, pagerduty, smtp
from tests.notify.test_notifications import posted, slack_text

__all__ = ["pagerduty", "smtp"]  # the fixtures, used by name

EVERY = "{channels: [dq-slack, dq-teams, ops-mail, oncall]}"
FLOWS = f"""
chatops:
  users: {{U2147483697: {{jira: bob, snow: alice}}}}
flows:
  - {{name: tell-moves, trigger: {{type: ticket_status_changed}}, actions: [{{notify: {EVERY}}}]}}
  - {{name: tell-assignments, trigger: {{type: ticket_assigned}}, actions: [{{notify: {EVERY}}}]}}
  - {{name: tell-comments, trigger: {{type: ticket_comment_added}}, actions: [{{notify: {EVERY}}}]}}
"""
# markup of every channel, a mention, and more than a notification quotes
COMMENT = "<!channel> *late* see <https://evil.example|here> & [x](https://evil.example) " + "y" * 600


def card_facts(payload: dict[str, Any]) -> dict[str, str]:
    [fact_set] = [b for b in payload["attachments"][0]["content"]["body"] if b["type"] == "FactSet"]
    return {fact["title"]: fact["value"] for fact in fact_set["facts"]}


def test_a_move_an_assignment_and_a_comment_are_each_said_escaped_per_channel(
    make_gateway: MakeHarness, emulators: Trackers, smtp: tuple[Inbox, int], pagerduty: EmulatorHTTPServer
) -> None:
    inbox, port = smtp
    every_channel = CHANNELS + channels(port, pagerduty.url).split("channels:\n", 1)[1]
    env = {**CHANNEL_ENV, "PAGERDUTY_ROUTING_KEY": ROUTING_KEY, "SMTP_PASSWORD": "smtp-pa55word"}
    gateway = tracker_gateway(make_gateway, emulators, env=env, chatops=FLOWS, channels=every_channel)
    gateway.post("qualytics", qualytics_delivery(1))
    gateway.drain()
    with respx.mock() as chat:
        chat.post(RESPONSE_URL).respond(200)
        chat.route(url__startswith=pagerduty.url).pass_through()  # the emulator answers for PagerDuty
        slack = chat.post(SLACK_WEBHOOK).respond(200, text="ok")
        teams = chat.post(TEAMS_WEBHOOK).respond(202)
        slash(gateway, "DQ-1 in progress")  # moves it and gives it to the caller
        gateway.drain()
        followups(gateway)
        headers = {"x-gateway-actor": "alice"}
        assert gateway.client.post("/v1/tickets/DQ-1/comments", json={"text": COMMENT}, headers=headers).is_success
        gateway.drain()

    assert slack.call_count == teams.call_count == len(inbox.messages) == len(events(pagerduty)) == 3
    said = [slack_text(posted(slack, index)) for index in range(3)]
    [moved] = [text for text in said if "*Change*\nNew → In Progress by slack:steve" in text]
    assert "*State*\nIn Progress" in moved
    assert any("*Change*\nassigned to slack:steve by slack:steve" in text for text in said)
    [commented] = [text for text in said if "*Change*\ncomment by alice" in text]
    quoted = "*Comment*\n&lt;!channel&gt; *late* see &lt;https://evil.example|here&gt; &amp; [x](https://evil.example)"
    assert quoted in commented and "<!channel>" not in commented and "<https://evil" not in commented
    assert commented.count("y") < 510 and "y…" in commented  # clipped at 500 characters

    cards = [card_facts(posted(teams, index)) for index in range(3)]
    [card] = [facts for facts in cards if facts["Change"] == "comment by alice"]
    assert card["Comment"].startswith(r"\<\!channel\> \*late\* see \<https://evil.example\|here\> & \[x\]\(https")

    mails = {m.get_body(("plain",)).get_content(): m for m in inbox.messages}  # type: ignore[union-attr]
    [mail] = [m for text, m in mails.items() if "Change: comment by alice" in text]
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "&lt;!channel&gt; *late* see &lt;https://evil.example|here&gt; &amp;" in html
    assert "<https://evil" not in html and '<a href="https://evil' not in html
    assert any("Change: New → In Progress by slack:steve" in text for text in mails)

    pages = events(pagerduty)
    assert {page["dedup_key"] for page in pages} == {"qualytics:1"}
    details = [page["payload"]["custom_details"] for page in pages]
    [page] = [d for d in details if d["Change"] == "comment by alice"]
    assert page["Comment"].startswith(COMMENT[:80]) and len(page["Comment"]) == 500
    moves = {"New → In Progress by slack:steve", "assigned to slack:steve by slack:steve", "comment by alice"}
    assert {d["Change"] for d in details} == moves


def test_a_slack_field_stays_within_slacks_limit_however_much_escaping_grows_it() -> None:
    message = Message(title="DQ-1: t", facts=[("Comment", "<&>" * 166)])  # 498 characters, 2,490 escaped
    [field] = slack_payload(message)["blocks"][1]["fields"]
    assert len(field["text"]) == 2000 and field["text"].startswith("*Comment*\n&lt;&amp;&gt;")
