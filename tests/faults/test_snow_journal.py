"""ServiceNow writes its journal apart from the fields: a retried update never repeats a work note.

The status change's field update and its work note are two requests; each is hit by a fault that
lets the instance apply the change and loses the answer (a dropped connection, a proxy's 500).
"""

from __future__ import annotations

import pytest

from connectors.emulators.base import Fault
from tests.conftest import MakeHarness, Trackers, qualytics_delivery
from tests.faults.conftest import accepted, assert_one_ticket_each, harness_accounting, tracker_gateway

PATCH = {"method": "PATCH", "path": "/incident/"}
NAMES = '          assigned_to: ""\n          per_target:\n            snow: {category: data_quality}'


@pytest.mark.parametrize(
    "fault",
    [
        Fault(kind="drop_after", **PATCH),  # the field update applied, its answer lost
        Fault(kind="status_after", status=500, **PATCH),  # applied, then a 5xx
        Fault(kind="drop_after", skip=1, **PATCH),  # the note's own request written, its answer lost
        Fault(kind="status_after", status=502, skip=1, **PATCH),
    ],
    ids=["fields-lost", "fields-500", "note-lost", "note-502"],
)
def test_a_retried_status_change_writes_its_work_note_once(
    make_gateway: MakeHarness, trackers: Trackers, fault: Fault
) -> None:
    gateway = tracker_gateway(make_gateway, trackers)
    events = accepted(gateway.post("qualytics", qualytics_delivery(90)))
    gateway.drain()
    trackers.snow.inject(fault)
    moved = gateway.client.post("/v1/tickets/DQ-1/status", json={"status": "Resolved", "note": "fixed upstream"})
    assert moved.status_code == 202, moved.text
    gateway.drain()

    harness_accounting(gateway, events)
    [move] = gateway.executions(action="update_ticket_status", target="snow")
    detail = gateway.execution(move["id"])
    assert detail["status"] == "succeeded"
    assert [a["outcome"] for a in detail["attempts"]] == ["failed", "succeeded"]  # the fault was met, then retried
    [incident] = trackers.incidents()
    assert (incident["state"], incident["close_code"]) == ("6", "Solution provided")
    assert [(e["element"], e["value"]) for e in incident["journal"]] == [("work_notes", "fixed upstream")]
    assert_one_ticket_each(trackers, [90])


def test_a_note_repeated_after_another_is_written_again(make_gateway: MakeHarness, trackers: Trackers) -> None:
    """Only the gateway's latest note counts as "already written": the same words later are a new note."""
    gateway = tracker_gateway(make_gateway, trackers)
    accepted(gateway.post("qualytics", qualytics_delivery(91)))
    gateway.drain()
    for text in ("still failing", "rerun scheduled", "still failing"):
        assert gateway.client.post("/v1/tickets/DQ-1/comments", json={"text": text}).status_code == 202
        gateway.drain()
    [incident] = trackers.incidents()
    notes = [e["value"] for e in incident["journal"]]
    assert notes == ["api: still failing", "api: rerun scheduled", "api: still failing"]


def test_names_in_reference_fields_reach_the_incident_as_sys_ids(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    flows = trackers.mappings()["flows.yaml"].replace(
        "snow: {category: data_quality}", "snow: {category: data_quality, assigned_to: jane.doe}"
    )
    assert "assigned_to: jane.doe" in flows
    gateway = tracker_gateway(make_gateway, trackers, flows=flows)
    events = accepted(gateway.post("qualytics", qualytics_delivery(92)))
    gateway.drain()

    harness_accounting(gateway, events)
    [incident] = trackers.incidents()
    snow = trackers.snow
    assert incident["assignment_group"] == snow.lookup("sys_user_group", "data-platform") != ""
    assert incident["assigned_to"] == snow.lookup("sys_user", "jane.doe") != ""
    assert incident["caller_id"] == snow.lookup("sys_user", "dq.gateway") != ""
    assert incident["category"] == "data_quality"  # a choice value, kept as given
