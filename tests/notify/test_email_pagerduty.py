"""E-mail and PagerDuty channels: a real SMTP server on loopback (aiosmtpd) and a loopback Events API v2."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import msgspec
import pytest
from aiosmtpd.controller import Controller

from connectors.emulators.base import EmulatorHTTPServer, Fault
from connectors.emulators.pagerduty import PagerDutyEmulator
from gateway.core.mail import send_mail
from gateway.core.outbound import PermanentError, RetryableError
from gateway.notify.messages import Message
from gateway.notify.post import deliver
from gateway.rules.channels import ChannelConfig, PagerDutyChannel
from tests.chatops.support import Trackers, chat_files
from tests.conftest import TRACKER_ENV, Harness, MakeHarness, qualytics_delivery

ROUTING_KEY = "R0ut1ngKeyR0ut1ngKeyR0ut1ngKey12"


class Inbox:
    """An aiosmtpd handler keeping what it received; `refuse` answers every RCPT with that reply."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse: str | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def pagerduty() -> Iterator[EmulatorHTTPServer]:
    server = EmulatorHTTPServer(PagerDutyEmulator()).start()
    yield server
    server.stop()


def channels(smtp_port: int, pagerduty_url: str) -> str:
    return f"""
channels:
  ops-mail:
    kind: email
    smtp: {{host: 127.0.0.1, port: {smtp_port}, starttls: false, password: "${{SMTP_PASSWORD}}"}}
    from: dq-gateway@example.com
    to: [oncall@example.com, data-team@example.com]
  oncall:
    kind: pagerduty
    routing_key: "${{PAGERDUTY_ROUTING_KEY}}"
    url: "{pagerduty_url}/v2/enqueue"
"""


def channel_gateway(make_gateway: MakeHarness, trackers: Trackers, notify: str, smtp_port: int, pd_url: str) -> Harness:
    files = chat_files(trackers, notify=notify, channels=channels(smtp_port, pd_url))
    env = {**TRACKER_ENV, "PAGERDUTY_ROUTING_KEY": ROUTING_KEY, "SMTP_PASSWORD": "smtp-pa55word"}
    return make_gateway(files, env=env)


def notifies(gateway: Harness) -> list[dict[str, Any]]:
    return sorted((e for e in gateway.executions() if e["action"] == "notify"), key=lambda e: e["created_at"])


def events(server: EmulatorHTTPServer) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = server.emulator.events
    return found


def test_an_email_carries_the_ticket_number_in_its_subject_as_text_and_escaped_html(
    make_gateway: MakeHarness, emulators: Trackers, smtp: tuple[Inbox, int], pagerduty: EmulatorHTTPServer
) -> None:
    inbox, port = smtp
    gateway = channel_gateway(make_gateway, emulators, "{channels: [ops-mail]}", port, pagerduty.url)
    gateway.post("qualytics", qualytics_delivery(1, severity="high", container="<img src=x>"))
    gateway.drain()

    [mail] = inbox.messages
    assert inbox.envelopes == [("dq-gateway@example.com", ["oncall@example.com", "data-team@example.com"])]
    assert mail["Subject"] == "DQ-1: Amount Range Check failed on <img src=x>"
    assert (mail["From"], mail["To"]) == ("dq-gateway@example.com", "oncall@example.com, data-team@example.com")
    [issue], [incident] = emulators.issues(), emulators.incidents()
    links = {link["target"]: link["url"] for link in gateway.ticket("DQ-1")["links"]}
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    assert "State: New\nPriority: High" in text
    assert f"Jira {issue['key']} (To Do): {links['jira']}" in text
    assert f"ServiceNow {incident['number']} (New): {links['snow']}" in text
    assert text.endswith("\n\nflow open-dq-ticket · qualytics anomaly 1\n")
    page = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<h2>DQ-1: Amount Range Check failed on &lt;img src=x&gt;</h2>" in page
    assert "<img" not in page
    assert f'<a href="{links["jira"]}">Jira {issue["key"]} (To Do)</a>' in page

    [execution] = notifies(gateway)
    assert execution["status"] == "succeeded" and execution["result"]["via"] == "email to 2 recipient(s)"
    assert [e["data"]["channel"] for e in gateway.ticket("DQ-1")["timeline"] if e["kind"] == "notified"] == ["ops-mail"]
    assert {"smtp-pa55word", ROUTING_KEY} <= gateway.runtime.mappings.secrets()


def test_pagerduty_is_triggered_then_resolved_with_one_dedup_key(
    make_gateway: MakeHarness, emulators: Trackers, smtp: tuple[Inbox, int], pagerduty: EmulatorHTTPServer
) -> None:
    gateway = channel_gateway(make_gateway, emulators, "{channels: [oncall]}", smtp[1], pagerduty.url)
    gateway.post("qualytics", qualytics_delivery(1, severity="critical"))
    gateway.drain()
    [trigger] = events(pagerduty)
    assert trigger["event_action"] == "trigger" and trigger["dedup_key"] == "qualytics:1"
    assert trigger["routing_key"] == ROUTING_KEY
    assert trigger["payload"]["summary"] == "DQ-1: Amount Range Check failed on orders"
    assert trigger["payload"]["severity"] == "critical"
    links = {link["target"]: link["url"] for link in gateway.ticket("DQ-1")["links"]}
    assert {link["href"] for link in trigger["links"]} >= {links["jira"], links["snow"]}
    assert pagerduty.emulator.alerts["qualytics:1"]["status"] == "triggered"

    gateway.post("qualytics", qualytics_delivery(1, trigger="Anomaly Status Change", status="Resolved"))
    gateway.drain()
    assert [(e["event_action"], e["dedup_key"]) for e in events(pagerduty)] == [
        ("trigger", "qualytics:1"),
        ("resolve", "qualytics:1"),
    ]
    assert pagerduty.emulator.alerts["qualytics:1"]["status"] == "resolved"
    assert [e["result"]["via"] for e in notifies(gateway)] == ["pagerduty trigger", "pagerduty resolve"]


