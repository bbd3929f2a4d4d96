"""Tickets people open from the catalog or ad hoc: through the API and chat to both sandbox trackers."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.rules.loader import MappingErrors, load_mappings
from tests.chatops.support import Trackers, slash, teams, tracker_gateway
from tests.conftest import LOCAL_MAPPINGS, Harness, MakeHarness

CATALOG = """
catalog:
  broken-dashboard:
    label: A dashboard shows wrong numbers
    targets: [jira, snow]
    fields:
      short_description: "{{ form.title }}"
      description: "{{ form.description }}\\n\\nReported by {{ form.requester }} ({{ form.item }})"
      status: New
      priority: High
      urgency: High
      impact: Medium
      category: Data Quality
      subcategory: Dashboard
      assignment_group: data-platform
    per_target:
      snow: {category: data_quality}
  late-load:
    targets: [snow]
    open: [title, description, priority]
    fields:
      short_description: "Late load: {{ form.title }}"
      priority: Low
      urgency: Low
      impact: Low
"""


def catalog_gateway(make_gateway: MakeHarness, trackers: Trackers) -> Harness:
    return tracker_gateway(make_gateway, trackers, chatops=CATALOG)


def open_ticket(gateway: Harness, body: dict[str, Any], actor: str | None = "alice") -> Any:
    headers = {"x-gateway-actor": actor} if actor else {}
    return gateway.client.post("/v1/tickets", json=body, headers=headers)


def nothing_written(gateway: Harness, trackers: Trackers) -> bool:
    return not gateway.tickets() and not gateway.executions() and not trackers.issues() and not trackers.incidents()


def test_a_catalog_ticket_through_the_api_reaches_both_trackers_with_the_items_defaults(
    make_gateway: MakeHarness, emulators: Trackers
) -> None:
    gateway = catalog_gateway(make_gateway, emulators)
    body = {"catalog": "broken-dashboard", "fields": {"title": "Revenue tile shows 0", "description": "Since 9:00"}}
    response = open_ticket(gateway, body)
    assert response.status_code == 201, response.text
    created = response.json()
    ticket = created["ticket"]
    assert ticket["number"] == "DQ-1" and ticket["state"] == "New"
    assert (ticket["source"], ticket["requester"], ticket["anomaly_ids"]) == ("user", "alice", [])
    assert ticket["correlation_key"].startswith("user:")
    [opened] = ticket["timeline"]
    assert (opened["kind"], opened["actor"], opened["data"]["catalog"]) == ("opened", "alice", "broken-dashboard")
    assert len(created["executions"]) == 2
    sla = ticket["sla"]  # the lifecycle's SLA for its priority (High: 30 minutes, 8 hours), as for any ticket
    assert 29 * 60 <= sla["response_left_s"] <= 30 * 60 and 8 * 3600 - 60 <= sla["resolution_left_s"] <= 8 * 3600
    gateway.drain()

    [issue], [incident] = emulators.issues(), emulators.incidents()
    fields = issue["fields"]
    assert fields["summary"] == "Revenue tile shows 0"
    assert fields["description"] == "Since 9:00\n\nReported by alice (broken-dashboard)"
    assert fields["priority"] == {"name": "High"}
    assert fields["components"] == [{"name": "Data Quality"}]
    assert fields["customfield_10103"] == "data-platform"
    assert fields["customfield_10104"] == "Dashboard"
    assert incident["short_description"] == "Revenue tile shows 0"
    assert (incident["urgency"], incident["impact"], incident["category"]) == ("1", "2", "data_quality")
    assert incident["correlation_id"] == ticket["correlation_key"]
    links = {link["target"]: link["external_key"] for link in gateway.ticket("DQ-1")["links"]}
    assert links == {"jira": issue["key"], "snow": incident["number"]}
    assert [e["status"] for e in gateway.executions()] == ["succeeded", "succeeded"]

    # the same lifecycle as any ticket: a person moves it and both trackers follow
    moved = gateway.client.post("/v1/tickets/DQ-1/status", json={"status": "In Progress"})
    assert moved.status_code == 202, moved.text
    gateway.drain()
    assert [i["status"] for i in emulators.issues()] == ["In Progress"]
    assert [i["state"] for i in emulators.incidents()] == ["2"]
    assert [t["number"] for t in gateway.tickets(source="user")] == ["DQ-1"]


def test_a_catalog_ticket_from_slack_and_teams_names_its_number(make_gateway: MakeHarness, emulators: Trackers) -> None:
    gateway = catalog_gateway(make_gateway, emulators)
    response = slash(gateway, "open broken-dashboard Revenue tile shows 0")
    assert response.status_code == 200
    assert response.json()["text"].startswith("Opened DQ-1 from broken-dashboard: Revenue tile shows 0.")
    answer = teams(gateway, "/ticket open late-load Orders landed at noon")
    assert answer.json()["text"].startswith("Opened DQ-2 from late-load: Late load: Orders landed at noon.")
    gateway.drain()

    first, second = gateway.ticket("DQ-1"), gateway.ticket("DQ-2")
    assert (first["requester"], second["requester"]) == ("slack:steve", "teams:Tim Jones")
    [issue] = emulators.issues()
    assert issue["fields"]["summary"] == "Revenue tile shows 0"
    assert issue["fields"]["description"] == "Reported by slack:steve (broken-dashboard)"
    incidents = {i["short_description"]: i for i in emulators.incidents()}
    assert set(incidents) == {"Revenue tile shows 0", "Late load: Orders landed at noon"}
    assert incidents["Late load: Orders landed at noon"]["urgency"] == "3"


def test_chat_open_without_a_title_or_with_an_unknown_item_changes_nothing(
    make_gateway: MakeHarness, emulators: Trackers
) -> None:
    gateway = catalog_gateway(make_gateway, emulators)
    assert "needs an item and a title" in slash(gateway, "open broken-dashboard").json()["text"]
    text = slash(gateway, "open nope Something").json()["text"]
    assert text.startswith("No catalog item 'nope'; items: broken-dashboard, late-load.")
    assert nothing_written(gateway, emulators)


def test_fields_an_item_does_not_open_are_refused_naming_them(make_gateway: MakeHarness, emulators: Trackers) -> None:
    gateway = catalog_gateway(make_gateway, emulators)
    fields = {"title": "x", "priority": "Critical", "assignment_group": "me"}
    response = open_ticket(gateway, {"catalog": "broken-dashboard", "fields": fields})
    assert response.status_code == 422
    assert response.json() == {
        "error": "field_not_open",
        "detail": "catalog item 'broken-dashboard' does not open priority, assignment_group to change;"
        " it opens short_description, description",
    }
    # an item that opens priority takes it
    opened = open_ticket(gateway, {"catalog": "late-load", "fields": {"title": "x", "priority": "Critical"}})
    assert opened.status_code == 201 and opened.json()["ticket"]["fields"]["priority"] == "Critical"
    assert [t["number"] for t in gateway.tickets()] == ["DQ-1"]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"catalog": "nope", "fields": {"title": "x"}}, 404, "unknown_catalog_item"),
        ({"catalog": "broken-dashboard", "fields": {"titel": "x"}}, 422, "unknown_field"),
        ({"catalog": "broken-dashboard", "fields": {"description": "no title"}}, 422, "missing_title"),
        ({"catalog": "broken-dashboard", "fields": {"title": "x"}, "targets": ["snow"]}, 422, "targets_not_open"),
        ({"fields": {"title": "x"}, "targets": ["github"]}, 422, "unknown_target"),
        ({"fields": {"title": "x", "status": "Done-ish"}}, 422, "unknown_status"),
        ({"fields": {"title": 7}}, 422, "invalid_payload"),
        ({"catalog": "broken-dashboard", "extra": 1}, 422, "invalid_payload"),
        ({"fields": {"title": "x"}, "priority": "Low"}, 422, "ambiguous_fields"),
        ({"catalog": "broken-dashboard", "short_description": "x"}, 422, "ambiguous_fields"),
    ],
)
def test_bad_requests_are_4xx_naming_the_problem_and_write_nothing(
    make_gateway: MakeHarness, emulators: Trackers, body: dict[str, Any], status: int, error: str
) -> None:
    gateway = catalog_gateway(make_gateway, emulators)
    response = open_ticket(gateway, body)
    assert (response.status_code, response.json()["error"]) == (status, error), response.text
    assert response.json()["detail"]
    assert nothing_written(gateway, emulators)


def test_an_ad_hoc_ticket_takes_the_fields_as_typed(make_gateway: MakeHarness, emulators: Trackers) -> None:
    gateway = catalog_gateway(make_gateway, emulators)
    fields = {
        "short_description": "Customer table has {{ duplicates }}",
        "description": "Seen in the weekly report",
        "status": "New",
        "priority": "Low",
        "urgency": "Low",
        "impact": "High",
        "category": "data_quality",
        "subcategory": "Duplicates",
        "assignment_group": "data-platform",
        "assigned_to": "",
    }
    response = open_ticket(gateway, {"fields": fields, "targets": ["snow"]}, actor=None)
    assert response.status_code == 201, response.text
    ticket = response.json()["ticket"]
    assert (ticket["requester"], ticket["targets"]) == ("api", ["snow"])
    assert ticket["timeline"][0]["data"]["ad_hoc"] is True
    gateway.drain()
    assert emulators.issues() == []
    [incident] = emulators.incidents()
    assert incident["short_description"] == "Customer table has {{ duplicates }}"  # text, never a template
    assert (incident["urgency"], incident["impact"], incident["subcategory"]) == ("3", "1", "Duplicates")

    both = open_ticket(gateway, {"fields": {"title": "Everywhere"}})
    assert both.json()["ticket"]["targets"] == ["jira", "snow"]


def test_an_ad_hoc_tickets_fields_may_stand_at_the_top_level(make_gateway: MakeHarness, emulators: Trackers) -> None:
    gateway = catalog_gateway(make_gateway, emulators)
    body = {"short_description": "Stale finance mart", "priority": "High", "urgency": "High", "targets": ["snow"]}
    response = open_ticket(gateway, body)
    assert response.status_code == 201, response.text
    assert response.json()["ticket"]["fields"]["short_description"] == "Stale finance mart"
    gateway.drain()
    [incident] = emulators.incidents()
    assert (incident["short_description"], incident["urgency"]) == ("Stale finance mart", "1")


def test_opening_a_ticket_is_an_admin_endpoint(make_gateway: MakeHarness, emulators: Trackers) -> None:
    from tests.chatops.support import chat_files
    from tests.conftest import TRACKER_ENV

    gateway = make_gateway(chat_files(emulators, chatops=CATALOG), env=TRACKER_ENV, api_token="t0ken-for-admins")
    body = {"catalog": "broken-dashboard", "fields": {"title": "x"}}
    assert open_ticket(gateway, body).status_code == 401
    ok = gateway.client.post("/v1/tickets", json=body, headers={"authorization": "Bearer t0ken-for-admins"})
    assert ok.status_code == 201
    items = gateway.get("/v1/catalog")["items"]
    assert items[0] == {
        "name": "broken-dashboard",
        "label": "A dashboard shows wrong numbers",
        "open": ["short_description", "description"],
        "targets": ["jira", "snow"],
    }


BAD_CATALOG = """
catalog:
  one:
    targets: [jira, nowhere]
    open: [title, colour]
    fields: {short_description: "{{ event.check }}", description: "{{ form.nope }}", status: Done-ish}
    per_target: {snow: {category: x}}
  two:
    targets: []
    fields: {short_description: "{{ form.title | lookup('missing') }}"}
