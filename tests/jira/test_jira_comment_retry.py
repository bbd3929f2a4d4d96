"""A retried comment looks for itself among the issue's newest comments before it is posted again."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from connectors.base import CommentRequest, RemoteTicket
from connectors.jira.adf import document

if TYPE_CHECKING:
    from conftest import Jira

TEXT = "Seen again in {code}orders{code}:\n- customer_id\n\nhttps://qualytics.example/anomalies/42"


def said(link: RemoteTicket, text: str = TEXT, **retry: Any) -> CommentRequest:
    return CommentRequest(number="DQ-1", link=link, text=text, **retry)


@pytest.mark.parametrize(("deployment", "api"), [("Server", 2), ("Cloud", 3)])
def test_a_retry_takes_the_comment_its_first_try_posted(
    make_jira: Callable[..., Jira], deployment: str, api: int
) -> None:
    jira = make_jira(deployment=deployment)
    connector = jira.connector(api=api)
    remote = connector.create(jira.create_request(assigned_to="alice" if api == 2 else "557058:5e6f7a8b-alice"))
    posted = connector.post_comment(said(remote, first_try=True))
    assert not jira.requests("GET", r"/comment$")  # the first try posts at once

    again = connector.post_comment(said(remote, since=time.time() - 300))

    assert again == posted
    [issue] = jira.issues()
    assert len(issue["comments"]) == 1 and (api == 2 or issue["comments"] == [document(TEXT)])
    [looked] = jira.requests("GET", r"/comment$")
    assert looked.path.startswith(f"/rest/api/{api}/") and looked.query["orderBy"] == ["-created"]


def test_a_document_jira_reshaped_is_still_the_same_comment(make_jira: Callable[..., Jira]) -> None:
    """Cloud gives back its own form of a document (attributes added, text nodes merged or split)."""
    jira = make_jira(deployment="Cloud")
    connector = jira.connector(api=3)
    remote = connector.create(jira.create_request(assigned_to="557058:5e6f7a8b-alice"))
    posted = connector.post_comment(said(remote, "first line\nsecond line", first_try=True))
    [issue] = jira.emulator.issues.values()
    issue["comments"][0] = {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "paragraph",
                "attrs": {"localId": "p1"},
                "content": [
                    {"type": "text", "text": "first "},
                    {"type": "text", "text": "line"},
                    {"type": "hardBreak"},
                    {"type": "text", "text": "second line"},
                ],
            }
        ],
    }

    assert connector.post_comment(said(remote, "first line\nsecond line")) == posted
    assert connector.post_comment(said(remote, "first line second line")) != posted  # other text: posted
    assert len(issue["comments"]) == 2


def test_an_equal_comment_from_before_the_execution_or_other_words_are_posted(make_jira: Callable[..., Jira]) -> None:
    jira = make_jira()
    connector = jira.connector()
    remote = connector.create(jira.create_request())
    first = connector.post_comment(said(remote, "still failing", first_try=True))

    later = connector.post_comment(said(remote, "still failing", since=time.time() + 60))  # dated before: not ours
    other = connector.post_comment(said(remote, "rerun scheduled", since=time.time() - 60))

    assert len({first, later, other}) == 3
    assert jira.issues()[0]["comments"] == ["still failing", "still failing", "rerun scheduled"]


def test_a_status_notes_retry_finds_the_note(make_jira: Callable[..., Jira]) -> None:
    jira = make_jira()
    connector = jira.connector()
    remote = connector.create(jira.create_request())
    request = jira.status_request(remote, "Resolved", note="fixed upstream")
    connector.set_status(request)
    connector.set_status(request)  # first_try is off: the retry of a move whose answer was lost

    [issue] = jira.issues()
    assert (issue["status"], issue["comments"]) == ("Done", ["fixed upstream"])
