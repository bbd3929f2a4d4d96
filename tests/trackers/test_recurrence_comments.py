"""Recurrences of one ticket within a minute end as one comment in the Jira issue, naming them all."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import TRACKER_ENV, Harness, MakeHarness, Trackers, qualytics_delivery


def recur(gateway: Harness, minute: int) -> dict[str, Any]:
    response = gateway.post("qualytics", qualytics_delivery(9, timestamp=f"2026-01-25T12:{minute:02d}:00Z"))
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def recurrence_comments(gateway: Harness, target: str = "jira") -> list[dict[str, Any]]:
    found = gateway.executions(flow="recurrence", target=target)  # newest first
    return [gateway.execution(e["id"]) for e in reversed(found)]


def test_five_recurrences_each_worked_at_once_end_as_one_edited_comment(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    gateway = make_gateway(trackers.mappings(), env=TRACKER_ENV)
    recur(gateway, 0)
    gateway.drain()
    answers = []
    for minute in range(1, 6):  # each recurrence's comment is worked before the next arrives
        answers.append(recur(gateway, minute))
        gateway.drain()

    [issue] = trackers.issues()
    [comment] = issue["comments"]
    assert comment.startswith("The anomaly occurred again 5 times (occurrences 2-6): ")
    executions = recurrence_comments(gateway)
    assert [e["status"] for e in executions] == ["succeeded"] * 5
    assert [e["result"]["edited"] for e in executions] == [False, True, True, True, True]
    assert {e["result"]["comment_id"] for e in executions} == {issue["comment_ids"][0]}
    assert executions[-1]["result"]["occurrences"] == [2, 3, 4, 5, 6]
    assert all(e["id"] in a["executions"] for e, a in zip(executions, answers, strict=True))
    assert len(trackers.jira.log) and not [r for r in trackers.jira.log if r.status >= 400]

    gateway.runtime.clock = lambda: time.time() + 61  # a minute later: a comment of its own
    recur(gateway, 30)
    gateway.drain()
    [issue] = trackers.issues()
    assert len(issue["comments"]) == 2
    assert issue["comments"][0] == comment
    assert issue["comments"][1].startswith("The anomaly occurred again (occurrence 7): ")


def test_recurrences_that_arrive_while_the_comment_waits_fold_into_it(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    gateway = make_gateway(trackers.mappings(), env=TRACKER_ENV)
    recur(gateway, 0)
    gateway.drain()
    answers = [recur(gateway, minute) for minute in range(1, 5)]  # no worker runs meanwhile
    [jira_comment] = [e["id"] for e in gateway.executions(flow="recurrence", target="jira")]
    assert all(jira_comment in a["executions"] for a in answers)  # each event points at the comment it is in
    gateway.drain()

    [issue] = trackers.issues()
    [comment] = issue["comments"]
    assert comment.startswith("The anomaly occurred again 4 times (occurrences 2-5): ")
    [execution] = recurrence_comments(gateway)
    assert execution["status"] == "succeeded" and execution["result"]["edited"] is False
    [snow] = recurrence_comments(gateway, "snow")
    assert snow["status"] == "succeeded"
    assert snow["result"]["occurrences"] == [2, 3, 4, 5]
    assert gateway.ticket("DQ-1")["occurrences"] == 5
