"""What people do in ServiceNow comes back through the worker's poll (or a Business Rule's push)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from connectors.emulators.base import Fault
from connectors.servicenow.inbound import snow_time
from gateway.execute.sync import poll, run_due
from tests.conftest import QUALYTICS_SECRET, MakeHarness, Trackers, qualytics_delivery
from tests.faults.conftest import cli, run_once
from tests.sync.conftest import JIRA_SYNC, SNOW_SECRET, SYNC_ENV, Synced, SyncedFactory


def _poll(world: Synced) -> list[str]:
    report = poll(world.gateway.runtime, world.gateway.dispatcher, "snow")
    return [change["result"] for change in report["changes"]]


def _push(world: Synced, **extra: str) -> dict[str, object]:
    """The Business Rule's push of the incident as it is now (docs/sync.md), signed, plus `extra`."""
    [incident] = world.trackers.incidents()
    fields = ("sys_id", "number", "state", "sys_updated_on", "sys_updated_by", "sys_mod_count")
    body = json.dumps({**{name: incident[name] for name in fields}, **extra}).encode()
    signature = "sha256=" + hmac.new(SNOW_SECRET.encode(), body, hashlib.sha256).hexdigest()
    pushed = world.gateway.client.post(
        "/v1/trackers/snow/webhook", content=body, headers={"x-gateway-signature": signature}
    )
    assert pushed.status_code in (200, 202), pushed.text
    answer: dict[str, object] = pushed.json()
    return answer


def test_a_comment_in_servicenow_lands_on_the_timeline_and_is_not_echoed_back(synced: SyncedFactory) -> None:
    world = synced()
    world.in_snow(work_notes="Restarted the nightly loader")
    assert _poll(world) == ["commented"]
    [comment] = world.timeline("comment")
    assert comment["actor"] == "jane.doe (servicenow)"
    assert comment["data"] == {"text": "Restarted the nightly loader", "origin": "servicenow"}
    world.gateway.drain()

    assert world.trackers.issues()[0]["comments"] == ["jane.doe (servicenow): Restarted the nightly loader"]
    [incident] = world.trackers.incidents()
    assert [e["value"] for e in incident["journal"]] == ["Restarted the nightly loader"]  # nothing written back
    assert _poll(world) == []  # the next poll finds nothing new
    assert len(world.timeline("comment")) == 1
    assert [d["status"] for d in world.deliveries()] == [202]  # Jira's webhook of the gateway's own comment


def test_resolving_in_servicenow_resolves_the_mirror_and_jira_and_nothing_comes_back(synced: SyncedFactory) -> None:
    world = synced()
    world.in_snow(state="6")
    assert _poll(world) == ["moved to Resolved"]
    [move] = world.timeline("status_changed")
    assert (move["actor"], move["data"]["origin"]) == ("jane.doe (servicenow)", "servicenow")
    assert move["data"]["to"] == "Resolved"
    world.gateway.drain()
    assert world.trackers.issues()[0]["status"] == "Done"
    assert all(d["status"] == 202 for d in world.deliveries())  # Jira's webhooks of the gateway's walk
    assert _poll(world) == []
    assert len(world.timeline("status_changed")) == 1 and world.ticket()["state"] == "Resolved"


def test_the_worker_polls_when_the_interval_says_so(synced: SyncedFactory) -> None:
    world = synced()
    world.in_snow(state="2")
    rt = world.gateway.runtime
    run_due(rt, world.gateway.dispatcher)  # first tick: the poll's turn (and reconcile's) is due
    assert world.ticket()["state"] == "In Progress"
    world.in_snow(state="3")
    run_due(rt, world.gateway.dispatcher)  # within poll_interval (60 s): not polled again
    assert world.ticket()["state"] == "In Progress"
    run_due(rt, world.gateway.dispatcher, now=rt.mirror.cursor("snow")["polled_at"] + 61)
    assert world.ticket()["state"] == "On Hold"


