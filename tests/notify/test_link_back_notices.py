"""A link-back to the source tool that fails is not a ticket problem: the notification does not list it
under "Needs attention" and the channels are not told again for it (the execution log names it).

Soda's callback is a loopback emulator; Slack is respx.
"""

from __future__ import annotations

import respx

from connectors.emulators.base import EmulatorHTTPServer, Fault
from tests.chatops.support import CHANNEL_ENV, CHANNELS, SLACK_WEBHOOK, Trackers, chat_files
from tests.conftest import TRACKER_ENV, MakeHarness
from tests.ingress.test_soda_link_back import SODA_TOKEN, incident_with_callback, soda
from tests.notify.test_notifications import posted, slack_text

__all__ = ["soda"]  # the fixture, used by name


def test_a_failed_link_back_is_not_announced_as_needing_attention(
    make_gateway: MakeHarness, emulators: Trackers, soda: EmulatorHTTPServer
) -> None:
    soda.emulator.inject(Fault(kind="status", status=404, count=10))
    files = chat_files(emulators, notify="{channels: [dq-slack]}", channels=CHANNELS)
    port = soda.url.rsplit(":", 1)[1]  # loopback over http: open only to an explicit allowlist
    link_back = f'{{hosts: ["127.0.0.1:{port}"], schemes: [http], allow_private: true}}'
    files["sources.yaml"] += f'  soda: {{kind: soda, token: "{SODA_TOKEN}", link_back: {link_back}}}\n'
    files["flows.yaml"] = files["flows.yaml"].replace("source: [qualytics, generic]", "source: [soda]")
    gateway = make_gateway(files, env={**TRACKER_ENV, **CHANNEL_ENV})
    with respx.mock() as chat:
        chat.route(url__startswith=soda.url).pass_through()
        slack = chat.post(SLACK_WEBHOOK).respond(200, text="ok")
        headers = {"authorization": f"Bearer {SODA_TOKEN}"}
        assert gateway.post("soda", incident_with_callback(soda.url), headers=headers).status_code == 202
        gateway.drain()

    assert sorted(e["target"] for e in gateway.executions(action="link_back", status="failed")) == ["jira", "snow"]
    assert slack.call_count == 1  # the ticket, once: no second notification for the link-backs
    text = slack_text(posted(slack))
    assert "DQ-1" in text and "link_back" not in text and "Needs attention" not in text
    failed = [e for e in gateway.ticket("DQ-1")["timeline"] if e["kind"] == "action_failed"]
    assert sorted(e["data"]["action"] for e in failed) == ["link_back", "link_back"]  # still on the record
