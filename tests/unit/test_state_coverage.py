"""`gateway check` without network: every state a ticket can reach needs a status in each tracker."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.rules.loader import MappingErrors, load_mappings

TARGET = """
targets:
  jira: {{kind: jira, url: "https://jira.example", project: DQ, token: "t-0123456789abcdef", {statuses}}}
  snow: {{kind: servicenow, url: "https://x.service-now.com", user: u, password: p}}
flows:
  - name: open
    trigger: {{type: anomaly}}
    actions:
      - create_ticket: {{targets: [jira, snow], short_description: "x"}}
"""


def load(tmp_path: Path, statuses: str, lifecycle: str = "") -> object:
    (tmp_path / "targets.yaml").write_text(TARGET.format(statuses=statuses) + lifecycle)
    return load_mappings(tmp_path, {})


def test_a_reachable_state_without_a_jira_status_fails_naming_file_target_and_state(tmp_path: Path) -> None:
    with pytest.raises(MappingErrors) as failed:
        load(tmp_path, "statuses: {New: To Do}")
    [error] = failed.value.errors
    assert error.file.endswith("targets.yaml") and error.where == "targets.jira: field statuses"
    assert "'On Hold'" in error.problem


def test_every_state_mapped_loads(tmp_path: Path) -> None:
    load(tmp_path, "statuses: {On Hold: To Do}")  # the defaults cover the other five


def test_a_state_the_lifecycle_cannot_reach_needs_no_status(tmp_path: Path) -> None:
    lifecycle = """
lifecycle:
  transitions: {New: [In Progress, Resolved], In Progress: [Resolved], Resolved: [Closed]}
"""
    load(tmp_path, "labels: []", lifecycle)  # On Hold and Canceled are unreachable: no error


def test_the_shipped_example_mappings_pass(tmp_path: Path) -> None:
    load_mappings(Path(__file__).parents[2] / "mappings", {})


def test_a_missing_status_is_told_with_the_other_problems_of_the_load(tmp_path: Path) -> None:
    """One `gateway check` lists it beside a template typo, not in a second round after the typo is fixed."""
    (tmp_path / "targets.yaml").write_text(
        TARGET.format(statuses="statuses: {New: To Do}").replace('"x"', '"{{ event.chek }}"')
    )
    with pytest.raises(MappingErrors) as failed:
        load_mappings(tmp_path, {})
    assert [(error.where, error.problem) for error in failed.value.errors] == [
        ("flow 'open': field actions[0].create_ticket.short_description", "event has no field 'chek'"),
        (
            "targets.jira: field statuses",
            "tickets can reach 'On Hold' (lifecycle) but this target has no status for it",
        ),
    ]


def test_a_lifecycle_that_did_not_load_tells_no_missing_status(tmp_path: Path) -> None:
    """The default lifecycle would stand in for it and ask for statuses the written one never reaches."""
    lifecycle = "lifecycle:\n  transitions: {New: [Resolved], Resolved: [Closed]}\n  reopen_window: soon\n"
    with pytest.raises(MappingErrors) as failed:
        load(tmp_path, "labels: []", lifecycle)
    assert [error.where for error in failed.value.errors] == ["lifecycle: field reopen_window"]
