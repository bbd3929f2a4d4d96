"""Ticket events out: a flow on ticket_status_changed sends a signed webhook a Standard Webhooks verifier accepts."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
from standardwebhooks import Webhook as Verifier

from gateway.decide.ticket_events import fire_ticket_event, sla_breach_hook
from gateway.dispatch.sweeper import Sweeper
from gateway.rules.loader import MappingErrors, load_mappings
from tests.conftest import LOCAL_MAPPINGS, MakeHarness, qualytics_delivery
from tests.receiver import Receiver
from tests.sync.conftest import SyncedFactory

SECRET = "whsec_" + base64.b64encode(b"qualytics-receiver-key-32-bytes!").decode()


def tell_qualytics(url: str, source: str = "") -> str:
    return f"""
flows:
  - name: tell-qualytics-resolved{f"{chr(10)}    source: {source}" if source else ""}
    trigger: {{type: ticket_status_changed, where: {{status: [Resolved], origin: [jira]}}}}
    actions:
      - webhook:
          url: "{url}/api/anomalies/{{{{ ticket.anomaly_ids[0] | urlencode }}}}"
          method: PUT
          headers: {{Authorization: "Bearer qualytics-api-token-value"}}
          body: '{{"status": "Resolved", "comment": {{{{ ("Resolved in Jira by " ~ change.actor) | tojson }}}}}}'
          secret: "{SECRET}"
"""


def test_a_status_change_flow_sends_a_signed_webhook_a_verifier_accepts(
    synced: SyncedFactory, receiver: Receiver
) -> None:
    world = synced(extra=tell_qualytics(receiver.url))
    world.in_jira(move_to="In Progress")  # no webhook: the flow wants Resolved
    world.gateway.drain()
    assert receiver.received == []

    world.in_jira(move_to="Done")
    world.gateway.drain()
    [request] = receiver.received
    assert request["path"] == "/api/anomalies/1"
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["authorization"] == "Bearer qualytics-api-token-value"
    Verifier(SECRET).verify(request["body"], headers)  # raises when the signature does not hold
    assert json.loads(request["body"]) == {"status": "Resolved", "comment": "Resolved in Jira by Ana Lytics (jira)"}

    [execution] = [e for e in world.gateway.executions() if e["action"] == "webhook"]
    assert execution["status"] == "succeeded" and execution["flow"] == "tell-qualytics-resolved"
    shown = json.dumps(world.gateway.execution(execution["id"]))
    assert "qualytics-api-token-value" not in shown and SECRET not in shown
    assert [e["data"]["status"] for e in world.timeline("webhook_sent")] == [200]


@pytest.mark.parametrize(("source", "told"), [("qualytics", ["/api/anomalies/1"]), ("generic", [])])
def test_a_flows_source_names_the_tickets_it_is_about(
    synced: SyncedFactory, receiver: Receiver, source: str, told: list[str]
) -> None:
    """`source:` on a ticket-event flow is the ticket's source: a flow about Qualytics tickets is not fired by
    another's (a catalog ticket has no Qualytics anomaly to tell about)."""
    world = synced(extra=tell_qualytics(receiver.url, source=source))
    world.in_jira(move_to="Done")  # DQ-1 came from qualytics
    world.gateway.drain()
    assert world.ticket()["state"] == "Resolved"
    assert [r["path"] for r in receiver.received] == told
    assert len([e for e in world.gateway.executions() if e["action"] == "webhook"]) == len(told)


def test_a_tampered_body_fails_verification(synced: SyncedFactory, receiver: Receiver) -> None:
    from standardwebhooks.webhooks import WebhookVerificationError

    world = synced(extra=tell_qualytics(receiver.url))
    world.in_jira(move_to="Done")
    world.gateway.drain()
    [request] = receiver.received
    headers = {k.lower(): v for k, v in request["headers"].items()}
    with pytest.raises(WebhookVerificationError):
        Verifier(SECRET).verify(request["body"].replace(b"Resolved", b"Reopened", 1), headers)


def test_an_anomaly_id_cannot_walk_the_webhook_out_of_its_path(synced: SyncedFactory, receiver: Receiver) -> None:
    flow = tell_qualytics(receiver.url).replace("ticket.anomaly_ids[0]", "ticket.anomaly_ids | last")
    world = synced(extra=flow)
    evil = {"source": "qualytics", "anomaly_id": "../../../api/users/1"}  # anyone who may link can write this
    assert world.gateway.client.post("/v1/tickets/DQ-1/anomalies", json=evil).status_code == 200
    assert world.ticket()["anomaly_ids"][-1] == "../../../api/users/1"
    world.in_jira(move_to="Done")
    world.gateway.drain()

    assert receiver.received == []  # nothing sent, least of all with the Qualytics token to /api/users/1
    [execution] = [e for e in world.gateway.executions() if e["action"] == "webhook"]
    assert execution["status"] == "failed" and "leaves the scheme, host or path" in execution["error"]


def test_a_resolve_from_the_api_does_not_fire_a_jira_only_flow(synced: SyncedFactory, receiver: Receiver) -> None:
    world = synced(extra=tell_qualytics(receiver.url))
    assert world.gateway.client.post("/v1/tickets/DQ-1/status", json={"status": "Resolved"}).status_code == 202
    world.gateway.drain()
    assert receiver.received == []