def test_a_person_resolving_the_ticket_resolves_its_page(
    make_gateway: MakeHarness, emulators: Trackers, smtp: tuple[Inbox, int], pagerduty: EmulatorHTTPServer
) -> None:
    gateway = channel_gateway(make_gateway, emulators, "{channels: [oncall]}", smtp[1], pagerduty.url)
    gateway.post("qualytics", qualytics_delivery(1, severity="medium"))
    gateway.drain()
    assert [e["payload"]["severity"] for e in events(pagerduty)] == ["warning"]
    moved = gateway.client.post("/v1/tickets/DQ-1/status", json={"status": "Resolved", "note": "fixed upstream"})
    assert moved.status_code == 202
    gateway.drain()
    assert [(e["event_action"], e["dedup_key"]) for e in events(pagerduty)] == [
        ("trigger", "qualytics:1"),
        ("resolve", "qualytics:1"),
    ]
    assert pagerduty.emulator.alerts["qualytics:1"]["status"] == "resolved"


def test_an_unreachable_smtp_server_and_a_throttling_pagerduty_fail_only_their_notifications(
    make_gateway: MakeHarness, emulators: Trackers, pagerduty: EmulatorHTTPServer
) -> None:
    closed = free_port()  # nothing listens there
    gateway = channel_gateway(make_gateway, emulators, "{channels: [ops-mail, oncall]}", closed, pagerduty.url)
    pagerduty.emulator.inject(Fault(kind="status", status=429, count=10, path=r"/v2/enqueue$"))
    gateway.post("qualytics", qualytics_delivery(1))
    gateway.drain()

    failed = {e["target"]: e for e in gateway.executions(status="failed")}
    assert set(failed) == {"ops-mail", "oncall"}
    assert failed["ops-mail"]["error"] == (
        f"SMTP server 127.0.0.1:{closed} could not be reached (ConnectionRefusedError) (gave up after 4 attempts)"
    )
    assert failed["oncall"]["error"] == "PagerDuty Events API answered HTTP 429 (gave up after 4 attempts)"
    for name, status in (("ops-mail", None), ("oncall", 429)):
        attempts = gateway.execution(failed[name]["id"])["attempts"]
        assert [(a["outcome"], a["error_kind"], a["http_status"]) for a in attempts] == [
            ("failed", "transient", status)
        ] * 4
    assert events(pagerduty) == []

    ticket = gateway.ticket("DQ-1")
    assert ticket["state"] == "New" and len(ticket["links"]) == 2
    assert [e["status"] for e in gateway.executions(action="create_ticket")] == ["succeeded", "succeeded"]
    assert not [e for e in ticket["timeline"] if e["kind"] in ("notified", "action_failed")]


def test_a_pagerduty_refusal_names_its_error_and_is_not_retried(pagerduty: EmulatorHTTPServer) -> None:
    channel = PagerDutyChannel(routing_key=ROUTING_KEY, url=f"{pagerduty.url}/v2/enqueue")
    with pytest.raises(PermanentError) as refused:
        deliver(channel, Message(title="", dedup_key="qualytics:1", state="New"))
    assert refused.value.http_status == 400
    assert refused.value.message == (
        "PagerDuty Events API answered HTTP 400: Event object is invalid ('payload.summary' is missing or blank)"
    )
    assert len(pagerduty.emulator.log) == 1


def test_channel_settings_are_checked_at_load() -> None:
    with pytest.raises(msgspec.ValidationError, match="routing_key must be the 32-character integration key"):
        msgspec.convert({"kind": "pagerduty", "routing_key": "short"}, ChannelConfig)
    with pytest.raises(msgspec.ValidationError, match="'nobody' is not an e-mail address"):
        msgspec.convert({"kind": "email", "smtp": {"host": "h"}, "from": "a@b.c", "to": ["nobody"]}, ChannelConfig)
    with pytest.raises(msgspec.ValidationError, match="Invalid value 'fax'"):
        msgspec.convert({"kind": "fax"}, ChannelConfig)


@pytest.mark.parametrize(
    ("reply", "error"),
    [("550 5.1.1 Mailbox unavailable", PermanentError), ("451 4.3.0 Try again later", RetryableError)],
)
def test_smtp_replies_5xx_are_permanent_4xx_retryable(smtp: tuple[Inbox, int], reply: str, error: type) -> None:
    inbox, port = smtp
    inbox.refuse = reply
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"] = "DQ-1", "a@example.com", "b@example.com"
    mail.set_content("x")
    with pytest.raises(error) as raised:
        send_mail(mail, host="127.0.0.1", port=port, starttls=False, user="", password="", timeout=5)
    assert type(raised.value) is error
    assert raised.value.message == f"SMTP server refused the recipients (b@example.com: {reply[:3]})"
    assert inbox.messages == []
