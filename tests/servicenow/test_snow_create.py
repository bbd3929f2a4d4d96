"""Create Ticket through pysnow: fields, derived priority, idempotency, correlation keys."""

from __future__ import annotations

from collections.abc import Callable

from connectors.base import CreateRequest
from connectors.emulators.base import Fault
from connectors.emulators.servicenow import ServiceNowEmulator
from connectors.servicenow.config import correlation_id
from connectors.servicenow.connector import ServiceNowConnector
from gateway.core.outbound import RetryableError

NewRequest = Callable[..., CreateRequest]


def test_every_create_ticket_field_lands_and_the_instance_derives_priority(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, new_request: NewRequest
) -> None:
    request = new_request(
        description="12 null rows in orders.customer_id",
        status="New",
        priority="Low",
        urgency="High",
        impact="Medium",
        category="data_quality",
        subcategory="Validation Error",
        assignment_group="data-platform",
        assigned_to="jane.doe",
    )
    ticket = connector.create(request)

    [incident] = emulator.incidents()
    assert incident["short_description"] == "Null check failed on orders"
    assert incident["description"] == "12 null rows in orders.customer_id"
    assert (incident["urgency"], incident["impact"], incident["priority"]) == ("1", "2", "2")
    assert (incident["category"], incident["subcategory"]) == ("data_quality", "Validation Error")
    assert incident["assignment_group"] == emulator.lookup("sys_user_group", "data-platform")
    assert incident["assigned_to"] == emulator.lookup("sys_user", "jane.doe")
    assert incident["caller_id"] == emulator.lookup("sys_user", "dq.gateway")
    assert (incident["state"], incident["correlation_id"], incident["correlation_display"]) == (
        "1",
        "qualytics:1001",
        "DQ-1",
    )
    assert ticket.external_id == incident["sys_id"] and len(ticket.external_id) == 32
    assert ticket.external_key == "INC0010001"
    assert (ticket.remote_status, ticket.remote_priority) == ("1", "2")
    assert ticket.url.endswith(f"/nav_to.do?uri=incident.do?sys_id={incident['sys_id']}")
    [post] = [entry for entry in emulator.log if entry.method == "POST"]
    assert "priority" not in post.body


def test_a_priority_alone_becomes_urgency_and_impact(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, new_request: NewRequest
) -> None:
    ticket = connector.create(new_request(priority="Critical", urgency="", impact=""))
    [incident] = emulator.incidents()
    assert (incident["urgency"], incident["impact"]) == ("1", "1")
    assert ticket.remote_priority == "1"


def test_a_ticket_created_on_hold_or_resolved_carries_what_the_instance_asks_for_that_state(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, new_request: NewRequest
) -> None:
    """The data policy holds on insert as on update: a create straight into On Hold needs its reason, one into
    Resolved its close code and notes (DESIGN.md's create_ticket takes any status; Jira walks to it)."""
    held = connector.create(new_request(key="qualytics:1", status="On Hold"))
    resolved = connector.create(new_request(key="qualytics:2", number="DQ-2", status="Resolved"))

    assert (held.remote_status, resolved.remote_status) == ("3", "6")
    on_hold, done = emulator.incidents()
    assert on_hold["hold_reason"] == "1"
    assert done["close_code"] == "Solution provided" and done["close_notes"].endswith("(DQ-2)")


def test_a_summary_longer_than_the_incidents_160_characters_is_cut_with_an_ellipsis_before_it_is_sent(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, new_request: NewRequest
) -> None:
    """The instance would keep the first 160 characters and drop the rest without a word, mid-word or between
    a letter and its accent; the connector cuts at a whole character, ends with an ellipsis and says so."""
    accented = "Row count check failed on db " + "orders_" * 18 + "cafe\u0301 and more"  # é: e + combining accent
    assert accented[158:160] == "e\u0301"  # 159 characters and the ellipsis would part them
    ticket = connector.create(new_request(short_description=accented))
    coder = "\N{WOMAN}\u200d\N{PERSONAL COMPUTER}"  # one emoji: woman, zero-width joiner, computer
    joined = "Freshness check failed, on call: " + "x" * 124 + coder + " and the rest"
    assert joined[157:160] == coder
    connector.create(new_request(key="qualytics:2", number="DQ-2", short_description=joined))
    short = connector.create(new_request(key="qualytics:3", number="DQ-3", short_description="y" * 160))

    first, second, third = (record["short_description"] for record in emulator.incidents())
    assert first == accented[:158] + "\u2026"  # the e goes with its accent
    assert second == joined[:157] + "\u2026"  # the emoji goes whole
    assert third == "y" * 160  # what fits is sent as it is
    assert ticket.notes == [f"short_description cut from {len(accented)} to 160 characters (the incident's limit)"]
    assert short.notes == []


