"""A Jira target's YAML: DESIGN.md's example decodes; mistakes are refused with the key named."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from connectors.jira.config import JiraTarget
from connectors.jira.connector import JiraConnector
from connectors.registry import KINDS

EXAMPLE: dict[str, Any] = {
    "kind": "jira",
    "url": "https://example.atlassian.net",
    "user": "dq-bot@example.com",
    "token": "api-token",
    "project": "DQ",
    "issue_type": "Bug",
    "labels": ["data-quality"],
    "fields": {
        "urgency": "customfield_10101",
        "impact": "customfield_10102",
        "category": "components",
        "subcategory": "customfield_10104",
        "assignment_group": "customfield_10103",
    },
    "priorities": {"Critical": "Highest", "High": "High", "Medium": "Medium", "Low": "Low"},
    "statuses": {
        "New": "To Do",
        "In Progress": "In Progress",
        "Resolved": "Done",
        "Closed": "Done",
        "Canceled": "Done",
    },
    "resolution": "Done",
    "resolutions": {"Canceled": "Won't Do"},
    "retry": {"attempts": 8, "initial": 1, "max": 300, "deadline": 3600},
}


def _decode(**changes: Any) -> JiraTarget:
    return msgspec.convert({**EXAMPLE, **changes}, JiraTarget)


def test_designs_example_decodes_and_builds_through_the_registry() -> None:
    kind = KINDS["jira"]
    config = msgspec.convert(EXAMPLE, kind.config_type)

    connector = kind.build(config)

    assert isinstance(connector, JiraConnector)
    assert config.retry.attempts == 8 and config.deployment is None and config.timeout == 10
    connector.close()


def test_defaults_fill_what_the_yaml_leaves_out() -> None:
    config = msgspec.convert({"url": "https://jira.example", "token": "t", "project": "DQ"}, JiraTarget)

    assert config.priorities == {"Critical": "Highest", "High": "High", "Medium": "Medium", "Low": "Low"}
    assert config.statuses["Resolved"] == "Done" and "On Hold" not in config.statuses
    assert (config.issue_type, config.resolution) == ("Bug", "Done")


def test_status_entries_override_the_defaults_one_by_one() -> None:
    config = _decode(statuses={"On Hold": "Blocked", "Resolved": "Resolved"})

    assert config.statuses["On Hold"] == "Blocked"
    assert config.statuses["Resolved"] == "Resolved"
    assert config.statuses["New"] == "To Do"


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"url": "jira.example.com"}, "url"),
        ({"url": "https://bot:api-token@jira.example.com"}, "no credentials in the URL"),
        ({"project": " "}, "project"),
        ({"token": ""}, "token"),
        ({"labels": ["data quality"]}, "labels"),
        ({"fields": {"severity": "customfield_1"}}, "fields.severity"),
        ({"fields": {"urgency": "custom field"}}, "fields.urgency"),
        ({"fields": {"urgency": "customfield_1", "impact": "customfield_1"}}, "fields.impact"),
        ({"statuses": {"Done": "Done"}}, "statuses.Done"),
        ({"resolutions": {"Fixed": "Done"}}, "resolutions.Fixed"),
        ({"paths": {"Resolved": []}}, "paths.Resolved"),
        ({"deployment": "datacenter"}, "deployment"),
        ({"assignee_by": "email"}, "assignee_by"),
        ({"timeout": 0}, "timeout"),
        ({"retry": {"attempts": 0}}, "retry.attempts"),
        ({"password": "x"}, "password"),
        ({"api": 4}, "api"),
        ({"issue_write_interval_ms": -1}, "issue_write_interval_ms"),
        ({"api": "3"}, "api"),
        ({"api": 3, "trusted_markup": ["comment"]}, "trusted_markup"),
        ({"api": 3, "deployment": "server"}, "api"),
    ],
)
def test_mistakes_are_refused_naming_the_key(changes: dict[str, Any], named: str) -> None:
    with pytest.raises(msgspec.ValidationError) as failure:
        _decode(**changes)

    assert named in str(failure.value)
