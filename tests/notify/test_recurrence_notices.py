"""An anomaly recurring on its open ticket, or another joining its group's open ticket, tells each channel at
most once an hour: the trackers get every one as a comment, people are not paged again as if it were new.

E-mail to a loopback SMTP server; PagerDuty to its loopback emulator.
"""

from __future__ import annotations

from connectors.emulators.base import EmulatorHTTPServer
from tests.chatops.support import Trackers, chat_files
from tests.conftest import TRACKER_ENV, Harness, MakeHarness, qualytics_delivery
from tests.notify.test_email_pagerduty import (
    ROUTING_KEY,
    Inbox,
    channel_gateway,
    channels,
    events,
    notifies,
    pagerduty,
    smtp,
)
from tests.spine.test_grouping import grouped

__all__ = ["pagerduty", "smtp"]  # the fixtures, used by name


def post_at(gateway: Harness, timestamp: str, anomaly: int = 1, **delivery: str) -> None:
    """The anomaly's delivery made at `timestamp`, accepted and worked off."""
    assert gateway.post("qualytics", qualytics_delivery(anomaly, timestamp=timestamp, **delivery)).is_success
    gateway.drain()


def told_once_then_quiet(gateway: Harness, inbox: Inbox, pagerduty: EmulatorHTTPServer, reason: str) -> None:
    """Only the opening reached each channel; the two later deliveries were skipped for both, saying `reason`."""
    assert len(inbox.messages) == 1 and len(events(pagerduty)) == 1  # the opening only
    quiet = [e for e in notifies(gateway) if e["status"] == "skipped"]
    assert sorted(e["target"] for e in quiet) == ["oncall", "oncall", "ops-mail", "ops-mail"]
    assert quiet[-1]["error"].startswith(reason)
    assert "was told about DQ-1 within the hour" in quiet[-1]["error"]


def an_hour_passes(gateway: Harness) -> None:
    with gateway.runtime.mirror.transaction() as tx:
        tx.execute("UPDATE executions SET created_at = created_at - 3601 WHERE action = 'notify'")


def test_a_recurrence_notifies_each_channel_at_most_once_an_hour(
    make_gateway: MakeHarness, emulators: Trackers, smtp: tuple[Inbox, int], pagerduty: EmulatorHTTPServer
) -> None:
    inbox, port = smtp
    gateway = channel_gateway(make_gateway, emulators, "{channels: [ops-mail, oncall]}", port, pagerduty.url)
    post_at(gateway, "2026-01-25T12:00:00Z")
    for minute in ("05", "10"):  # the same anomaly again, while its ticket is open
        post_at(gateway, f"2026-01-25T12:{minute}:00Z")

    ticket = gateway.ticket("DQ-1")
    assert ticket["occurrences"] == 3 and ticket["state"] == "New"
    told_once_then_quiet(gateway, inbox, pagerduty, "the anomaly occurred again (occurrence 3);")
    comments = gateway.executions(action="comment")  # the trackers still hear of every recurrence
    assert {e["target"] for e in comments} == {"jira", "snow"}

    an_hour_passes(gateway)
    post_at(gateway, "2026-01-25T13:10:00Z")
    post_at(gateway, "2026-01-25T13:15:00Z")

    assert len(inbox.messages) == 2
    text = inbox.messages[1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "the anomaly occurred again (occurrence 4)" in text
    pages = events(pagerduty)
    assert [page["dedup_key"] for page in pages] == ["qualytics:1"] * 2  # folded into the one alert
    assert "occurrence 4" in pages[1]["payload"]["custom_details"]["Context"]
    assert pagerduty.emulator.alerts["qualytics:1"]["events"] == 2
    assert [e["status"] for e in notifies(gateway)][-2:] == ["skipped", "skipped"]  # occurrence 5: within the hour


def test_a_recurrence_that_reopens_a_resolved_ticket_is_told_at_once(
    make_gateway: MakeHarness, emulators: Trackers, smtp: tuple[Inbox, int], pagerduty: EmulatorHTTPServer
) -> None:
    inbox, port = smtp
    gateway = channel_gateway(make_gateway, emulators, "{channels: [ops-mail]}", port, pagerduty.url)
    post_at(gateway, "2026-01-25T12:00:00Z")
    post_at(gateway, "2026-01-25T12:05:00Z", trigger="Anomaly Status Change", status="Resolved")
    post_at(gateway, "2026-01-25T12:10:00Z")  # back within the reopen window

    assert gateway.ticket("DQ-1")["state"] == "In Progress"
    texts = [m.get_body(("plain",)).get_content() for m in inbox.messages]  # type: ignore[union-attr]
    assert len(texts) == 3 and "State: In Progress" in texts[-1]


def test_anomalies_joining_a_grouped_ticket_notify_each_channel_at_most_once_an_hour(
    make_gateway: MakeHarness, emulators: Trackers, smtp: tuple[Inbox, int], pagerduty: EmulatorHTTPServer
) -> None:
    inbox, port = smtp
    files = chat_files(emulators, notify="{channels: [ops-mail, oncall]}", channels=channels(port, pagerduty.url))
    env = {**TRACKER_ENV, "PAGERDUTY_ROUTING_KEY": ROUTING_KEY, "SMTP_PASSWORD": "smtp-pa55word"}
    gateway = make_gateway(grouped(files), env=env)
    post_at(gateway, "2026-01-25T12:00:00Z", anomaly=1)
    for anomaly in (2, 3):  # the same table: they join the open ticket
        post_at(gateway, "2026-01-25T12:05:00Z", anomaly=anomaly)

    [ticket] = gateway.tickets()
    assert [a["anomaly_id"] for a in ticket["anomalies"]] == ["1", "2", "3"]
    told_once_then_quiet(gateway, inbox, pagerduty, "anomaly qualytics:3 joined DQ-1; ")

    an_hour_passes(gateway)
    post_at(gateway, "2026-01-25T13:10:00Z", anomaly=4)

    assert len(inbox.messages) == 2
    text = inbox.messages[1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "qualytics anomaly 4" in text and "joined the open ticket DQ-1" in text
    pages = events(pagerduty)
    assert len(pages) == 2 and pages[0]["dedup_key"] == pages[1]["dedup_key"]  # the ticket's one alert
