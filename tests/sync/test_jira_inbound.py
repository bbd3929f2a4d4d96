"""What people do in Jira comes back to the mirror, once, in order, and never echoes."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from typing import Any

from connectors.emulators.base import Fault
from tests.sync.conftest import JIRA_SECRET, SyncedFactory


def test_resolving_in_jira_resolves_the_mirror_naming_the_person_and_the_incident_once(synced: SyncedFactory) -> None:
    world = synced()
    world.in_jira(move_to="Done")  # a person clicks Start progress, then Resolve: two webhooks
    assert [d["status"] for d in world.deliveries()] == [202, 202]

    ticket = world.ticket()
    assert ticket["state"] == "Resolved" and ticket["drift"] is False
    moves = world.timeline("status_changed")
    assert [(m["data"]["to"], m["actor"], m["data"]["origin"]) for m in moves] == [
        ("In Progress", "Ana Lytics (jira)", "jira"),
        ("Resolved", "Ana Lytics (jira)", "jira"),
    ]
    # one execution per move, to the other target only: nothing goes back to Jira
    assert [(e["action"], e["target"]) for e in world.sync_executions()] == [("update_ticket_status", "snow")] * 2

    world.gateway.drain()
    [incident] = world.trackers.incidents()
    assert incident["state"] == "6" and incident["close_code"] == "Solution provided"
    assert world.snow_state_writes("6") == 1
    assert world.trackers.issues()[0]["status"] == "Done"
    assert len(world.timeline("status_changed")) == 2  # the propagation made no new move
    links = {link["target"]: link["remote_status"] for link in world.ticket()["links"]}
    assert links == {"jira": "Done", "snow": "6"}


def test_one_move_in_jira_makes_one_entry_and_one_execution_per_other_target(synced: SyncedFactory) -> None:
    world = synced()
    before = len(world.timeline())
    world.in_jira(move_to="In Progress")
    world.gateway.drain()

    new = world.timeline()[before:]
    assert [(e["kind"], e["data"].get("to")) for e in new] == [("status_changed", "In Progress")]
    assert [(e["target"], e["status"]) for e in world.sync_executions()] == [("snow", "succeeded")]
    assert world.trackers.incidents()[0]["state"] == "2"


def test_a_webhook_delivered_twice_makes_one_change(synced: SyncedFactory) -> None:
    world = synced()
    world.jira_hooks(fault="duplicate")
    world.in_jira(move_to="In Progress")
    first, second = world.deliveries()
    assert first["body"] == second["body"] and (first["status"], second["status"]) == (202, 202)
    assert len(world.timeline("status_changed")) == 1
    assert len(world.sync_executions()) == 1


def test_a_duplicate_answers_that_it_is_one(synced: SyncedFactory) -> None:
    world = synced()
    issue = world.trackers.issues()[0]
    body = json.dumps(_issue_updated(issue, "In Progress")).encode()
    headers = _signed(body) | {"x-atlassian-webhook-identifier": "delivery-1"}
    first = world.gateway.client.post("/v1/trackers/jira/webhook", content=body, headers=headers)
    again = world.gateway.client.post("/v1/trackers/jira/webhook", content=body, headers=headers)
    assert first.status_code == 202 and first.json()["duplicate"] is False
    assert again.status_code == 202 and again.json() == {
        "duplicate": True,
        "tickets": [],
        "changes": [],
        "executions": [],
    }


def test_a_dropped_webhook_is_repaired_by_the_reconcile_pass(synced: SyncedFactory) -> None:
    from gateway.execute.sync import reconcile

    world = synced()
    world.jira_hooks(fault="drop")
    world.in_jira(move_to="In Progress")
    assert world.ticket()["state"] == "New"  # the mirror never heard

    report = reconcile(world.gateway.runtime, world.gateway.dispatcher, "jira")
    assert report["errors"] == [] and [c["result"] for c in report["changes"]] == ["moved to In Progress"]
    assert world.ticket()["state"] == "In Progress"
    world.gateway.drain()
    assert world.trackers.incidents()[0]["state"] == "2"
    again = reconcile(world.gateway.runtime, world.gateway.dispatcher, "jira")
    assert again["changes"] == [] and len(world.timeline("status_changed")) == 1


def test_out_of_order_deliveries_end_at_the_newest_state(synced: SyncedFactory) -> None:
    world = synced()
    world.jira_hooks(fault="hold", count=2)
    world.in_jira(move_to="Done")  # In Progress, then Done: both held
    world.release(reverse=True)  # Done arrives first, In Progress after it

    assert world.ticket()["state"] == "Resolved"
    assert [m["data"]["to"] for m in world.timeline("status_changed")] == ["Resolved"]
    assert {link["target"]: link["remote_status"] for link in world.ticket()["links"]}["jira"] == "Done"


def test_a_forged_or_missing_signature_is_refused_and_changes_nothing(synced: SyncedFactory) -> None:
    world = synced()
    issue = world.trackers.issues()[0]
    body = json.dumps(_issue_updated(issue, "Done")).encode()
    forged = world.gateway.client.post(
        "/v1/trackers/jira/webhook", content=body, headers={"x-hub-signature": "sha256=" + "0" * 64}
    )
    missing = world.gateway.client.post("/v1/trackers/jira/webhook", content=body)
    assert (forged.status_code, forged.json()["error"]) == (401, "bad_signature")
    assert (missing.status_code, missing.json()["error"]) == (401, "missing_signature")
    world.jira_hooks(secret="not-the-secret")  # the emulator signs with the wrong secret
    world.in_jira(move_to="In Progress")
    assert [d["status"] for d in world.deliveries()] == [401]
    assert world.ticket()["state"] == "New" and world.timeline("status_changed") == []
    assert world.sync_executions() == []


def test_unknown_targets_and_unlinked_issues(synced: SyncedFactory) -> None:
    world = synced()
    body = json.dumps(_issue_updated({"id": "99999", "key": "DQ-99"}, "Done")).encode()
    unknown = world.gateway.client.post("/v1/trackers/nope/webhook", content=body, headers=_signed(body))
    unlinked = world.gateway.client.post("/v1/trackers/jira/webhook", content=body, headers=_signed(body))
    assert (unknown.status_code, unknown.json()["error"]) == (404, "unknown_target")
    assert unlinked.status_code == 200 and unlinked.json()["tickets"] == []
    garbage = world.gateway.client.post("/v1/trackers/jira/webhook", content=b"{", headers=_signed(b"{"))
    assert garbage.status_code == 400 and garbage.json()["error"] == "bad_tracker_payload"


def test_a_move_the_lifecycle_forbids_is_recorded_and_flagged_without_moving(synced: SyncedFactory) -> None:
    world = synced()
    response = world.gateway.client.post("/v1/tickets/DQ-1/status", json={"status": "Canceled"})
    assert response.status_code == 202
    world.gateway.drain()
    assert world.trackers.issues()[0]["status"] == "Done"

    world.in_jira(move_to="In Progress")  # someone reopens the issue; Canceled is final
    ticket = world.ticket()
    assert ticket["state"] == "Canceled" and ticket["drift"] is True
    [entry] = world.timeline("remote_changed")
    assert entry["actor"] == "Ana Lytics (jira)"
    assert entry["data"]["remote_status"] == "In Progress" and entry["data"]["from"] == "Canceled"
    assert world.sync_executions() == []
    assert world.gateway.tickets()[0]["drift"] is True  # the list shows it too

    world.in_jira(move_to="Done")  # back where the mirror is: the states agree again
    assert world.ticket()["drift"] is False and world.ticket()["state"] == "Canceled"


def test_the_gateways_own_transition_coming_back_makes_no_entry(synced: SyncedFactory) -> None:
    world = synced()
    response = world.gateway.client.post("/v1/tickets/DQ-1/status", json={"status": "In Progress"})
    assert response.status_code == 202
    before = world.timeline()
    world.gateway.drain()  # the worker moves the issue; Jira sends the webhook of that move
    assert [d["status"] for d in world.deliveries()] == [202]
    assert world.deliveries()[0]["body"]["user"]["name"] == "sandbox"
    after = world.timeline()
    assert [e["kind"] for e in after[len(before) :]] == []
    assert world.sync_executions() == []


def test_comments_and_assignments_in_jira_land_on_the_timeline_and_never_echo(synced: SyncedFactory) -> None:
    world = synced()
    assert world.ticket()["sla"]["response_left_s"] is not None
    world.in_jira(comment="Looking into the orders feed", assign="bob")
    assert world.ticket()["sla"]["response_left_s"] is None  # taken in Jira: the response timer stopped
    [comment] = world.timeline("comment")
    assert comment["actor"] == "Ana Lytics (jira)" and comment["data"]["text"] == "Looking into the orders feed"
    [assigned] = world.timeline("field_changed")
    assert assigned["data"] == {"field": "assigned_to", "from": "", "to": "bob", "origin": "jira"}
    assert world.ticket()["fields"]["assigned_to"] == "bob"
    world.gateway.drain()
    [incident] = world.trackers.incidents()
    notes = [e["value"] for e in incident["journal"] if e["element"] == "work_notes"]
    assert notes == ["Ana Lytics (jira): Looking into the orders feed"]
    assert world.trackers.issues()[0]["comments"] == ["Looking into the orders feed"]  # nothing posted back


def test_an_issue_moved_to_another_project_is_followed_by_its_id(synced: SyncedFactory) -> None:
    world = synced()
    world.in_jira(move_key="OPS-7", move_to="In Progress")
    link = {link["target"]: link for link in world.ticket()["links"]}["jira"]
    assert link["external_key"] == "OPS-7" and link["url"].endswith("/browse/OPS-7")
    assert world.ticket()["state"] == "In Progress"


def _issue_updated(issue: dict[str, str], status: str) -> dict[str, object]:
    item = {"field": "status", "fromString": "To Do", "toString": status}
    return {
        "timestamp": 4102444800000,
        "webhookEvent": "jira:issue_updated",
        "user": {"name": "alice", "displayName": "Ana Lytics"},
        "issue": {"id": issue["id"], "key": issue["key"]},
        "changelog": {"items": [item]},
    }


def _signed(body: bytes) -> dict[str, str]:
    return {"x-hub-signature": "sha256=" + hmac.new(JIRA_SECRET.encode(), body, hashlib.sha256).hexdigest()}


def test_data_center_deliveries_carry_a_token_compared_in_constant_time(synced: SyncedFactory) -> None:
    world = synced(jira_sync='    sync: {webhook_token: "dc-token-value-123"}')
    body = json.dumps(_issue_updated(world.trackers.issues()[0], "In Progress")).encode()
    path = "/v1/trackers/jira/webhook"
    assert world.gateway.client.post(path + "?token=wrong", content=body).status_code == 401
    assert world.gateway.client.post(path, content=body).status_code == 401
    assert world.ticket()["state"] == "New"
    assert world.gateway.client.post(path + "?token=dc-token-value-123", content=body).status_code == 202
    assert world.ticket()["state"] == "In Progress"


def test_with_the_api_token_set_trackers_still_reach_the_gateway_with_their_own_proofs(synced: SyncedFactory) -> None:
    world = synced(api_token="api-token-the-trackers-do-not-have")
    world.in_jira(move_to="In Progress")  # the emulator signs its delivery and sends no Authorization header
    assert [d["status"] for d in world.deliveries()] == [202]
    assert world.ticket()["state"] == "In Progress"

    # the tracker's own proof is what is checked: without it the answer names it, and nothing moves
    body = json.dumps(_issue_updated(world.trackers.issues()[0], "Done")).encode()
    unsigned = world.gateway.client.post("/v1/trackers/jira/webhook", content=body)
    assert unsigned.status_code == 401 and unsigned.json()["error"] == "missing_signature"
    assert world.ticket()["state"] == "In Progress"
    # the rest of the API still needs the token
    assert world.gateway.client.get("/v1/tickets").status_code == 401


def test_a_comment_document_nested_too_deep_is_a_400_and_a_deep_one_is_read_as_text(synced: SyncedFactory) -> None:
    world = synced()
    issue = world.trackers.issues()[0]

    def comment(depth: int, text: str) -> bytes:
        document = '{"type": "paragraph", "content": [' * depth + f'{{"type": "text", "text": "{text}"}}' + "]}" * depth
        delivery = {
            "timestamp": 4102444800000,
            "webhookEvent": "comment_created",
            "user": {"name": "alice", "displayName": "Ana Lytics"},
            "issue": {"id": issue["id"], "key": issue["key"]},
            "comment": {"id": str(depth), "body": "BODY"},
        }
        return json.dumps(delivery).replace('"BODY"', document).encode()

    hook = "/v1/trackers/jira/webhook"
    too_deep = comment(5000, "lost")  # Python's own JSON would not even write it
    refused = world.gateway.client.post(hook, content=too_deep, headers=_signed(too_deep))
    assert (refused.status_code, refused.json()["error"]) == (400, "too_deeply_nested")
    deep = comment(400, "deep down")  # deeper than any editor makes, within what the decoder takes
    answer = world.gateway.client.post(hook, content=deep, headers=_signed(deep))
    assert answer.status_code == 202, answer.text
    assert [c["data"]["text"] for c in world.timeline("comment")] == ["deep down"]


def test_a_dropped_reopen_of_a_resolved_issue_is_repaired_by_the_reconcile_pass(synced: SyncedFactory) -> None:
    from gateway.execute.sync import reconcile

    world = synced()
    world.in_jira(move_to="Done")
    world.gateway.drain()
    assert world.ticket()["state"] == "Resolved"
    world.jira_hooks(fault="drop", count=5)
    world.in_jira(move_to="In Progress")  # a person reopens; the webhook is lost
    report = reconcile(world.gateway.runtime, world.gateway.dispatcher, "jira")
    assert [c["result"] for c in report["changes"]] == ["moved to In Progress"]
    assert world.ticket()["state"] == "In Progress"


def test_reconcile_reads_every_watched_record_in_turn_a_batch_a_pass(synced: SyncedFactory, monkeypatch: Any) -> None:
    from gateway.execute import sync
    from tests.conftest import qualytics_delivery

    world = synced()
    for anomaly in (2, 3, 4):
        assert world.gateway.post("qualytics", qualytics_delivery(anomaly)).status_code == 202
    world.gateway.drain()
    world.jira_hooks(fault="drop", count=20)
    for issue in world.trackers.issues():  # people start work on all four; every webhook is lost
        world.in_jira(key=issue["key"], move_to="In Progress")
    monkeypatch.setattr(sync, "RECONCILE_BATCH", 3)
    rt, dispatcher = world.gateway.runtime, world.gateway.dispatcher

    first, second, third = (sync.reconcile(rt, dispatcher, "jira") for _ in range(3))
    assert (first["checked"], len(first["changes"])) == (3, 3)
    assert (second["checked"], len(second["changes"])) == (1, 1)  # the fourth, on the next pass
    assert (third["checked"], third["changes"]) == (3, [])  # and round again from the first
    assert {t["state"] for t in world.gateway.tickets()} == {"In Progress"}


def test_a_person_writing_what_a_gateway_note_said_is_a_person_not_an_echo(
    synced: SyncedFactory, monkeypatch: Any
) -> None:
    world = synced()
    monkeypatch.setattr(world.trackers.jira, "deployment", "Cloud")  # webhooks name accountIds: echoes go by text
    moved = world.gateway.client.post("/v1/tickets/DQ-1/status", json={"status": "In Progress", "note": "on it"})
    assert moved.status_code == 202
    world.gateway.drain()  # the note reaches Jira as the gateway's comment, and its webhook comes back
    assert world.trackers.issues()[0]["comments"] == ["on it"]
    assert [d["body"]["webhookEvent"] for d in world.deliveries()][-1] == "comment_created"
    assert world.timeline("comment") == []  # the echo

    world.in_jira(comment="on it", **{"as": "bob"})  # later, bob writes the same words
    [comment] = world.timeline("comment")
    assert (comment["actor"], comment["data"]["text"]) == ("Bob Builder (jira)", "on it")


RESOLUTIONS = """resolutions: {Canceled: "Won't Do"}"""


def test_done_as_wont_do_in_jira_cancels_the_ticket(synced: SyncedFactory) -> None:
    world = synced(swap={RESOLUTIONS: ""})  # no resolutions: Jira's own Won't Do means canceled
    world.in_jira(move_to="Done", resolution="Won't Do")
    assert world.ticket()["state"] == "Canceled"
    assert [m["data"]["to"] for m in world.timeline("status_changed")] == ["In Progress", "Canceled"]
    world.gateway.drain()
    assert world.trackers.incidents()[0]["state"] == "8"  # ServiceNow follows: canceled, not resolved


def test_the_resolution_resolutions_names_for_canceled_cancels_also_when_reconciled(synced: SyncedFactory) -> None:
    from gateway.execute.sync import reconcile

    world = synced(swap={RESOLUTIONS: "resolutions: {Canceled: Duplicate}"})
    world.jira_hooks(fault="drop", count=5)
    world.in_jira(move_to="Done", resolution="Duplicate")  # the webhooks are lost
    report = reconcile(world.gateway.runtime, world.gateway.dispatcher, "jira")
    assert [c["result"] for c in report["changes"]] == ["moved to Canceled"]
    assert world.ticket()["state"] == "Canceled"


def test_reconcile_takes_the_gateways_own_assignment_for_its_own_and_a_persons_for_theirs(
    synced: SyncedFactory,
) -> None:
    from gateway.decide import operations
    from gateway.execute.sync import reconcile

    world = synced()
    rt, dispatcher = world.gateway.runtime, world.gateway.dispatcher
    people = {"jira": "alice", "snow": "jane.doe"}  # slack:ana is alice in Jira
    operations.assign_ticket(rt, dispatcher, "DQ-1", "slack:ana", actor="slack:ana", people=people, origin="chat")
    world.gateway.drain()
    assert world.trackers.issues()[0]["fields"]["assignee"] == {"name": "alice"}

    assert reconcile(rt, dispatcher, "jira")["changes"] == []  # alice in Jira is the gateway's doing
    assert world.ticket()["fields"]["assigned_to"] == "slack:ana" and len(world.timeline("field_changed")) == 1

    world.jira_hooks(fault="drop", count=5)
    world.in_jira(assign="bob")  # a person, webhook lost
    assert [c["result"] for c in reconcile(rt, dispatcher, "jira")["changes"]] == ["assigned to bob"]
    world.in_jira(assign="alice")  # and back: now alice is a person's choice
    assert [c["result"] for c in reconcile(rt, dispatcher, "jira")["changes"]] == ["assigned to alice"]
    assert world.ticket()["fields"]["assigned_to"] == "alice"


def test_a_reconcile_read_older_than_a_webhook_applied_meanwhile_does_not_undo_it(synced: SyncedFactory) -> None:
    from gateway.execute.sync import reconcile

    world = synced()
    rt, jira = world.gateway.runtime, world.trackers.jira
    issue = f"/issue/{world.trackers.issues()[0]['id']}"  # read by its id
    jira.inject(Fault(kind="slow_after", delay=1.5, method="GET", path=issue + "$"))  # slow, within its 2 s timeout
    reports: list[dict[str, Any]] = []
    reading = threading.Thread(target=lambda: reports.append(reconcile(rt, world.gateway.dispatcher, "jira")))
    reading.start()
    deadline = time.time() + 10
    while not any(r.method == "GET" and r.path.endswith(issue) for r in jira.log):
        assert time.time() < deadline, "the reconcile pass never read the issue"
        time.sleep(0.01)
    world.in_jira(move_to="In Progress")  # read as To Do; then a person moves it, and the webhook lands
    assert world.ticket()["state"] == "In Progress"
    reading.join(timeout=10)

    [report] = reports
    assert [c["result"] for c in report["changes"]] == ["changed while it was read: left to the next read"]
    ticket = world.ticket()
    assert ticket["state"] == "In Progress" and not ticket["drift"]
    assert [e["data"]["to"] for e in world.timeline("status_changed")] == ["In Progress"]
    assert reconcile(rt, world.gateway.dispatcher, "jira")["changes"] == []  # the next read agrees