def test_a_business_rule_push_is_verified_and_applied(synced: SyncedFactory) -> None:
    world = synced()
    [incident] = world.trackers.incidents()
    body = json.dumps(
        {
            "sys_id": incident["sys_id"],
            "number": incident["number"],
            "state": "2",
            "sys_updated_on": "2099-01-01 00:00:00",
            "sys_updated_by": "jane.doe",
            "sys_mod_count": "7",
        }
    ).encode()
    signature = "sha256=" + hmac.new(SNOW_SECRET.encode(), body, hashlib.sha256).hexdigest()
    path = "/v1/trackers/snow/webhook"
    bad = world.gateway.client.post(path, content=body, headers={"x-gateway-signature": "x"})
    assert bad.status_code == 401 and world.ticket()["state"] == "New"
    good = world.gateway.client.post(path, content=body, headers={"x-gateway-signature": signature})
    assert good.status_code == 202 and good.json()["changes"][0]["result"] == "moved to In Progress"
    again = world.gateway.client.post(path, content=body, headers={"x-gateway-signature": signature})
    assert again.json()["duplicate"] is True and len(world.timeline("status_changed")) == 1


def test_a_move_in_servicenow_while_the_jira_create_waits_reaches_jira_when_it_lands(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    # propagate off: ServiceNow's moves queue nothing for Jira, so the create, created in its initial
    # status, must catch the issue up to the ticket's state when it lands
    snow_sync = '    sync: {webhook_secret: "${SNOW_PUSH_SECRET}", poll_interval: 60, propagate: false}'
    gateway = make_gateway(trackers.mappings(jira_extra=JIRA_SYNC, snow_extra=snow_sync), env=SYNC_ENV)
    trackers.jira.inject(Fault(kind="status", status=429, retry_after=60, method="POST", path="/issue$"))
    assert gateway.post("qualytics", qualytics_delivery(1)).status_code == 202
    run_once(gateway)  # the incident is made; the issue's create waits a minute
    [incident] = trackers.incidents()
    assert trackers.issues() == []
    act = {"incident": incident["number"], "state": "2"}  # a person in ServiceNow
    headers = {"x-emulator-token": trackers.snow.control_token}
    assert httpx.post(f"{trackers.snow_server.url}/_emulator/act", json=act, headers=headers, timeout=30).is_success

    report = poll(gateway.runtime, gateway.dispatcher, "snow")
    assert [change["result"] for change in report["changes"]] == ["moved to In Progress"]
    assert [e["action"] for e in gateway.executions(target="jira")] == ["create_ticket"]  # nothing else queued
    gateway.drain()

    [issue] = trackers.issues()
    assert issue["status"] == "In Progress"
    [catch_up] = [e for e in gateway.executions(target="jira") if e["flow"] == "catch-up"]
    assert catch_up["action"] == "update_ticket_status" and catch_up["status"] == "succeeded"
    assert incident["number"] == trackers.incidents()[0]["number"] and gateway.ticket("DQ-1")["state"] == "In Progress"


def test_with_the_api_token_set_a_business_rule_push_needs_only_its_signature(synced: SyncedFactory) -> None:
    world = synced(api_token="api-token-servicenow-does-not-send")
    [incident] = world.trackers.incidents()
    body = json.dumps(
        {"sys_id": incident["sys_id"], "number": incident["number"], "state": "2", "sys_updated_by": "jane.doe"}
    ).encode()
    signature = "sha256=" + hmac.new(SNOW_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"x-gateway-signature": signature}
    pushed = world.gateway.client.post("/v1/trackers/snow/webhook", content=body, headers=headers)
    assert pushed.status_code == 202 and pushed.json()["changes"][0]["result"] == "moved to In Progress"
    assert world.ticket()["state"] == "In Progress"


def test_a_push_may_carry_the_targets_token_instead_of_a_signature(synced: SyncedFactory) -> None:
    world = synced(snow_sync='    sync: {webhook_token: "snow-push-token-4d2a", poll_interval: 0}')
    [incident] = world.trackers.incidents()
    body = json.dumps({"sys_id": incident["sys_id"], "number": incident["number"], "state": "2"}).encode()
    path = "/v1/trackers/snow/webhook"
    wrong = world.gateway.client.post(path + "?token=snow-push-token-0000", content=body)
    missing = world.gateway.client.post(path, content=body)
    assert (wrong.json()["error"], missing.json()["error"]) == ("bad_signature", "missing_signature")
    assert world.ticket()["state"] == "New"
    pushed = world.gateway.client.post(path + "?token=snow-push-token-4d2a", content=body)
    assert pushed.status_code == 202 and world.ticket()["state"] == "In Progress"


def test_a_reopen_in_servicenow_after_resolve_is_polled_and_reopens_the_mirror(synced: SyncedFactory) -> None:
    world = synced()
    world.in_snow(state="6")
    assert _poll(world) == ["moved to Resolved"]
    world.gateway.drain()
    world.in_snow(state="2")  # a person reopens the resolved incident
    assert _poll(world) == ["moved to In Progress"]
    assert world.ticket()["state"] == "In Progress"
    world.gateway.drain()
    assert world.trackers.issues()[0]["status"] == "In Progress"  # and Jira follows


def test_gateway_sync_reports_a_tracker_that_is_down_and_still_syncs_the_others(synced: SyncedFactory) -> None:
    world = synced()
    world.jira_hooks(fault="drop", count=5)
    world.in_jira(move_to="In Progress")  # lost webhook: the CLI's reconcile of jira repairs it
    world.trackers.snow.inject(Fault(kind="status", status=503, count=100, method="GET", path="/incident"))
    gateway = world.gateway
    env = {
        **os.environ,
        **SYNC_ENV,
        "QUALYTICS_SECRET": QUALYTICS_SECRET,
        "GATEWAY_MAPPINGS": str(gateway.settings.mappings),
        "GATEWAY_DATABASE_URL": gateway.settings.database_url,
        "REDIS_URL": gateway.settings.redis_url or "",
    }
    result = cli(env, "sync")

    assert result.returncode == 2 and "Traceback" not in result.stderr, (result.stdout, result.stderr)
    reports = {report["target"]: report for report in json.loads(result.stdout)}
    assert [change["result"] for change in reports["jira"]["changes"]] == ["moved to In Progress"]
    assert reports["jira"]["errors"] == []
    [poll_error] = [e for e in reports["snow"]["errors"] if e.startswith("poll: ")]
    assert "503" in poll_error and "sandbox-password" not in result.stdout
    assert world.ticket()["state"] == "In Progress"


def test_a_pushed_comment_carrying_an_unchanged_state_moves_nothing(synced: SyncedFactory) -> None:
    world = synced()
    world.in_snow(state="2")
    assert _poll(world) == ["moved to In Progress"]
    world.gateway.drain()
    resolved = world.gateway.client.post("/v1/tickets/DQ-1/status", json={"status": "Resolved", "note": "fixed"})
    assert resolved.status_code == 202  # the incident's update is queued, not yet made
    world.in_snow(work_notes="looking at it")  # meanwhile jane writes a note: the push still says 2
    assert _push(world, comment="looking at it", comment_by="jane.doe")["changes"] == [
        {"ticket": "DQ-1", "record": world.trackers.incidents()[0]["number"], "result": "commented"}
    ]
    assert world.ticket()["state"] == "Resolved"  # the stale state did not reopen it
    world.gateway.drain()
    assert world.trackers.incidents()[0]["state"] == "6" and world.trackers.issues()[0]["status"] == "Done"
    assert [m["data"]["to"] for m in world.timeline("status_changed")] == ["In Progress", "Resolved"]


def test_a_note_both_pushed_and_polled_is_one_comment_whichever_comes_first(synced: SyncedFactory) -> None:
    world = synced()
    world.in_snow(work_notes="Restarted the loader")
    assert _push(world, comment="Restarted the loader", comment_by="jane.doe")["changes"] == [
        {"ticket": "DQ-1", "record": world.trackers.incidents()[0]["number"], "result": "commented"}
    ]
    assert _poll(world) == []  # the journal entry of the same note: already in

    world.in_snow(work_notes="Replayed the feed")
    assert _poll(world) == ["commented"]
    [incident] = world.trackers.incidents()
    polled_at = snow_time(incident["journal"][-1]["sys_created_on"])
    a_second_later = datetime.fromtimestamp(polled_at + 1, UTC).strftime("%Y-%m-%d %H:%M:%S")
    late = _push(world, comment="Replayed the feed", comment_by="jane.doe", sys_updated_on=a_second_later)
    assert [c["result"] for c in late["changes"]] == ["comment already in"]  # the update's clock ticked on
    assert [c["data"]["text"] for c in world.timeline("comment")] == ["Restarted the loader", "Replayed the feed"]

    later = {"sys_updated_on": "2099-01-01 00:00:00", "sys_mod_count": "99"}
    again = _push(world, comment="Replayed the feed", comment_by="jane.doe", **later)
    assert [c["result"] for c in again["changes"]] == ["commented"]  # the same words written again later
    world.gateway.drain()
    assert world.trackers.issues()[0]["comments"] == [
        "jane.doe (servicenow): Restarted the loader",
        "jane.doe (servicenow): Replayed the feed",
        "jane.doe (servicenow): Replayed the feed",
    ]


def test_pushes_of_one_second_delivered_out_of_order_end_at_the_later_revision(synced: SyncedFactory) -> None:
    world = synced(snow_sync='    sync: {webhook_secret: "${SNOW_PUSH_SECRET}", poll_interval: 0}')
    same_second = {"sys_updated_on": "2099-01-01 00:00:00", "sys_updated_by": "jane.doe"}
    later = _push(world, **same_second, state="3", sys_mod_count="6")  # on hold, pushed second, arrives first
    earlier = _push(world, **same_second, state="2", sys_mod_count="5")
    assert [c["result"] for c in later["changes"]] == ["moved to On Hold"]
    assert [c["result"] for c in earlier["changes"]] == ["older status change ignored"]
    assert world.ticket()["state"] == "On Hold"
    assert {link["target"]: link["remote_status"] for link in world.ticket()["links"]}["snow"] == "3"


def test_one_tracker_in_step_leaves_the_other_trackers_drift_until_it_agrees(synced: SyncedFactory) -> None:
    world = synced()
    assert world.gateway.client.post("/v1/tickets/DQ-1/status", json={"status": "Resolved"}).status_code == 202
    world.gateway.drain()
    world.jira_hooks(fault="drop", count=1)
    world.in_jira(move_to="To Do")  # Reopen (its webhook lost), then Stop progress: Resolved cannot go back to New
    assert (world.ticket()["state"], world.ticket()["drift"]) == ("Resolved", True)

    world.in_snow(state="7")  # ServiceNow closes: an allowed move, but Jira still says To Do
    assert _poll(world) == ["moved to Closed"]
    assert (world.ticket()["state"], world.ticket()["drift"]) == ("Closed", True)

    world.gateway.drain()  # the close reaches Jira: now both trackers agree with the mirror
    assert world.trackers.issues()[0]["status"] == "Done"
    assert world.ticket()["drift"] is False


def test_a_move_reaching_one_tracker_does_not_end_the_drift_another_still_shows(synced: SyncedFactory) -> None:
    world = synced()
    assert world.gateway.client.post("/v1/tickets/DQ-1/status", json={"status": "Resolved"}).status_code == 202
    world.gateway.drain()
    world.jira_hooks(fault="drop", count=1)
    world.in_jira(move_to="To Do")
    assert world.ticket()["drift"] is True

    world.trackers.jira.inject(Fault(kind="status", status=400, count=20, method="POST", path="/transitions$"))
    assert world.gateway.client.post("/v1/tickets/DQ-1/status", json={"status": "Closed"}).status_code == 202
    world.gateway.drain()  # ServiceNow is closed; Jira refuses the move and still says To Do
    assert world.trackers.incidents()[0]["state"] == "7" and world.trackers.issues()[0]["status"] == "To Do"
    assert world.ticket()["drift"] is True


def test_a_change_made_while_the_poll_reads_later_records_is_read_by_the_next_poll(
    synced: SyncedFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.servicenow import connector as snow_connector

    world = synced()
    assert world.gateway.post("qualytics", qualytics_delivery(2, severity="high")).status_code == 202
    world.gateway.drain()
    first, second = world.trackers.incidents()
    assert _poll(world) == []  # the cursor is set
    time.sleep(1.1)
    real_call = snow_connector.ServiceNowConnector._call
    calls: list[str] = []

    def people_act_while_the_poll_reads(self: Any, action: str, call: Any) -> Any:
        answer = real_call(self, action, call)
        calls.append(action)
        if len(calls) == 1:  # the changed records are read: a person moves one now,
            world.in_snow(incident=first["number"], state="2")
            time.sleep(1.1)  # and a second later the other
            world.in_snow(incident=second["number"], state="3")
        return answer

    monkeypatch.setattr(snow_connector.ServiceNowConnector, "_call", people_act_while_the_poll_reads)
    assert _poll(world) == []  # both moved after the read
    monkeypatch.setattr(snow_connector.ServiceNowConnector, "_call", real_call)

    assert sorted(_poll(world)) == ["moved to In Progress", "moved to On Hold"]  # not skipped by the cursor
    assert {t["number"]: t["state"] for t in world.gateway.tickets()} == {"DQ-1": "In Progress", "DQ-2": "On Hold"}


def test_a_poll_leaves_alone_the_incidents_nobody_touched_since_the_gateway_made_them(synced: SyncedFactory) -> None:
    """Every incident the gateway opened since the last poll reads as changed. One nobody touched (revision 0,
    last updated by the gateway, in the state its link holds) has nothing to apply: its link is not written."""
    world = synced()

    def snow_links() -> dict[str, dict[str, Any]]:
        return {
            ticket["number"]: link
            for ticket in world.gateway.tickets()
            for link in world.gateway.ticket(ticket["number"])["links"]
            if link["target"] == "snow"
        }

    made = snow_links()
    assert _poll(world) == []  # the first poll, without a cursor, reads every linked incident
    assert snow_links() == made
    time.sleep(1.1)
    for anomaly in (2, 3, 4):
        assert world.gateway.post("qualytics", qualytics_delivery(anomaly)).status_code == 202
    world.gateway.drain()
    before = snow_links()
    touched = before["DQ-3"]["external_key"]
    world.in_snow(incident=touched, state="2")
    time.sleep(0.01)

    assert _poll(world) == ["moved to In Progress"]

    after = snow_links()
    assert {n: link["updated_at"] for n, link in after.items() if n != "DQ-3"} == {
        n: link["updated_at"] for n, link in before.items() if n != "DQ-3"
    }
    assert after["DQ-3"]["updated_at"] > before["DQ-3"]["updated_at"]
    assert after["DQ-3"]["remote_status"] == "2"
    untouched = before["DQ-4"]["external_key"]
    time.sleep(1.1)
    world.in_snow(incident=untouched, state="3")  # a later change to one the poll left alone still comes back
    assert _poll(world) == ["moved to On Hold"]
    assert {t["number"]: t["state"] for t in world.gateway.tickets()}["DQ-4"] == "On Hold"


def test_a_poll_over_many_changed_incidents_applies_them_all_in_short_transactions(
    synced: SyncedFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every incident made since the last poll reads as changed; applied in one transaction, 5,000 of them held
    the writers' turn for 3 s. A poll now applies APPLY_CHUNK records a transaction, oldest first."""
    from gateway.execute import sync

    world = synced()
    for anomaly in (2, 3, 4, 5):
        assert world.gateway.post("qualytics", qualytics_delivery(anomaly)).status_code == 202
    world.gateway.drain()
    assert _poll(world) == []  # the cursor is set
    time.sleep(1.1)
    for incident in world.trackers.incidents():
        world.in_snow(incident=incident["number"], state="3")  # a person puts each on hold
    monkeypatch.setattr(sync, "APPLY_CHUNK", 2)
    applied_together: list[int] = []
    real_apply = sync.apply_changes

    def counting(*args: Any) -> Any:
        applied_together.append(len(args[3].changes))
        return real_apply(*args)

    monkeypatch.setattr(sync, "apply_changes", counting)

    assert _poll(world) == ["moved to On Hold"] * 5
    assert applied_together == [2, 2, 1]
    assert {t["state"] for t in world.gateway.tickets()} == {"On Hold"}