def test_empty_fields_are_not_sent(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, new_request: NewRequest
) -> None:
    connector.create(new_request(assigned_to="", subcategory=""))
    [post] = [entry for entry in emulator.log if entry.method == "POST"]
    assert "assigned_to" not in post.body and "subcategory" not in post.body


def test_creating_twice_leaves_one_incident(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, new_request: NewRequest
) -> None:
    first = connector.create(new_request())
    second = connector.create(new_request())
    assert second.external_id == first.external_id
    assert len(emulator.incidents()) == 1


def test_a_create_whose_answer_was_lost_is_found_on_the_retry(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, new_request: NewRequest
) -> None:
    emulator.inject(Fault(kind="drop_after", method="POST"))
    try:
        connector.create(new_request())
    except RetryableError:
        pass
    else:
        raise AssertionError("the dropped answer should have been a retryable error")
    again = connector.create(new_request())
    [incident] = emulator.incidents()
    assert again.external_key == incident["number"]


def test_long_correlation_keys_hash_deterministically(
    connect: Callable[..., ServiceNowConnector], emulator: ServiceNowEmulator, new_request: NewRequest
) -> None:
    long_key = "qualytics:" + "orders.customer_id/" * 10
    assert correlation_id(long_key) == correlation_id(long_key)
    assert len(correlation_id(long_key)) <= 100
    assert correlation_id(long_key + "x") != correlation_id(long_key)
    assert correlation_id("qualytics:1") == "qualytics:1"

    first, second = connect(), connect()
    created = first.create(new_request(key=long_key))
    found = second.create(new_request(key=long_key))
    assert found.external_id == created.external_id
    [incident] = emulator.incidents()
    assert incident["correlation_id"] == correlation_id(long_key)


def test_queries_in_a_row_each_find_their_own_record(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, new_request: NewRequest
) -> None:
    """Regression: a reused pysnow resource carried one query into the next call."""
    one = connector.create(new_request(key="qualytics:1", number="DQ-1"))
    two = connector.create(new_request(key="qualytics:2", number="DQ-2"))
    assert connector.create(new_request(key="qualytics:1")).external_id == one.external_id
    assert connector.create(new_request(key="qualytics:2")).external_id == two.external_id
    assert one.external_id != two.external_id
    assert len(emulator.incidents()) == 2
    assert all(entry.query["sysparm_query"] == [""] for entry in emulator.log if entry.method == "POST")


def test_references_go_as_sys_ids_or_by_name_with_display_input(
    connect: Callable[..., ServiceNowConnector], emulator: ServiceNowEmulator, new_request: NewRequest
) -> None:
    group, jane = emulator.lookup("sys_user_group", "data-platform"), emulator.lookup("sys_user", "jane.doe")
    caller = emulator.lookup("sys_user", "dq.gateway")
    by_id = connect(caller=caller).create(new_request(key="k:1", assignment_group=group, assigned_to=jane))
    by_name = connect().create(new_request(key="k:2", assignment_group="data-platform", assigned_to="Jane Doe"))

    creates = [entry for entry in emulator.log if entry.method == "POST"]
    assert [entry.query.get("sysparm_input_display_value") for entry in creates] == [None, ["true"]]
    records = {record["sys_id"]: record for record in emulator.incidents()}
    for ticket in (by_id, by_name):
        record = records[ticket.external_id]
        assert (record["assignment_group"], record["assigned_to"], record["caller_id"]) == (group, jane, caller)
