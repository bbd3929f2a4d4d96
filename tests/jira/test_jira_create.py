"""Create Ticket through the real `jira` client: field placement, idempotency, Cloud, auth."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from jira import JIRA, JIRAError

from connectors.base import CommentRequest
from connectors.emulators.base import Fault
from connectors.emulators.jira import ScreenField, default_screen
from connectors.jira.config import correlation_label
from gateway.core.outbound import PermanentError, RetryableError

if TYPE_CHECKING:
    from conftest import Jira


def test_every_create_ticket_field_lands_where_the_mapping_says(jira: Jira) -> None:
    connector = jira.connector(components=["Pipelines"])

    remote = connector.create(jira.create_request("qualytics:42"))

    [issue] = jira.issues()
    fields = issue["fields"]
    assert fields["summary"] == "not_null failed on orders.customer_id"
    assert fields["description"].startswith("3 rows with a null customer_id")
    assert fields["priority"] == {"name": "Highest"}
    assert fields["labels"] == ["data-quality", correlation_label("qualytics:42")]
    assert fields["components"] == [{"name": "Pipelines"}, {"name": "Data Quality"}]
    assert fields["assignee"] == {"name": "alice"}
    assert fields["customfield_10101"] == {"value": "High"}
    assert fields["customfield_10102"] == {"value": "Medium"}
    assert fields["customfield_10103"] == "data-platform"
    assert fields["customfield_10104"] == "Validation Error"
    assert remote.external_id == issue["id"]
    assert remote.external_key == "DQ-1"
    assert remote.url == f"{jira.url}/browse/DQ-1"
    assert (remote.remote_status, remote.remote_priority) == ("To Do", "Highest")


def test_fields_the_mapping_leaves_empty_are_not_sent(jira: Jira) -> None:
    connector = jira.connector(labels=[])
    empty = dict.fromkeys(
        [
            "description",
            "priority",
            "urgency",
            "impact",
            "category",
            "subcategory",
            "assignment_group",
            "assigned_to",
        ],
        "",
    )

    connector.create(jira.create_request(**empty))

    [sent] = [r.body for r in jira.requests("POST", r"/issue$")]
    assert sorted(sent["fields"]) == ["issuetype", "labels", "project", "summary"]
    assert sent["fields"]["project"] == {"key": "DQ"}
    assert sent["fields"]["issuetype"] == {"name": "Bug"}


def test_correlation_label_is_short_stable_and_has_no_spaces() -> None:
    label = correlation_label("qualytics:anomaly with spaces " + "x" * 500)
    assert label == correlation_label("qualytics:anomaly with spaces " + "x" * 500)
    assert label.startswith("dqgw-") and " " not in label and len(label) < 255
    assert label != correlation_label("qualytics:other")


def test_a_new_ticket_whose_status_is_not_the_initial_one_is_moved(jira: Jira) -> None:
    remote = jira.connector().create(jira.create_request(status="In Progress"))

    assert remote.remote_status == "In Progress"
    assert jira.issues()[0]["history"] == ["To Do", "In Progress"]


def test_creating_twice_leaves_one_issue(jira: Jira) -> None:
    connector = jira.connector()

    first = connector.create(jira.create_request("qualytics:42"))
    second = connector.create(jira.create_request("qualytics:42"))
    other = connector.create(jira.create_request("qualytics:43"))

    assert first == second
    assert other.external_key == "DQ-2"
    assert len(jira.issues()) == 2
    assert len(jira.requests("POST", r"/issue$")) == 2


def test_a_create_whose_answer_was_lost_is_not_made_twice(jira: Jira) -> None:
    connector = jira.connector()
    jira.emulator.inject(Fault(kind="drop_after", method="POST", path=r"/issue$"))

    with pytest.raises(RetryableError):
        connector.create(jira.create_request("qualytics:42", status="In Progress"))
    assert len(jira.issues()) == 1  # Jira made it; the gateway never heard back

    remote = connector.create(jira.create_request("qualytics:42", status="In Progress"))

    [issue] = jira.issues()
    assert remote.external_key == issue["key"]
    assert issue["status"] == "In Progress"  # the re-run finishes what the first attempt began


def test_a_rerun_by_a_fresh_worker_finds_the_issue(jira: Jira) -> None:
    jira.connector().create(jira.create_request("qualytics:42"))

    remote = jira.connector().create(jira.create_request("qualytics:42"))

    assert remote.external_key == "DQ-1"
    assert len(jira.issues()) == 1


def test_cloud_searches_with_the_new_jql_endpoint_and_assigns_by_account(
    make_jira: Callable[..., Jira],
) -> None:
    jira = make_jira(deployment="Cloud")
    connector = jira.connector()

    account = "557058:5e6f7a8b-alice"
    connector.create(jira.create_request("qualytics:42", assigned_to=account))
    connector.create(jira.create_request("qualytics:42", assigned_to=account))

    assert len(jira.issues()) == 1
    assert len(jira.requests("GET", r"/serverInfo$")) == 1  # asked once, then kept
    assert len(jira.requests("POST", r"^/rest/api/3/search/jql$")) == 2
    assert jira.requests("GET", r"/search$") == []
    assert jira.issues()[0]["fields"]["assignee"] == {"accountId": "557058:5e6f7a8b-alice"}


def test_cloud_with_an_unknown_assignee_is_refused_by_name(make_jira: Callable[..., Jira]) -> None:
    jira = make_jira(deployment="Cloud")

    with pytest.raises(PermanentError) as failure:
        jira.connector().create(jira.create_request(assigned_to="zed@example.com"))

    assert f"Jira user 'zed@example.com' not found at {jira.url}: no active user matches" in failure.value.message
    assert jira.issues() == []


def test_a_server_target_against_cloud_says_the_old_search_is_retired(make_jira: Callable[..., Jira]) -> None:
    jira = make_jira(deployment="Cloud")

    with pytest.raises(PermanentError) as failure:
        jira.connector(deployment="server").create(jira.create_request())

    assert failure.value.http_status == 410
    assert "deployment: cloud" in failure.value.message


def test_configured_deployment_skips_server_info(jira: Jira) -> None:
    jira.connector(deployment="server").create(jira.create_request())

    assert jira.requests("GET", r"/serverInfo$") == []


def test_a_bearer_personal_access_token_works(make_jira: Callable[..., Jira]) -> None:
    jira = make_jira(users={}, tokens={"pat-0123456789"})

    remote = jira.connector(user="", token="pat-0123456789").create(jira.create_request())

    assert remote.external_key == "DQ-1"


def test_a_wrong_token_is_a_permanent_auth_failure(jira: Jira) -> None:
    with pytest.raises(PermanentError) as failure:
        jira.connector(token="wrong-token").create(jira.create_request())

    assert failure.value.http_status == 401
    assert "credentials" in failure.value.message


def test_create_metadata_is_read_once_per_process(jira: Jira) -> None:
    jira.connector().create(jira.create_request("qualytics:1"))
    jira.connector().create(jira.create_request("qualytics:2"))

    assert len(jira.requests("GET", r"/createmeta/DQ/issuetypes/\d+$")) == 1


def test_an_issue_type_the_project_lacks_is_named_with_the_ones_it_has(jira: Jira) -> None:
    with pytest.raises(PermanentError) as failure:
        jira.connector(issue_type="Incident").create(jira.create_request())

    assert "'Incident'" in failure.value.message and "Bug" in failure.value.message
    assert jira.issues() == []


def test_comment_adds_the_text_to_the_issue(jira: Jira) -> None:
    connector = jira.connector()
    remote = connector.create(jira.create_request())

    connector.comment(CommentRequest(number="DQ-1", link=remote, text="Recurred at 10:42 (3rd time)"))

    assert jira.issues()[0]["comments"] == ["Recurred at 10:42 (3rd time)"]


def test_create_metadata_is_read_across_pages(make_jira: Callable[..., Jira]) -> None:
    extra = {f"customfield_2{i:04d}": ScreenField(f"Extra {i}", "string") for i in range(150)}
    jira = make_jira(screen={**extra, **default_screen()})  # the mapped fields sit on page two

    jira.connector().create(jira.create_request())

    assert jira.issues()[0]["fields"]["customfield_10101"] == {"value": "High"}
    assert len(jira.requests("GET", r"/createmeta/DQ/issuetypes/\d+$")) == 2


def test_a_summary_past_255_characters_is_cut_with_an_ellipsis_and_the_cut_noted(jira: Jira) -> None:
    long = "row count dropped " + "x" * 300

    remote = jira.connector().create(jira.create_request(short_description=long))

    [issue] = jira.issues()
    summary = issue["fields"]["summary"]
    assert len(summary) == 255 and summary.endswith("\u2026") and summary.startswith("row count dropped x")
    assert remote.notes == [f"summary cut from {len(long)} to 255 characters (Jira's limit)"]


def test_a_summary_cut_keeps_a_letter_with_its_accent(jira: Jira) -> None:
    """The cut falls after a whole character: Jira would show an e parted from its accent (or half an emoji)."""
    accented = "x" * 253 + "e\u0301 and more"  # é as e + combining accent, at 254-255: the ellipsis would part them

    jira.connector().create(jira.create_request(short_description=accented))

    assert jira.issues()[0]["fields"]["summary"] == "x" * 253 + "\u2026"


def test_a_summary_written_over_several_lines_is_sent_as_one(jira: Jira) -> None:
    """Jira refuses a summary with a line break (a Soda check defined over two lines gives one)."""
    remote = jira.connector().create(jira.create_request(short_description="row count\n  dropped\r\non orders"))

    [issue] = jira.issues()
    assert issue["fields"]["summary"] == "row count dropped on orders" and remote.notes == []
    raw = {"project": {"key": "DQ"}, "issuetype": {"name": "Bug"}, "summary": "two\nlines"}
    refused = JIRA(jira.url, basic_auth=(jira.user, jira.token)).create_issue  # the raw text, as Jira answers it
    with pytest.raises(JIRAError, match="The summary is invalid because it contains newline characters"):
        refused(fields=raw)


def test_a_value_mapped_to_labels_is_sent_without_spaces(jira: Jira) -> None:
    fields = {"category": "labels"}

    remote = jira.connector(fields=fields).create(jira.create_request(category="Data Quality"))

    [issue] = jira.issues()
    assert "Data-Quality" in issue["fields"]["labels"]
    assert remote.notes == ["category: label 'Data-Quality' sent (Jira labels: no spaces, 255 characters at most)"]


LABELS_TYPE = "com.atlassian.jira.plugin.system.customfieldtypes:labels"


def test_a_value_mapped_to_a_labels_custom_field_is_sent_without_spaces(make_jira: Callable[..., Jira]) -> None:
    """A custom field of the labels type takes Jira labels as the built-in one does: no spaces."""
    jira = make_jira(
        screen={**default_screen(), "customfield_10200": ScreenField("Checks", "labels", custom=LABELS_TYPE)}
    )
    mapping = {"urgency": "customfield_10101", "subcategory": "customfield_10200"}

    remote = jira.connector(fields=mapping).create(jira.create_request(subcategory="Validation  Error"))

    [issue] = jira.issues()
    assert issue["fields"]["customfield_10200"] == ["Validation-Error"]
    assert remote.notes == [
        "subcategory: label 'Validation-Error' sent (Jira labels: no spaces, 255 characters at most)"
    ]


@pytest.mark.parametrize(
    ("deployment", "message"),
    [
        ("Server", "The label 'two words' contains spaces which is invalid."),
        ("Cloud", "The label 'two words' can't contain spaces."),
    ],
)
def test_jira_refuses_a_label_with_a_space_in_a_labels_custom_field(
    make_jira: Callable[..., Jira], deployment: str, message: str
) -> None:
    screen = {**default_screen(), "customfield_10200": ScreenField("Checks", "labels", custom=LABELS_TYPE)}
    jira = make_jira(screen=screen, deployment=deployment)
    raw = {"project": {"key": "DQ"}, "issuetype": {"name": "Bug"}, "summary": "s", "customfield_10200": ["two words"]}
    client = JIRA(jira.url, basic_auth=(jira.user, jira.token), get_server_info=False)
    with pytest.raises(JIRAError) as refused:
        client.create_issue(fields=raw)
    assert refused.value.status_code == 400
    assert refused.value.response.json()["errors"] == {"customfield_10200": message}
    assert jira.issues() == []
