"""Shared by the chat-ops and notification tests: signed Slack and Teams requests, and a gateway
whose tickets go to loopback Jira and ServiceNow emulators through the real clients."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import msgspec
import pytest
from slack_sdk.signature import SignatureVerifier

from connectors.emulators.base import EmulatorHTTPServer
from connectors.emulators.jira import JiraEmulator, sandbox
from connectors.emulators.servicenow import DEFAULT_USERS, ServiceNowEmulator
from connectors.jira import clear_caches
from gateway.security import hmac_b64
from tests.conftest import LOCAL_MAPPINGS, Harness, MakeHarness

SAMPLES = Path(__file__).parent.parent / "data" / "chatops"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAMS_SECRET = base64.b64encode(b"teams-outgoing-webhook-security-token").decode()
RESPONSE_URL = "https://hooks.slack.com/commands/T0001/2233445566/r3spons3-url-s3cret"
SLACK_WEBHOOK = "https://hooks.slack.com/services/T0001/B0002/w3bh00k-s3cret"
TEAMS_WEBHOOK = "https://example.webhook.office.com/webhookb2/teams-w3bh00k-s3cret"
BOT_TOKEN = "xoxb-1234-5678-b0t-t0ken-s3cret"
JIRA_TOKEN = "jira-api-t0ken"
SNOW_PASSWORD = "sandbox-password"
CHAT_SETTINGS = {"slack_signing_secret": SIGNING_SECRET, "teams_outgoing_secret": TEAMS_SECRET}
TRACKER_ENV = {"JIRA_API_TOKEN": JIRA_TOKEN, "SERVICENOW_PASSWORD": SNOW_PASSWORD}


# -- requests as Slack and Teams send them --------------------------------------------------
def slack_form(text: str, **fields: str) -> str:
    """Slack's documented slash-command body with this command text."""
    form = dict(parse_qsl((SAMPLES / "slack_slash_command.txt").read_text()))
    form.update(command="/ticket", text=text, response_url=RESPONSE_URL, user_id="U2147483697", user_name="steve")
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


# -- Jira and ServiceNow on loopback ---------------------------------------------------------
class Trackers:
    def __init__(self, jira: EmulatorHTTPServer, snow: EmulatorHTTPServer) -> None:
        self.jira_server, self.snow_server = jira, snow

    @property
    def jira(self) -> JiraEmulator:
        emulator = self.jira_server.emulator
        assert isinstance(emulator, JiraEmulator)
        return emulator

    @property
    def snow(self) -> ServiceNowEmulator:
        emulator = self.snow_server.emulator
        assert isinstance(emulator, ServiceNowEmulator)
        return emulator

    def issues(self) -> list[dict[str, Any]]:
        return list(self.jira.state()["issues"])

    def incidents(self) -> list[dict[str, Any]]:
        return self.snow.incidents()

    def files(self, *, notify: str = "", channels: str = "", chatops: str = "") -> dict[str, str]:
        """The spine's sources and flows with tickets to jira + snow; `notify` ends both flows when given."""
        targets = f"""
targets:
  jira:
    kind: jira
    url: "{self.jira_server.url}"
    user: sandbox
    token: "${{JIRA_API_TOKEN}}"
    project: DQ
    fields: {{urgency: customfield_10101, impact: customfield_10102, category: components,
             subcategory: customfield_10104, assignment_group: customfield_10103}}
    timeout: 2
  snow:
    kind: servicenow
    url: "{self.snow_server.url}"
    user: sandbox
    password: "${{SERVICENOW_PASSWORD}}"
    caller: dq.gateway
    close_code: "Solution provided"
    close_notes: "Resolved in {{{{ event.source }}}}"
    timeout: 2
"""
        flows = LOCAL_MAPPINGS["flows.yaml"].replace("targets: [mirror]", "targets: [jira, snow]")
        flows = flows.replace(
            '          assigned_to: ""',
            '          assigned_to: ""\n          per_target: {snow: {category: data_quality}}',
        )
        if notify:
            action = f"      - notify: {notify}\n"
            flows = flows.replace("  - name: follow-anomaly-status", f"{action}  - name: follow-anomaly-status")
            flows = flows.rstrip("\n") + f"\n{action}"
        files = {"sources.yaml": LOCAL_MAPPINGS["sources.yaml"], "targets.yaml": targets, "flows.yaml": flows}
        if channels:
            files["channels.yaml"] = channels
        if chatops:
            files["chatops.yaml"] = chatops
        return files


@pytest.fixture(scope="session")
def tracker_emulators() -> Iterator[tuple[EmulatorHTTPServer, EmulatorHTTPServer]]:
    jira = EmulatorHTTPServer(sandbox({"sandbox": JIRA_TOKEN}), "127.0.0.1", 0).start()
    snow = EmulatorHTTPServer(ServiceNowEmulator(), "127.0.0.1", 0).start()
    yield jira, snow
    jira.stop()
    snow.stop()


@pytest.fixture
def emulators(tracker_emulators: tuple[EmulatorHTTPServer, EmulatorHTTPServer]) -> Trackers:
    jira, snow = tracker_emulators
    jira.emulator.reset()
    snow.emulator.reset()
    jira.emulator.users, jira.emulator.tokens = {"sandbox": JIRA_TOKEN}, {JIRA_TOKEN}
    snow.emulator.users = dict(DEFAULT_USERS)
    clear_caches()
    return Trackers(jira, snow)


def tracker_gateway(
    make_gateway: MakeHarness, trackers: Trackers, env: dict[str, str] | None = None, **files: str
) -> Harness:
    """A gateway with chat-ops secrets set, tickets to both emulators."""
    return make_gateway(trackers.files(**files), env={**TRACKER_ENV, **(env or {})}, **CHAT_SETTINGS)


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
