"""`api: 3`: descriptions and comments reach Jira Cloud as Atlassian Document Format over api/3."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
import requests

from connectors.base import CommentRequest
from connectors.emulators.adf import NOT_A_DOCUMENT
from connectors.jira.adf import document
from gateway.core.outbound import PermanentError

if TYPE_CHECKING:
    from conftest import Jira

DESCRIPTION = "Nulls found:\n- orders.customer_id\n\nhttps://qualytics.example/anomalies/42\n```\n{code}x{code}\n```"


def test_api_3_creates_and_comments_with_adf_documents(make_jira: Callable[..., Jira]) -> None:
    jira = make_jira(deployment="Cloud")
    connector = jira.connector(api=3)
    remote = connector.create(jira.create_request(description=DESCRIPTION, assigned_to="alice"))
    connector.comment(CommentRequest(number="DQ-1", link=remote, text="seen again: https://x.example/1"))

    [issue] = jira.issues()
    assert issue["fields"]["description"] == document(DESCRIPTION)
    assert issue["comments"] == [document("seen again: https://x.example/1")]
    assert jira.requests("POST", r"^/rest/api/3/issue$") and jira.requests("POST", r"^/rest/api/3/issue/\d+/comment$")
    assert not jira.requests("POST", r"^/rest/api/2/")


def test_api_3_against_server_or_data_center_says_to_use_api_2_and_sends_nothing(
    make_jira: Callable[..., Jira],
) -> None:
    """Server and Data Center have no /rest/api/3: every write there would be a bare 404 'no such resource'."""
    jira = make_jira()  # Server
    connector = jira.connector(api=3)

    with pytest.raises(PermanentError) as failure:
        connector.create(jira.create_request(description=DESCRIPTION))

    assert "api: 3" in failure.value.message and "Server/Data Center" in failure.value.message
    assert not jira.issues() and not jira.requests("POST", r"")


def test_api_2_is_unchanged_wiki_text(make_jira: Callable[..., Jira]) -> None:
    jira = make_jira(deployment="Cloud")
    connector = jira.connector()
    remote = connector.create(jira.create_request(description="a {code} b", assigned_to="alice"))
    connector.comment(CommentRequest(number="DQ-1", link=remote, text="[x|http://y]"))

    [issue] = jira.issues()
    assert issue["fields"]["description"] == r"a \{code\} b"
    assert issue["comments"] == [r"\[x\|http://y\]"]


@pytest.mark.parametrize("body", ["plain text", {"type": "doc", "version": 1, "content": [{"type": "text"}]}])
def test_the_emulator_refuses_what_is_not_a_document_on_api_3(make_jira: Callable[..., Jira], body: object) -> None:
    jira = make_jira(deployment="Cloud")  # api 3 is Cloud's: Server answers 404 there
    auth = (jira.user, jira.token)
    fields = {"project": {"key": "DQ"}, "issuetype": {"name": "Bug"}, "summary": "s", "description": body}
    created = requests.post(f"{jira.url}/rest/api/3/issue", json={"fields": fields}, auth=auth, timeout=5)
    assert created.status_code == 400
    assert created.json()["errors"] == {"description": NOT_A_DOCUMENT}

    fields["description"] = document("fine")
    created = requests.post(f"{jira.url}/rest/api/3/issue", json={"fields": fields}, auth=auth, timeout=5)
    assert created.status_code == 201
    key = created.json()["key"]
    refused = requests.post(f"{jira.url}/rest/api/3/issue/{key}/comment", json={"body": body}, auth=auth, timeout=5)
    assert refused.status_code == 400 and NOT_A_DOCUMENT in refused.text
    assert jira.issues()[0]["comments"] == []
