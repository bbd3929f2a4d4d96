"""A long-lived worker sees a Jira admin's screen change: a rejected create re-reads createmeta."""

from __future__ import annotations

import pytest

from connectors.base import CreateRequest
from connectors.emulators.jira import ScreenField
from connectors.jira import config as jira_config
from connectors.jira import connector as jira
from gateway.core.models import TicketFields
from gateway.core.outbound import PermanentError
from tests.conftest import TRACKER_ENV, Trackers


def test_a_field_that_became_a_select_list_is_sent_as_one_after_the_rejection(trackers: Trackers) -> None:
    connector = jira.build(
        jira_config.JiraTarget(
            url=trackers.jira_server.url,
            user="sandbox",
            token=TRACKER_ENV["JIRA_API_TOKEN"],
            project="DQ",
            fields={"assignment_group": "customfield_10103"},
        )
    )
    fields = TicketFields(short_description="orders check failed", assignment_group="data-platform")
    connector.create(CreateRequest(number="DQ-1", correlation_key="qualytics:1", fields=fields))
    assert trackers.issues()[0]["fields"]["customfield_10103"] == "data-platform"

    # The admin turns "Assignment group" into a select list; the worker's cached createmeta says text.
    select = "com.atlassian.jira.plugin.system.customfieldtypes:select"
    trackers.jira.screen["customfield_10103"] = ScreenField(
        "Assignment group", "option", allowed=["data-platform"], custom=select
    )
    second = CreateRequest(number="DQ-2", correlation_key="qualytics:2", fields=fields)
    with pytest.raises(PermanentError) as rejected:
        connector.create(second)
    assert "customfield_10103" in rejected.value.message
    connector.create(second)  # the retry from the log, after the rejection
    assert trackers.issues()[1]["fields"]["customfield_10103"] == {"value": "data-platform"}
