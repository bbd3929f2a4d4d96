"""The connector's requests and the emulator's answers follow Atlassian's OpenAPI description."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
import requests

from connectors.base import CommentRequest

if TYPE_CHECKING:
    from conftest import Jira, OpenApi


@pytest.mark.parametrize(("deployment", "api"), [("Server", 2), ("Cloud", 2), ("Cloud", 3)])
def test_every_request_the_connector_sends_is_valid(
    make_jira: Callable[..., Jira], openapi: OpenApi, deployment: str, api: int
) -> None:
    jira = make_jira(deployment=deployment)
    account = "557058:5e6f7a8b-alice" if deployment == "Cloud" else "alice"
    connector = jira.connector(api=api)
    remote = connector.create(jira.create_request("qualytics:1", status="In Progress", assigned_to=account))
    connector.create(jira.create_request("qualytics:1", assigned_to=account))
    connector.set_status(jira.status_request(remote, "Resolved", note="fixed upstream"))
    comment_id = connector.post_comment(CommentRequest(number="DQ-1", link=remote, text="closing note"))
    connector.edit_comment(CommentRequest(number="DQ-1", link=remote, text="closing note, edited"), comment_id)

    sent = list(jira.emulator.log)
    assert len(sent) > 10
    writes = [r.path.split("/")[3] for r in sent if r.method in ("POST", "PUT") and "search" not in r.path]
    assert writes and set(writes) == {str(api)}
    assert [e for r in sent for e in openapi.request_errors(r)] == []


def test_the_checker_catches_what_the_api_refuses(jira: Jira, openapi: OpenApi) -> None:
    from connectors.emulators.base import LoggedRequest

    numeric_id = LoggedRequest("POST", "/rest/api/2/issue/DQ-1/transitions", {}, {"transition": {"id": 31}}, 204)
    adf_on_api2 = LoggedRequest("POST", "/rest/api/2/issue/DQ-1/comment", {}, {"body": {"type": "doc"}}, 201)
    no_jql = LoggedRequest("POST", "/rest/api/3/search/jql", {}, {"maxResults": 1}, 200)

    assert any("expected string" in e for e in openapi.request_errors(numeric_id))
    assert openapi.request_errors(adf_on_api2) != []
    assert any("missing required 'jql'" in e for e in openapi.request_errors(no_jql))


def _get(jira: Jira, path: str, **params: Any) -> requests.Response:
    return requests.get(jira.url + path, params=params, auth=(jira.user, jira.token), timeout=5)


def test_the_emulators_answers_match_the_response_schemas(jira: Jira, openapi: OpenApi) -> None:
    schemas = openapi.schemas
    info = _get(jira, "/rest/api/2/serverInfo").json()
    body = {"fields": {"project": {"key": "DQ"}, "issuetype": {"name": "Bug"}, "summary": "s"}}
    created = requests.post(jira.url + "/rest/api/2/issue", json=body, auth=(jira.user, jira.token), timeout=5)
    transitions = _get(jira, "/rest/api/2/issue/DQ-1/transitions", expand="transitions.fields").json()
    refused = requests.post(
        jira.url + "/rest/api/2/issue", json={"fields": {}}, auth=(jira.user, jira.token), timeout=5
    )
    for text in ("first", "second"):
        requests.post(jira.url + "/rest/api/2/issue/DQ-1/comment", json={"body": text}, auth=(jira.user, jira.token))
    comments = _get(jira, "/rest/api/2/issue/DQ-1/comment", orderBy="-created", maxResults=1).json()

    assert openapi.errors(schemas["ServerInformation"], info, "serverInfo", request=False) == []
    assert created.status_code == 201
    assert openapi.errors(schemas["CreatedIssue"], created.json(), "create", request=False) == []
    assert openapi.errors(schemas["Transitions"], transitions, "transitions", request=False) == []
    assert refused.status_code == 400
    assert openapi.errors(schemas["ErrorCollection"], refused.json(), "400", request=False) == []
    assert openapi.errors(schemas["PageOfComments"], comments, "comments", request=False) == []
    assert (comments["total"], [c["body"] for c in comments["comments"]]) == (2, ["second"])  # newest first
