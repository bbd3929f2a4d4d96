"""Nothing of a chat request or a channel (signing secret, tokens, webhook URLs, response_url) is logged."""

from __future__ import annotations

import logging

import pytest
import respx

from gateway.notify.post import SLACK_POST_MESSAGE
from tests.chatops.support import (
    BOT_TOKEN,
    RESPONSE_URL,
    SIGNING_SECRET,
    SLACK_WEBHOOK,
    TEAMS_SECRET,
    TEAMS_WEBHOOK,
    Trackers,
    followups,
    notify_gateway,
    slash,
    teams,
)
from tests.conftest import MakeHarness, qualytics_delivery

LEGACY_TOKEN = "gIkuvaNzQIHg97ATvDxqgjtO"  # the verification token inside Slack's sample body
SECRETS = [SIGNING_SECRET, BOT_TOKEN, SLACK_WEBHOOK, TEAMS_WEBHOOK, RESPONSE_URL, TEAMS_SECRET, LEGACY_TOKEN]
FRAGMENTS = ["w3bh00k-s3cret", "r3spons3-url-s3cret", "b0t-t0ken"]


def test_chat_requests_and_notifications_leave_no_secret_in_the_logs(
    make_gateway: MakeHarness, emulators: Trackers, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ["", *logging.root.manager.loggerDict]:  # every logger at DEBUG, whatever it was set to
        caplog.set_level(logging.DEBUG, logger=name)
    gateway = notify_gateway(make_gateway, emulators, "{channels: [dq-slack, dq-bot, dq-teams]}")
    with respx.mock() as chat:
        chat.post(SLACK_WEBHOOK).respond(404, text="no_service")
        chat.post(SLACK_POST_MESSAGE).respond(200, json={"ok": False, "error": "invalid_auth"})
        chat.post(TEAMS_WEBHOOK).respond(500)
        answer_url = chat.post(RESPONSE_URL).respond(500)
        gateway.post("qualytics", qualytics_delivery(1))
        gateway.drain()
        assert slash(gateway, "DQ-1 resolved", secret="forged").status_code == 401
        assert slash(gateway, "DQ-1 in progress").status_code == 200
        assert teams(gateway, "DQ-1", signature="forged").status_code == 401
        gateway.drain()
        followups(gateway)
    assert answer_url.called
    assert {e["status"] for e in gateway.executions() if e["action"] == "notify"} == {"failed"}

    logged = caplog.text
    assert "https://hooks.slack.com/..." in logged  # httpx's request line was logged, cut to the host
    assert "could not post a command's outcome to Slack: Slack response_url answered HTTP 500" in logged
    recorded = gateway.client.get("/v1/executions").text
    for secret in SECRETS + FRAGMENTS:
        assert secret not in logged
        assert secret not in recorded
