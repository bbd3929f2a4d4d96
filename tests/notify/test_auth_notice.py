"""A target refusing the gateway's credentials is told to the channels once per target per hour."""

from __future__ import annotations

import time

from connectors.emulators.base import EmulatorHTTPServer
from gateway.record.mirror import Mirror
from tests.chatops.support import Trackers, chat_files
from tests.conftest import TRACKER_ENV, MakeHarness, qualytics_delivery
from tests.notify.test_email_pagerduty import ROUTING_KEY, Inbox, channels, events, pagerduty, smtp

__all__ = ["pagerduty", "smtp"]  # the fixtures, used by name

EXPIRED = "expired-tok-0451"


def test_an_expired_token_notifies_each_channel_once_per_target_per_hour(
    make_gateway: MakeHarness, emulators: Trackers, smtp: tuple[Inbox, int], pagerduty: EmulatorHTTPServer
) -> None:
    inbox, port = smtp
    files = chat_files(emulators, channels=channels(port, pagerduty.url))  # no flow notifies: only the notice
    env = {**TRACKER_ENV, "JIRA_API_TOKEN": EXPIRED, "PAGERDUTY_ROUTING_KEY": ROUTING_KEY, "SMTP_PASSWORD": "pw"}
    gateway = make_gateway(files, env=env)
    for anomaly in (1, 2, 3):
        assert gateway.post("qualytics", qualytics_delivery(anomaly)).status_code == 202
        gateway.drain()

    failed = gateway.executions(status="failed")
    assert [(e["target"], e["error_kind"]) for e in failed] == [("jira", "auth")] * 3
    [mail] = inbox.messages
    assert mail["Subject"] == "target jira refused the gateway's credentials"
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert (
        "check that the user and token (or password) under targets.jira are still valid" in text and "0451" not in text
    )
    [page] = events(pagerduty)
    assert page["payload"]["summary"] == "target jira refused the gateway's credentials"
    ready = gateway.client.get("/readyz").json()
    assert ready["targets"] == {"jira": "credentials refused (HTTP 401)", "snow": "ok"}
    assert ready["degraded"] == ["target jira"]

    # another process (its own connection to the same database) that fails now does not notify either
    other = Mirror(gateway.settings.database_url, migrate=False)
    try:
        with other.transaction() as tx:
            assert not other.claim_notice(tx, "jira", "auth", time.time(), 3600)
            assert other.claim_notice(tx, "snow", "auth", time.time(), 3600)  # per target
            assert other.resolve_notice(tx, "snow", "auth")  # (nothing was sent for it: no "again" notice)
    finally:
        other.close()

    with gateway.runtime.mirror.transaction() as tx:  # an hour passes
        tx.execute("UPDATE target_notices SET notified_at = notified_at - 3601 WHERE target = 'jira'")
    assert gateway.post("qualytics", qualytics_delivery(4)).status_code == 202
    gateway.drain()
    assert len(gateway.executions(status="failed")) == 4
    assert [m["Subject"] for m in inbox.messages] == ["target jira refused the gateway's credentials"] * 2
    # the hourly notices update one PagerDuty alert for the target rather than opening one each
    assert [page["dedup_key"] for page in events(pagerduty)] == ["dq-gateway/auth/jira"] * 2
    assert list(pagerduty.emulator.alerts) == ["dq-gateway/auth/jira"]
    assert pagerduty.emulator.alerts["dq-gateway/auth/jira"]["events"] == 2
    notices = [e for e in gateway.executions(action="notify")]
    assert sorted(e["target"] for e in notices) == ["oncall", "oncall", "ops-mail", "ops-mail"]
    assert {e["status"] for e in notices} == {"succeeded"}


def test_once_the_credentials_work_again_the_channels_are_told_and_the_alert_resolves(
    make_gateway: MakeHarness, emulators: Trackers, smtp: tuple[Inbox, int], pagerduty: EmulatorHTTPServer
) -> None:
    inbox, port = smtp
    files = chat_files(emulators, channels=channels(port, pagerduty.url))
    env = {**TRACKER_ENV, "JIRA_API_TOKEN": EXPIRED, "PAGERDUTY_ROUTING_KEY": ROUTING_KEY, "SMTP_PASSWORD": "pw"}
    gateway = make_gateway(files, env=env)
    for anomaly in (1, 2):
        assert gateway.post("qualytics", qualytics_delivery(anomaly)).status_code == 202
        gateway.drain()
    assert pagerduty.emulator.alerts["dq-gateway/auth/jira"]["status"] == "triggered"

    emulators.jira.users["sandbox"] = EXPIRED  # the token is valid again (renewed on Jira's side)
    retried = gateway.client.post("/v1/executions/retry", params={"target": "jira", "error_kind": "auth"})
    assert retried.status_code == 202
    gateway.drain()

    assert [sorted(link["target"] for link in t["links"]) for t in gateway.tickets()] == [["jira", "snow"]] * 2
    assert not gateway.executions(status="failed")
    subjects = [m["Subject"] for m in inbox.messages]
    assert subjects == [
        "target jira refused the gateway's credentials",
        "target jira accepts the gateway's credentials again",
    ]
    text = inbox.messages[1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "create_ticket succeeded on jira" in text and EXPIRED not in text
    assert [page["event_action"] for page in events(pagerduty)] == ["trigger", "resolve"]
    assert pagerduty.emulator.alerts["dq-gateway/auth/jira"]["status"] == "resolved"

    # told once, however many actions succeed; a later refusal is news again at once
    emulators.jira.users["sandbox"] = "another-token"
    assert gateway.post("qualytics", qualytics_delivery(3)).status_code == 202
    gateway.drain()
    assert [m["Subject"] for m in inbox.messages][2:] == ["target jira refused the gateway's credentials"]
    assert [page["event_action"] for page in events(pagerduty)] == ["trigger", "resolve", "trigger"]