BASE = """
sources:
  generic: {kind: generic, hmac_secret: k}
targets:
  mirror: {kind: local}
channels:
  ops: {kind: teams, webhook_url: "https://example.invalid/hook"}
"""


@pytest.mark.parametrize(
    ("flow", "field", "problem"),
    [
        (
            "{name: f, trigger: {type: ticket_status_changed}, actions: [{update_ticket_status: {}}]}",
            "actions[0].update_ticket_status",
            "only notify and webhook may follow a ticket_status_changed trigger",
        ),
        (
            "{name: f, trigger: {type: ticket_opened, where: {severity: [high]}},"
            " actions: [{notify: {channels: [ops]}}]}",
            "trigger.where.severity",
            "not a filter of ticket_opened triggers",
        ),
        (
            "{name: f, trigger: {type: ticket_assigned},"
            " actions: [{webhook: {url: 'https://{{ ticket.number }}.x/'}}]}",
            "actions[0].webhook",
            "scheme and host are written out",
        ),
        (
            "{name: f, trigger: {type: ticket_assigned},"
            " actions: [{webhook: {url: 'https://ops:hunter22@hooks.example/dq'}}]}",
            "actions[0].webhook",
            "no credentials in the URL",
        ),
        (
            "{name: f, trigger: {type: sla_breached},"
            " actions: [{webhook: {url: 'https://x.test/', body: '{{ event.title }}'}}]}",
            "actions[0].webhook.body",
            "unknown name 'event'",
        ),
    ],
)
def test_ticket_event_flows_are_checked_at_load(tmp_path: Path, flow: str, field: str, problem: str) -> None:
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "flows.yaml").write_text(f"flows:\n  - {flow}\n")
    with pytest.raises(MappingErrors) as caught:
        load_mappings(tmp_path, {})
    text = str(caught.value)
    assert f"{tmp_path / 'flows.yaml'}: flow 'f': field {field}" in text and problem in text


def test_a_webhook_under_an_anomaly_trigger_runs_after_the_ticket_is_made(
    make_gateway: MakeHarness, receiver: Receiver
) -> None:
    flows = LOCAL_MAPPINGS["flows.yaml"].replace(
        '          assigned_to: ""',
        f'          assigned_to: ""\n      - webhook: {{url: "{receiver.url}/hooks/dq", method: PUT}}',
    )
    gateway = make_gateway({**LOCAL_MAPPINGS, "flows.yaml": flows})
    assert gateway.post("qualytics", qualytics_delivery(5)).status_code == 202
    gateway.drain()
    [request] = receiver.received
    body = json.loads(request["body"])
    assert request["path"] == "/hooks/dq" and "webhook-signature" not in {k.lower() for k in request["headers"]}
    assert body["ticket"]["number"] == "DQ-1" and body["ticket"]["anomaly_ids"] == ["5"]
    assert body["ticket"]["links"]["mirror"]["external_key"] == "DQ-1"  # sent after the create finished


def test_sla_breached_is_fired_through_the_same_function(make_gateway: MakeHarness, receiver: Receiver) -> None:
    flow = f"""
flows:
  - name: page-on-breach
    trigger: {{type: sla_breached}}
    actions:
      - webhook: {{url: "{receiver.url}/breach", method: PUT, secret: "plain-shared-secret"}}
"""
    gateway = make_gateway({**LOCAL_MAPPINGS, "sla.yaml": flow})
    gateway.post("qualytics", qualytics_delivery(6))
    gateway.drain()
    rt = gateway.runtime
    ticket = rt.mirror.ticket(1)
    assert ticket is not None
    with rt.mirror.transaction() as tx:
        queued = fire_ticket_event(rt, tx, ticket, "sla_breached", {"origin": "gateway", "sla": "respond"}, time.time())
    gateway.dispatcher.enqueue(queued)
    gateway.drain()
    [request] = receiver.received
    headers = {k.lower(): v for k, v in request["headers"].items()}
    secret = "whsec_" + base64.b64encode(b"plain-shared-secret").decode()  # the secret's bytes are the key
    Verifier(secret).verify(request["body"], headers)
    assert json.loads(request["body"])["change"]["sla"] == "respond"


def test_an_sla_breach_found_by_the_sweeper_fires_sla_breached(make_gateway: MakeHarness, receiver: Receiver) -> None:
    flow = f"""
flows:
  - name: page-on-breach
    trigger: {{type: sla_breached}}
    actions:
      - webhook: {{url: "{receiver.url}/breach", method: PUT}}
"""
    gateway = make_gateway({**LOCAL_MAPPINGS, "sla.yaml": flow})
    start = float(int(time.time()))
    gateway.runtime.clock = lambda: start
    gateway.post("qualytics", qualytics_delivery(7))  # Medium: a 2 h response timer
    gateway.drain()
    gateway.runtime.clock = lambda: start + 2 * 3600 + 1
    Sweeper(gateway.runtime, gateway.dispatcher, on_breach=sla_breach_hook(gateway.runtime)).check_sla(start + 7201)
    gateway.drain()
    [request] = receiver.received
    change = json.loads(request["body"])["change"]
    assert (change["kind"], change["timer"], change["origin"]) == ("sla_breached", "response", "gateway")
