"""A comment whose answer is lost is posted once: a retry or re-run looks for it before posting again.

The tracker takes the comment and the answer never arrives (a dropped connection, a client timeout
while the tracker is slow, a database that refused to record the success): the execution's next try
finds the comment among the record's recent ones (Jira's comment list, ServiceNow's journal) and
takes it as posted. A first try posts at once, so a comment said again later is a comment again.
"""

from __future__ import annotations

import pytest

from connectors.emulators.base import Fault
from tests.conftest import Harness, MakeHarness, Trackers, qualytics_delivery
from tests.faults.conftest import accepted, drain_for_real, harness_accounting, refuse_finish_once, tracker_gateway

JIRA_COMMENT = {"method": "POST", "path": "/comment$"}
SNOW_NOTE = {"method": "PATCH", "path": "/incident/"}
QUICK = "{attempts: 5, initial: 0.01, max: 5, deadline: 60}"


def opened(gateway: Harness, anomaly: int) -> list[str]:
    """An anomaly's ticket, created in Jira and ServiceNow."""
    events = accepted(gateway.post("qualytics", qualytics_delivery(anomaly)))
    gateway.drain()
    return events


def comment(gateway: Harness, text: str) -> None:
    response = gateway.client.post("/v1/tickets/DQ-1/comments", json={"text": text})
    assert response.status_code == 202, response.text


def outcomes(gateway: Harness, action: str, target: str) -> list[list[str]]:
    """Each execution's attempts (oldest execution first), every execution succeeded."""
    found = []
    for execution in reversed(gateway.executions(action=action, target=target)):
        detail = gateway.execution(execution["id"])
        assert detail["status"] == "succeeded", detail
        found.append([a["outcome"] for a in detail["attempts"]])
    return found


def work_notes(trackers: Trackers) -> list[str]:
    [incident] = trackers.incidents()
    return [e["value"] for e in incident["journal"] if e["element"] == "work_notes"]


def reads_of_comments(trackers: Trackers) -> tuple[int, int]:
    """How often the gateway looked for a comment it may have posted: Jira's list, ServiceNow's journal."""
    jira = sum(1 for r in trackers.jira.log if r.method == "GET" and r.path.endswith("/comment"))
    snow = sum(1 for r in trackers.snow.log if r.method == "GET" and "sys_journal_field" in r.path)
    return jira, snow


@pytest.mark.parametrize("kind", ["drop_after", "slow"])
def test_a_comment_whose_answer_is_lost_is_posted_once(
    make_gateway: MakeHarness, trackers: Trackers, kind: str
) -> None:
    gateway = tracker_gateway(make_gateway, trackers, timeout=1.0, retry=QUICK)
    events = opened(gateway, 70)
    # drop_after: taken, then the connection closed; slow: taken 0.3 s after the client gave up and 0.7 s
    # before the retry looks (margins a moment's stall of a busy CI machine does not cross)
    fault = {"kind": kind, "delay": 1.3 if kind == "slow" else 0.0}
    trackers.jira.inject(Fault(**fault, **JIRA_COMMENT))  # type: ignore[arg-type]
    trackers.snow.inject(Fault(**fault, **SNOW_NOTE))  # type: ignore[arg-type]
    comment(gateway, "still failing")
    drain_for_real(gateway)  # a slow comment lands a moment after the client gave up: the retry waits for it

    harness_accounting(gateway, events)
    for target in ("jira", "snow"):
        assert outcomes(gateway, "comment", target) == [["failed", "succeeded"]]
    [issue] = trackers.issues()
    assert issue["comments"] == ["api: still failing"]
    assert work_notes(trackers) == ["api: still failing"]
    assert reads_of_comments(trackers) == (1, 1)  # the retry looked; the first try did not


def test_a_status_note_whose_answer_is_lost_is_posted_once(make_gateway: MakeHarness, trackers: Trackers) -> None:
    """Jira's note is a comment of its own after the transitions: the retry finds the issue moved and the note."""
    gateway = tracker_gateway(make_gateway, trackers)
    events = opened(gateway, 71)
    trackers.jira.inject(Fault(kind="drop_after", **JIRA_COMMENT))
    moved = gateway.client.post("/v1/tickets/DQ-1/status", json={"status": "Resolved", "note": "fixed upstream"})
    assert moved.status_code == 202, moved.text
    gateway.drain()

    harness_accounting(gateway, events)
    assert outcomes(gateway, "update_ticket_status", "jira") == [["failed", "succeeded"]]
    [issue] = trackers.issues()
    assert (issue["status"], issue["comments"]) == ("Done", ["fixed upstream"])


def test_a_recurrence_comment_whose_answer_is_lost_is_posted_once_and_kept_by_its_id(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    gateway = tracker_gateway(make_gateway, trackers)
    events = opened(gateway, 72)
    trackers.jira.inject(Fault(kind="drop_after", **JIRA_COMMENT))
    trackers.snow.inject(Fault(kind="drop_after", **SNOW_NOTE))
    again = qualytics_delivery(72, timestamp="2026-01-25T12:01:00Z")  # it occurred again
    events += accepted(gateway.post("qualytics", again))
    gateway.drain()

    harness_accounting(gateway, events)
    [issue] = trackers.issues()
    [text] = issue["comments"]
    assert text.startswith("The anomaly occurred again (occurrence 2): ")
    [recurrence] = gateway.executions(flow="recurrence", target="jira")
    detail = gateway.execution(recurrence["id"])
    assert [a["outcome"] for a in detail["attempts"]] == ["failed", "succeeded"]
    assert detail["result"]["comment_id"] == issue["comment_ids"][0]  # the next recurrence edits that one
    [note] = work_notes(trackers)
    assert note.startswith("The anomaly occurred again (occurrence 2)")


def test_a_comment_said_again_later_is_posted_again(make_gateway: MakeHarness, trackers: Trackers) -> None:
    """Only a retry of the same execution looks: a new execution with the same words is a new comment."""
    gateway = tracker_gateway(make_gateway, trackers)
    events = opened(gateway, 73)
    for _ in range(2):
        comment(gateway, "still failing")
        gateway.drain()
    moved = gateway.client.post("/v1/tickets/DQ-1/status", json={"status": "In Progress", "note": "still failing"})
    assert moved.status_code == 202, moved.text
    gateway.drain()

    harness_accounting(gateway, events)
    [issue] = trackers.issues()
    assert issue["comments"] == ["api: still failing", "api: still failing", "still failing"]
    assert work_notes(trackers) == ["api: still failing", "api: still failing", "still failing"]
    assert reads_of_comments(trackers) == (0, 0)  # first tries post at once


def test_a_comment_run_again_after_the_database_refused_its_success_is_found(
    make_gateway: MakeHarness, trackers: Trackers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tracker took the comment, then the database refused to record it: the re-run finds the comment."""
    gateway = tracker_gateway(make_gateway, trackers)
    events = opened(gateway, 74)
    raised = refuse_finish_once(
        monkeypatch, gateway.runtime.mirror, lambda e: e.target if e.action == "comment" else None
    )
    comment(gateway, "rerun scheduled")
    gateway.drain()

    harness_accounting(gateway, events)
    assert sorted(raised) == ["jira", "snow"]
    for target in ("jira", "snow"):  # the lost run's call is in the log; the re-run looked and found it
        assert outcomes(gateway, "comment", target) == [["succeeded", "succeeded"]]
    [issue] = trackers.issues()
    assert issue["comments"] == ["api: rerun scheduled"]
    assert work_notes(trackers) == ["api: rerun scheduled"]
    assert reads_of_comments(trackers) == (1, 1)