"""


def test_catalog_mistakes_fail_at_load_naming_file_item_and_field(tmp_path: Any) -> None:
    for name, text in {**LOCAL_MAPPINGS, "catalog.yaml": BAD_CATALOG}.items():
        (tmp_path / name).write_text(text.replace("targets: [mirror]", "targets: [mirror]"))
    (tmp_path / "targets.yaml").write_text("targets:\n  jira: {kind: local}\n")
    (tmp_path / "flows.yaml").write_text("flows: []\n")
    with pytest.raises(MappingErrors) as raised:
        load_mappings(tmp_path, {"QUALYTICS_SECRET": "s"})
    problems = {(e.where, e.problem) for e in raised.value.errors}
    file = {e.file for e in raised.value.errors}
    assert file == {str(tmp_path / "catalog.yaml")}
    assert problems == {
        ("catalog item 'one'.targets", "target 'nowhere' is not defined under targets:"),
        ("catalog item 'one'.fields.short_description", "unknown name 'event'; templates see form"),
        ("catalog item 'one'.fields.description", "form has no field 'nope'"),
        (
            "catalog item 'one'.fields.status",
            "'Done-ish' is not a state; states: "
            + ", ".join(["New", "In Progress", "On Hold", "Resolved", "Closed", "Canceled"]),
        ),
        ("catalog item 'one'.per_target.snow", "not one of this catalog item's targets"),
        (
            "catalog item 'one': field open",
            "'colour' is not a Create Ticket field; fields: title, short_description,"
            " description, status, priority, urgency, impact, category, subcategory, assignment_group, assigned_to",
        ),
        ("catalog item 'two'.targets", "catalog item needs at least one target"),
        ("catalog item 'two'.fields.short_description", "value map 'missing' does not exist"),
    }


def test_no_source_may_be_called_user(tmp_path: Any) -> None:
    (tmp_path / "sources.yaml").write_text("sources:\n  user: {kind: generic, hmac_secret: k}\n")
    with pytest.raises(MappingErrors, match="source 'user': the source name 'user' is reserved"):
        load_mappings(tmp_path, {})
