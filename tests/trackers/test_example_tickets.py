"""The example mappings (mappings/) make tickets worth reading, in both trackers."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import QUALYTICS_SECRET, Harness, MakeHarness, Trackers, qualytics_delivery

EXAMPLE = {path.name: path.read_text() for path in (Path(__file__).parents[2] / "mappings").glob("*.yaml")}


def example_gateway(make_gateway: MakeHarness, trackers: Trackers) -> Harness:
    env = {
        "QUALYTICS_SECRET": QUALYTICS_SECRET,
        "JIRA_URL": trackers.jira_server.url,
        "SERVICENOW_URL": trackers.snow_server.url,
    }
    return make_gateway(EXAMPLE, env)


def test_severity_sets_servicenow_urgency_and_impact_and_the_summary_names_the_column(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    gateway = example_gateway(make_gateway, trackers)
    gateway.post("qualytics", qualytics_delivery(1))
    gateway.post("qualytics", qualytics_delivery(2, container="customers", field="email"))
    gateway.drain()
    summaries = sorted(issue["fields"]["summary"] for issue in trackers.issues())
    assert summaries == ["Amount Range Check failed on customers.email", "Amount Range Check failed on orders.amount"]
    incident = trackers.incidents()[0]
    assert (incident["urgency"], incident["impact"], incident["priority"]) == ("2", "2", "3")  # medium
    assert "Severity: medium" in incident["description"] and "Source: qualytics" in incident["description"]


def test_close_notes_say_who_or_what_resolved_the_ticket(make_gateway: MakeHarness, trackers: Trackers) -> None:
    gateway = example_gateway(make_gateway, trackers)
    gateway.post("qualytics", qualytics_delivery(1))
    gateway.post("qualytics", qualytics_delivery(2))
    gateway.drain()
    moved = gateway.client.post("/v1/tickets/DQ-1/status", json={"status": "Resolved", "note": "backfilled"})
    assert moved.status_code == 202, moved.text
    gateway.post("qualytics", qualytics_delivery(2, trigger="Anomaly Status Change", status="Resolved"))
    gateway.drain()
    notes = {incident["correlation_display"]: incident["close_notes"] for incident in trackers.incidents()}
    assert notes["DQ-1"] == "DQ-1 Resolved from the gateway. Note: backfilled"
    assert notes["DQ-2"].startswith("DQ-2 Resolved: qualytics reports the anomaly Resolved (https://")
    assert all("Resolved in : " not in note for note in notes.values())
