"""Update Ticket Status: the transition planner against configurable emulator workflows."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from connectors.base import RemoteTicket
from connectors.emulators.jira import Transition, Workflow, review_workflow
from gateway.core.outbound import PermanentError

if TYPE_CHECKING:
    from conftest import Jira

HOLD = {"On Hold": "Blocked"}


def _opened(jira: Jira, **target: object) -> tuple[RemoteTicket, Jira]:
    return jira.connector(**target).create(jira.create_request()), jira


def test_resolved_reaches_done_in_several_hops_with_the_resolution_set(
    make_jira: Callable[..., Jira],
) -> None:
    jira = make_jira(workflow=review_workflow())  # offers Blocked first at every step
    connector = jira.connector(statuses=HOLD)
    remote = connector.create(jira.create_request())

    moved = connector.set_status(jira.status_request(remote, "Resolved"))

    [issue] = jira.issues()
    assert issue["history"] == ["To Do", "In Progress", "In Review", "Done"]
    assert issue["resolution"] == "Done"
    assert moved.remote_status == "Done"
    assert moved.external_key == remote.external_key


def test_the_default_workflow_resolves_through_in_progress(jira: Jira) -> None:
    connector = jira.connector()
    remote = connector.create(jira.create_request())

    connector.set_status(jira.status_request(remote, "Resolved"))

    [issue] = jira.issues()
    assert issue["history"] == ["To Do", "In Progress", "Done"]
    posted = [r.body for r in jira.requests("POST", r"/transitions$")]
    assert posted == [
        {"transition": {"id": "11"}},
        {"transition": {"id": "31"}, "fields": {"resolution": {"name": "Done"}}},
    ]


def test_canceled_sends_the_resolution_override(jira: Jira) -> None:
    connector = jira.connector()
    remote = connector.create(jira.create_request())

    connector.set_status(jira.status_request(remote, "Canceled"))

    assert jira.issues()[0]["resolution"] == "Won't Do"


def test_a_resolution_jira_does_not_offer_fails_before_moving(jira: Jira) -> None:
    connector = jira.connector(resolutions={"Canceled": "Nope"})
    remote = connector.create(jira.create_request(status="In Progress"))

    with pytest.raises(PermanentError) as failure:
        connector.set_status(jira.status_request(remote, "Canceled"))

    assert "resolution: 'Nope'" in failure.value.message and "Won't Do" in failure.value.message
    assert jira.issues()[0]["status"] == "In Progress"


def test_already_there_is_a_no_op(jira: Jira) -> None:
    connector = jira.connector()
    remote = connector.create(jira.create_request())
    connector.set_status(jira.status_request(remote, "New"))
    connector.set_status(jira.status_request(remote, "Resolved"))
    before = len(jira.requests("POST", r"/transitions$"))

    again = connector.set_status(jira.status_request(remote, "Closed"))  # Closed is Done too

    assert again.remote_status == "Done"
    assert len(jira.requests("POST", r"/transitions$")) == before == 2


def test_reopen_takes_the_issue_back_and_clears_the_resolution(jira: Jira) -> None:
    connector = jira.connector()
    remote = connector.create(jira.create_request())
    connector.set_status(jira.status_request(remote, "Resolved"))

    connector.set_status(jira.status_request(remote, "In Progress"))

    [issue] = jira.issues()
    assert (issue["status"], issue["resolution"]) == ("In Progress", None)


def test_an_optional_resolution_is_left_empty_on_the_way_to_a_status_that_is_not_done(
    make_jira: Callable[..., Jira],
) -> None:
    """A screen that offers resolution on Start progress: filling it would leave the issue In Progress yet
    resolved (struck through, gone from every 'resolution = Unresolved' board and filter)."""
    workflow = Workflow(
        statuses={"To Do": ("10000", "new"), "In Progress": ("3", "indeterminate"), "Done": ("10001", "done")},
        transitions=[
            Transition("11", "Start progress", "In Progress", ["To Do"], on_screen=["resolution"]),
            Transition("31", "Resolve", "Done", ["In Progress"], on_screen=["resolution"]),
        ],
    )
    jira = make_jira(workflow=workflow)
    connector = jira.connector()
    remote = connector.create(jira.create_request())

    connector.set_status(jira.status_request(remote, "In Progress"))
    assert (jira.issues()[0]["status"], jira.issues()[0]["resolution"]) == ("In Progress", None)

    connector.set_status(jira.status_request(remote, "Resolved"))
    assert (jira.issues()[0]["status"], jira.issues()[0]["resolution"]) == ("Done", "Done")


def test_a_note_becomes_a_comment(jira: Jira) -> None:
    connector = jira.connector()
    remote = connector.create(jira.create_request())

    connector.set_status(jira.status_request(remote, "In Progress", note="Picked up by @maria from Slack"))

    assert jira.issues()[0]["comments"] == ["Picked up by @maria from Slack"]


def test_no_route_fails_permanently_naming_the_reachable_statuses(make_jira: Callable[..., Jira]) -> None:
    stuck = Workflow(
        statuses={"To Do": ("1", "new"), "Blocked": ("2", "indeterminate"), "Done": ("3", "done")},
        transitions=[
            Transition("11", "Block", "Blocked", ["To Do"]),
            Transition("21", "Unblock", "To Do", ["Blocked"]),
        ],
    )
    jira = make_jira(workflow=stuck)
    connector = jira.connector(statuses=HOLD)
    remote = connector.create(jira.create_request())

    with pytest.raises(PermanentError) as failure:
        connector.set_status(jira.status_request(remote, "Resolved"))

    assert "no workflow route" in failure.value.message
    assert "reachable statuses: Blocked" in failure.value.message
    assert jira.issues()[0]["status"] == "To Do"  # never parked in a side state on the way


def test_on_hold_is_reached_when_it_is_the_target(make_jira: Callable[..., Jira]) -> None:
    jira = make_jira(workflow=review_workflow())
    connector = jira.connector(statuses=HOLD)
    remote = connector.create(jira.create_request())

    moved = connector.set_status(jira.status_request(remote, "On Hold"))

    assert moved.remote_status == "Blocked"


def test_an_unmapped_status_fails_without_touching_the_issue(jira: Jira) -> None:
    connector = jira.connector()
    remote = connector.create(jira.create_request())

    with pytest.raises(PermanentError) as failure:
        connector.set_status(jira.status_request(remote, "On Hold"))

    assert "'On Hold' has no Jira status under statuses:" in failure.value.message
    assert jira.requests("POST", r"/transitions$") == []


def _with_shortcut() -> Workflow:
    """Review workflow plus a direct In Progress -> Done that the team does not want used."""
    workflow = review_workflow()
    workflow.transitions.append(Transition("61", "Skip review", "Done", ["In Progress"], ["resolution"]))
    return workflow


def test_paths_pin_the_route(make_jira: Callable[..., Jira]) -> None:
    jira = make_jira(workflow=_with_shortcut())
    connector = jira.connector(statuses=HOLD, paths={"Resolved": ["In Progress", "In Review", "Done"]})
    remote = connector.create(jira.create_request())

    connector.set_status(jira.status_request(remote, "Resolved"))

    assert jira.issues()[0]["history"] == ["To Do", "In Progress", "In Review", "Done"]


def test_without_a_pin_the_direct_transition_is_taken(make_jira: Callable[..., Jira]) -> None:
    jira = make_jira(workflow=_with_shortcut())
    connector = jira.connector(statuses=HOLD)
    remote = connector.create(jira.create_request())

    connector.set_status(jira.status_request(remote, "Resolved"))

    assert jira.issues()[0]["history"] == ["To Do", "In Progress", "Done"]


def _with_triage() -> Workflow:
    """To Do offers Triage (a detour) before In Progress; both lead on to Done."""
    return Workflow(
        statuses={
            "To Do": ("1", "new"),
            "Triage": ("2", "indeterminate"),
            "In Progress": ("3", "indeterminate"),
            "Done": ("4", "done"),
        },
        transitions=[
            Transition("11", "Triage", "Triage", ["To Do"]),
            Transition("12", "Start", "In Progress", ["To Do", "Triage"]),
            Transition("21", "Resolve", "Done", ["In Progress"], ["resolution"]),
        ],
    )


def test_transitions_seen_before_plan_a_shorter_walk(make_jira: Callable[..., Jira]) -> None:
    jira = make_jira(workflow=_with_triage())
    connector = jira.connector()
    first = connector.create(jira.create_request("qualytics:1"))
    second = connector.create(jira.create_request("qualytics:2"))

    connector.set_status(jira.status_request(first, "Resolved"))
    connector.set_status(jira.status_request(second, "Resolved"))

    histories = [issue["history"] for issue in jira.issues()]
    assert histories == [["To Do", "Triage", "In Progress", "Done"], ["To Do", "In Progress", "Done"]]


def test_a_missing_issue_is_permanent(jira: Jira) -> None:
    link = RemoteTicket(external_id="99999", external_key="DQ-999")

    with pytest.raises(PermanentError) as failure:
        jira.connector().set_status(jira.status_request(link, "Resolved"))

    assert failure.value.http_status == 404
    assert "Issue does not exist" in failure.value.message
