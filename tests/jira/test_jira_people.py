"""Jira people and moved issues: Cloud assigns by accountId (e-mails and names found by user search),
Data Center by name; an issue moved to another project is still found by its id and its new key kept."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connectors.base import AssignRequest, RemoteTicket
from gateway.core.outbound import PermanentError
from tests.jira.conftest import Jira

ALICE = "557058:5e6f7a8b-alice"


def _assign(jira: Jira, link: RemoteTicket, who: str, **overrides: str) -> RemoteTicket:
    return jira.connector(**overrides).assign(AssignRequest(number="DQ-1", link=link, assignee=who))


def test_cloud_turns_an_email_or_name_into_an_account_id_once(make_jira: Callable[..., Jira]) -> None:
    jira = make_jira(deployment="Cloud")
    link = jira.connector().create(jira.create_request())

    _assign(jira, link, "alice@example.com")
    assert jira.issues()[0]["fields"]["assignee"] == {"accountId": ALICE}
    _assign(jira, link, "alice@example.com")
    _assign(jira, link, "bob")
    assert jira.issues()[0]["fields"]["assignee"] == {"accountId": "557058:9c0d-bob"}
    searched = [r.query["query"] for r in jira.requests("GET", r"/rest/api/2/user/search$")]
    # the create's assignee (alice), then each new query once: the second e-mail came from the cache
    assert searched == [["alice"], ["alice@example.com"], ["bob"]]


def test_cloud_preview_shows_the_resolved_account(make_jira: Callable[..., Jira]) -> None:
    jira = make_jira(deployment="Cloud")
    preview = jira.connector().preview(jira.create_request(assigned_to="Alice"))
    assert preview["assignee"] == {"accountId": ALICE}
    assert jira.issues() == []


def test_cloud_unknown_or_ambiguous_users_fail_for_good_naming_them(make_jira: Callable[..., Jira]) -> None:
    people = {"alice": ALICE, "alicia": "557058:77-alicia", "bob": "557058:9c0d-bob"}
    jira = make_jira(deployment="Cloud", people=people)
    link = jira.connector().create(jira.create_request())

    with pytest.raises(PermanentError) as unknown:
        _assign(jira, link, "zed@example.com")
    assert unknown.value.message == (
        f"Jira user 'zed@example.com' not found at {jira.url}: no active user matches; give the user's accountId"
    )
    with pytest.raises(PermanentError) as ambiguous:
        _assign(jira, link, "ali")
    assert "2 users match (Alice, Alicia)" in ambiguous.value.message
    assert jira.issues()[0]["fields"]["assignee"] == {"accountId": ALICE}  # the create's "alice", unchanged


def test_data_center_assigns_by_name_without_searching(jira: Jira) -> None:
    link = jira.connector().create(jira.create_request())
    _assign(jira, link, "alice")
    assert jira.issues()[0]["fields"]["assignee"] == {"name": "alice"}
    assert jira.requests("GET", r"/user/search") == []


def test_a_moved_issue_is_found_by_id_and_its_new_key_returned(jira: Jira) -> None:
    connector = jira.connector()
    link = connector.create(jira.create_request())
    assert (link.external_key, link.external_id) == ("DQ-1", jira.issues()[0]["id"])
    new_key = jira.emulator.move_issue("DQ-1", "OPS")
    old_key_reads = len(jira.requests("GET", r"/issue/DQ-1$"))

    moved = connector.set_status(jira.status_request(link, "Resolved", note="fixed"))
    _assign(jira, moved, "alice")

    assert (new_key, moved.external_key, moved.external_id) == ("OPS-1", "OPS-1", link.external_id)
    assert moved.url == f"{jira.url}/browse/OPS-1"
    [issue] = jira.issues()
    assert (issue["status"], issue["fields"]["assignee"]) == ("Done", {"name": "alice"})
    assert issue["comments"] == ["fixed"]
    assert len(jira.requests("GET", r"/issue/DQ-1$")) == old_key_reads  # addressed by id, not the old key
    with pytest.raises(PermanentError) as by_old_key:  # what a link holding only the key would meet
        connector.set_status(jira.status_request(RemoteTicket(external_id="", external_key="DQ-1"), "Resolved"))
    assert by_old_key.value.http_status == 404
