"""Ticket-event flows see where a change came from: people's tickets fire ticket_opened, and a move
through the API is `api` whoever it names (a flow filtering on origin must not miss it)."""

from __future__ import annotations

import json

from tests.chatops.support import tracker_gateway
from tests.conftest import MakeHarness, Trackers
from tests.people.test_user_tickets import CATALOG, open_ticket
from tests.receiver import Receiver


def announcing(url: str) -> str:
    body = (
        '{"kind": {{ change.kind | tojson }}, "origin": {{ change.origin | tojson }},'
        ' "number": {{ ticket.number | tojson }}}'
    )
    return f"""
flows:
  - name: announce-opened
    trigger: {{type: ticket_opened}}
    actions:
      - webhook: {{url: "{url}/opened", method: PUT, body: '{body}'}}
  - name: announce-moves-by-people
    trigger: {{type: ticket_status_changed, where: {{origin: [api, console]}}}}
    actions:
      - webhook: {{url: "{url}/moved", method: PUT, body: '{body}'}}
"""


def test_a_ticket_people_open_fires_ticket_opened_and_their_moves_are_api(
    make_gateway: MakeHarness, emulators: Trackers, receiver: Receiver
) -> None:
    gateway = tracker_gateway(make_gateway, emulators, chatops=CATALOG + announcing(receiver.url))
    opened = open_ticket(gateway, {"catalog": "broken-dashboard", "fields": {"title": "Revenue is zero"}})
    assert opened.status_code == 201, opened.text
    gateway.drain()
    moved = gateway.client.post(
        "/v1/tickets/DQ-1/status", json={"status": "In Progress"}, headers={"x-gateway-actor": "alice"}
    )
    assert moved.status_code == 202, moved.text
    gateway.drain()

    sent = [(r["path"], json.loads(r["body"])) for r in receiver.received]
    assert sent == [
        ("/opened", {"kind": "ticket_opened", "origin": "api", "number": "DQ-1"}),
        ("/moved", {"kind": "ticket_status_changed", "origin": "api", "number": "DQ-1"}),
    ]
