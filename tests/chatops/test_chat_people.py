"""Per-target people: a chat user's own user in each tracker (chatops.users), or who is unmapped where."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.rules.loader import MappingErrors, load_mappings
from tests.chatops.support import Trackers, taken_from_slack, teams, tracker_gateway
from tests.conftest import TRACKER_ENV, MakeHarness, qualytics_delivery

TEAMS_AAD_ID = "f46a8a6e-5e73-4d2a-9d3c-0f4b8f5f6b11"  # the sample activity's sender


def test_taking_from_slack_assigns_each_trackers_own_user(make_gateway: MakeHarness, emulators: Trackers) -> None:
    chatops = "chatops:\n  users: {U2147483697: {jira: bob, snow: alice}}\n"
    gateway, answer = taken_from_slack(make_gateway, emulators, chatops)
    assert answer.startswith(
        "DQ-1 moved from New to In Progress and assigned to slack:steve (jira: bob, snow: alice). "
        "4 tracker update(s) queued."
    )
    [issue] = emulators.issues()
    [incident] = emulators.incidents()
    assert issue["fields"]["assignee"] == {"name": "bob"}
    assert incident["assigned_to"] == "alice"
    assigns = gateway.executions(action="assign")
    assert sorted((e["target"], e["status"]) for e in assigns) == [("jira", "succeeded"), ("snow", "succeeded")]
    assert gateway.ticket("DQ-1")["fields"]["assigned_to"] == "slack:steve"


def test_taking_from_teams_says_which_tracker_has_no_user(make_gateway: MakeHarness, emulators: Trackers) -> None:
    chatops = f'chatops:\n  users: {{"{TEAMS_AAD_ID}": {{jira: alice}}}}\n'
    gateway = tracker_gateway(make_gateway, emulators, chatops=chatops)
    gateway.post("qualytics", qualytics_delivery(1))
    gateway.drain()
    answer = teams(gateway, "DQ-1 in progress").json()["text"]
    gateway.drain()
    assert answer == (
        "DQ-1 moved from New to In Progress and assigned to teams:Tim Jones (jira: alice); "
        f"not assigned in snow: chatops.users has no user there for {TEAMS_AAD_ID}. 3 tracker update(s) queued."
    )
    [issue] = emulators.issues()
    [incident] = emulators.incidents()
    assert issue["fields"]["assignee"] == {"name": "alice"}
    assert incident["assigned_to"] == ""
    assert [e["target"] for e in gateway.executions(action="assign")] == ["jira"]


def test_someone_unmapped_who_takes_a_ticket_is_told(make_gateway: MakeHarness, emulators: Trackers) -> None:
    chatops = "chatops:\n  users: {U0OTHER: {jira: bob, snow: bob}}\n"
    gateway, answer = taken_from_slack(make_gateway, emulators, chatops)
    assert answer.startswith(
        "DQ-1 moved from New to In Progress; not assigned in jira, snow: "
        "chatops.users has no user there for U2147483697. 2 tracker update(s) queued."
    )
    assert gateway.executions(action="assign") == []
    assert emulators.issues()[0]["fields"].get("assignee") is None


def test_a_user_for_an_unknown_target_fails_at_load(tmp_path: Path, emulators: Trackers) -> None:
    from tests.chatops.support import chat_files

    files = chat_files(emulators, chatops="chatops:\n  users: {U1: {jira: bob, servicenow: bob}}\n")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(MappingErrors) as failed:
        load_mappings(tmp_path, {**TRACKER_ENV, "QUALYTICS_SECRET": "x"})
    [error] = failed.value.errors
    assert error.file.endswith("chatops.yaml")
    assert error.where == "chatops: field users.U1.servicenow"
    assert "no target 'servicenow'; known: jira, snow" in str(error)
