"""Shared by the chat-ops and notification tests: signed Slack and Teams requests, and a gateway
whose tickets go to loopback Jira and ServiceNow emulators through the real clients."""

from __future__ import annotations

import base64
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import msgspec
import pytest
import respx
from slack_sdk.signature import SignatureVerifier

from gateway.receive.security import hmac_b64
from tests.conftest import TRACKER_ENV, Harness, MakeHarness, Trackers, qualytics_delivery

SAMPLES = Path(__file__).parent.parent / "data" / "chatops"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAMS_SECRET = base64.b64encode(b"teams-outgoing-webhook-security-token").decode()
RESPONSE_URL = "https://hooks.slack.com/commands/T0001/2233445566/r3spons3-url-s3cret"
SLACK_WEBHOOK = "https://hooks.slack.com/services/T0001/B0002/w3bh00k-s3cret"
TEAMS_WEBHOOK = "https://example.webhook.office.com/webhookb2/teams-w3bh00k-s3cret"
BOT_TOKEN = "xoxb-1234-5678-b0t-t0ken-s3cret"
CHAT_SETTINGS = {"slack_signing_secret": SIGNING_SECRET, "teams_outgoing_secret": TEAMS_SECRET}


# -- requests as Slack and Teams send them --------------------------------------------------
def slack_form(text: str, **fields: str) -> str:
    """Slack's documented slash-command body with this command text, and a trigger_id of its own (as each
    invocation has)."""
    form = dict(parse_qsl((SAMPLES / "slack_slash_command.txt").read_text()))
    form.update(command="/ticket", text=text, response_url=RESPONSE_URL, user_id="U2147483697", user_name="steve")
    form.update(trigger_id=f"13345224609.738474920.{uuid.uuid4().hex}")
    form.update(fields)
    return urlencode(form)


def slash(
    gateway: Harness,
    text: str,
    *,
    secret: str = SIGNING_SECRET,
    age: float = 0.0,
    body: str | None = None,
    **fields: str,
) -> Any:
    """POST a slash command signed with slack_sdk's own signature code, `age` seconds ago."""
    body = slack_form(text, **fields) if body is None else body
    timestamp = str(int(time.time() - age))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": signature,
    }
    return gateway.client.post("/slack/commands", content=body.encode(), headers=headers)


def teams_activity(text: str, name: str = "Tim Jones") -> bytes:
    """Teams' outgoing-webhook activity, the bot @mentioned before the text."""
    activity = msgspec.json.decode((SAMPLES / "teams_outgoing_message.json").read_bytes())
    activity["text"] = f"<at>DQ Gateway</at>&nbsp;{text}\n"
    activity["from"]["name"] = name
    return msgspec.json.encode(activity)


def teams(gateway: Harness, text: str, *, secret: str = TEAMS_SECRET, signature: str | None = None) -> Any:
    body = teams_activity(text)
    signed = hmac_b64(base64.b64decode(secret), body) if signature is None else signature
    headers = {"content-type": "application/json", "authorization": f"HMAC {signed}"}
    return gateway.client.post("/teams/messages", content=body, headers=headers)


def followups(gateway: Harness) -> None:
    """Wait for the Slack outcome posts still running in the background."""
    state = gateway.client.app.state
    if getattr(state, "slack_followups", None) is not None:
        state.slack_followups.join(timeout=30)


def ticket_state(gateway: Harness) -> tuple[str, int]:
    """What a refused command must leave alone: the state and the number of executions."""
    return gateway.ticket("DQ-1")["state"], len(gateway.executions())


# -- Jira and ServiceNow on loopback (the shared `trackers` fixture of tests/conftest.py) --------
def chat_files(
    trackers: Trackers, *, notify: str = "", channels: str = "", chatops: str = "", jira_extra: str = ""
) -> dict[str, str]:
    """The trackers' mappings; `notify` ends both flows when given, plus channel and chat-ops files."""
    files = trackers.mappings(jira_extra=jira_extra)
    if notify:
        action = f"      - notify: {notify}\n"
        flows = files["flows.yaml"].replace(
            "  - name: follow-anomaly-status", f"{action}  - name: follow-anomaly-status"
        )
        files["flows.yaml"] = flows.rstrip("\n") + f"\n{action}"
    if channels:
        files["channels.yaml"] = channels
    if chatops:
        files["chatops.yaml"] = chatops
    return files


@pytest.fixture
def emulators(trackers: Trackers) -> Trackers:
    return trackers


def tracker_gateway(
    make_gateway: MakeHarness, trackers: Trackers, env: dict[str, str] | None = None, **files: str
) -> Harness:
    """A gateway with chat-ops secrets set, tickets to both emulators."""
    return make_gateway(chat_files(trackers, **files), env={**TRACKER_ENV, **(env or {})}, **CHAT_SETTINGS)


CHANNELS = """
channels:
  dq-slack: {kind: slack, webhook_url: "${SLACK_WEBHOOK_URL}"}
  dq-bot: {kind: slack, bot_token: "${SLACK_BOT_TOKEN}", channel: "#dq-alerts"}
  dq-teams: {kind: teams, webhook_url: "${TEAMS_WEBHOOK_URL}"}
"""
CHANNEL_ENV = {"SLACK_WEBHOOK_URL": SLACK_WEBHOOK, "SLACK_BOT_TOKEN": BOT_TOKEN, "TEAMS_WEBHOOK_URL": TEAMS_WEBHOOK}


def notify_gateway(
    make_gateway: MakeHarness, trackers: Trackers, notify: str, env: dict[str, str] | None = None
) -> Harness:
    """Tickets to jira + snow, and `notify: <notify>` at the end of both flows."""
    return tracker_gateway(make_gateway, trackers, env={**CHANNEL_ENV, **(env or {})}, notify=notify, channels=CHANNELS)


def taken_from_slack(make_gateway: MakeHarness, trackers: Trackers, chatops: str) -> tuple[Harness, str]:
    """DQ-1 opened in both trackers, then taken from Slack (`/ticket DQ-1 in progress`): the gateway and the answer."""
    gateway = tracker_gateway(make_gateway, trackers, chatops=chatops)
    gateway.post("qualytics", qualytics_delivery(1))
    gateway.drain()
    with respx.mock() as slack:
        slack.post(RESPONSE_URL).respond(200)
        answer: str = slash(gateway, "DQ-1 in progress").json()["text"]
        gateway.drain()
        followups(gateway)
    return gateway, answer
