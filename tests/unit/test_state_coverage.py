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
