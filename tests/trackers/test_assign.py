"""Assigning a linked ticket through each connector, against the emulators' user rules."""

from __future__ import annotations

import pytest

from connectors.base import AssignRequest, CreateRequest
from connectors.jira import config as jira_config
from connectors.jira import connector as jira
from connectors.servicenow import config as snow_config
from connectors.servicenow import connector as servicenow
from gateway.core.models import TicketFields
from gateway.core.outbound import PermanentError
from tests.conftest import TRACKER_ENV, Trackers


def targets(trackers: Trackers) -> tuple[jira.JiraConnector, servicenow.ServiceNowConnector]:
    jira_connector = jira.build(
        jira_config.JiraTarget(
            url=trackers.jira_server.url, user="sandbox", token=TRACKER_ENV["JIRA_API_TOKEN"], project="DQ"
        )
    )
    snow_connector = servicenow.build(
        snow_config.ServiceNowTarget(
            url=trackers.snow_server.url, user="sandbox", password=TRACKER_ENV["SERVICENOW_PASSWORD"]
        )
    )
    return jira_connector, snow_connector


def assign_to(connector: jira.JiraConnector | servicenow.ServiceNowConnector, assignee: str) -> AssignRequest:
    """A fresh ticket in the tracker, and the request that gives it to `assignee`."""
    fields = TicketFields(short_description="orders check failed", urgency="High", impact="Low")
    link = connector.create(CreateRequest(number="DQ-1", correlation_key="qualytics:1", fields=fields))
    return AssignRequest(number="DQ-1", link=link, assignee=assignee)


def test_both_trackers_take_an_assignee(trackers: Trackers) -> None:
    jira_connector, snow_connector = targets(trackers)
    jira_connector.assign(assign_to(jira_connector, "bob"))
    snow_connector.assign(assign_to(snow_connector, "jane.doe"))
    assert trackers.issues()[0]["fields"]["assignee"] == {"name": "bob"}
    assert trackers.incidents()[0]["assigned_to"] == trackers.snow.lookup("sys_user", "jane.doe")


def test_jira_refuses_an_unknown_user_permanently(trackers: Trackers) -> None:
    jira_connector, _ = targets(trackers)
    with pytest.raises(PermanentError) as refused:
        jira_connector.assign(assign_to(jira_connector, "nobody"))
    assert "assignee: User 'nobody' does not exist." in refused.value.message
