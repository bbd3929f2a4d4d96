"""The spine: a Qualytics webhook becomes a mirror ticket through a real RQ worker."""

from __future__ import annotations

from tests.conftest import Harness, payload, qualytics_delivery


def test_qualytics_sample_becomes_a_ticket_with_rendered_fields(gateway: Harness) -> None:
    response = gateway.post("qualytics", payload("qualytics.json"))
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["duplicate"] is False
    assert len(accepted["event_ids"]) == 1 and len(accepted["executions"]) == 1

    gateway.drain()

    [ticket] = gateway.tickets()
    assert ticket["number"] == "DQ-1"
    assert ticket["state"] == "New"
    assert ticket["fields"] == {
        "short_description": "Amount Range Check failed on orders",
        "description": "Value outside expected range\n\nhttps://demo.qualytics.io/...",
        "status": "New",
        "priority": "Medium",
        "urgency": "High",
        "impact": "Medium",
        "category": "Data Quality",
        "subcategory": "Validation Error",
        "assignment_group": "data-platform",
        "assigned_to": "",
    }
    assert ticket["correlation_key"] == "qualytics:1"
    assert [link["target"] for link in ticket["links"]] == ["mirror"]

    detail = gateway.ticket("DQ-1")
    assert [entry["kind"] for entry in detail["timeline"]] == ["opened", "linked"]

    [execution] = gateway.executions()
    assert execution["id"] == accepted["executions"][0]
    assert execution["status"] == "succeeded"
    assert execution["ticket"] == {
        "id": 1,
        "number": "DQ-1",
        "short_description": "Amount Range Check failed on orders",
    }
    assert execution["event"]["source"] == "qualytics" and execution["event"]["anomaly_id"] == "1"
    attempts = gateway.execution(execution["id"])["attempts"]
    assert [a["outcome"] for a in attempts] == ["succeeded"]


def test_the_same_delivery_twice_makes_one_ticket(gateway: Harness) -> None:
    first = gateway.post("qualytics", payload("qualytics.json")).json()
    second = gateway.post("qualytics", payload("qualytics.json"))
    assert second.status_code == 202
    assert second.json()["duplicate"] is True
    assert second.json()["executions"] == []
    assert second.json()["event_ids"] == first["event_ids"]
    gateway.drain()
    assert len(gateway.tickets()) == 1
    assert len(gateway.executions()) == 1


def test_a_recurring_anomaly_on_an_open_ticket_counts_an_occurrence(gateway: Harness) -> None:
    gateway.post("qualytics", qualytics_delivery(7, timestamp="2026-01-25T12:00:00Z"))
    gateway.post("qualytics", qualytics_delivery(7, timestamp="2026-01-25T13:00:00Z"))
    gateway.drain()
    [ticket] = gateway.tickets()
    assert ticket["occurrences"] == 2
    kinds = [e["kind"] for e in gateway.ticket(ticket["number"])["timeline"]]
    assert "recurred" in kinds


def test_anomaly_resolved_resolves_the_ticket_with_a_timeline_entry(gateway: Harness) -> None:
    gateway.post("qualytics", qualytics_delivery(3))
    gateway.drain()
    response = gateway.post("qualytics", qualytics_delivery(3, trigger="Anomaly Status Change", status="Resolved"))
    assert response.status_code == 202, response.text
    gateway.drain()
    ticket = gateway.ticket("DQ-1")
    assert ticket["state"] == "Resolved"
    changes = [e for e in ticket["timeline"] if e["kind"] == "status_changed"]
    assert changes[-1]["data"]["from"] == "New" and changes[-1]["data"]["to"] == "Resolved"
    assert changes[-1]["actor"] == "qualytics"
    assert ticket["links"][0]["remote_status"] == "Resolved"
    statuses = {e["action"]: e["status"] for e in gateway.executions()}
    assert statuses == {"create_ticket": "succeeded", "update_ticket_status": "succeeded"}


def test_a_recurrence_inside_the_reopen_window_reopens_and_after_it_opens_a_new_ticket(
    make_gateway: object,
) -> None:
    from tests.conftest import LOCAL_MAPPINGS

    files = {**LOCAL_MAPPINGS, "lifecycle.yaml": "lifecycle: {reopen_window: 1h}\n"}
    gateway: Harness = make_gateway(files)  # type: ignore[operator]
    gateway.post("qualytics", qualytics_delivery(5))
    gateway.post("qualytics", qualytics_delivery(5, trigger="Anomaly Status Change", status="Resolved"))
    gateway.post("qualytics", qualytics_delivery(5, timestamp="2026-01-25T14:00:00Z"))
    gateway.drain()
    [ticket] = gateway.tickets()
    assert ticket["state"] == "In Progress"

    # Two hours later: the window has passed, so a recurrence opens generation 2.
    gateway.post(
        "qualytics",
        qualytics_delivery(5, trigger="Anomaly Status Change", status="Resolved", timestamp="2026-01-25T15:00:00Z"),
    )
    with gateway.runtime.mirror.transaction() as tx:
        tx.execute("UPDATE tickets SET resolved_at = resolved_at - 7200")
    gateway.post("qualytics", qualytics_delivery(5, timestamp="2026-01-25T18:00:00Z"))
    gateway.drain()
    tickets = gateway.tickets()
    assert [(t["number"], t["state"], t["generation"]) for t in tickets] == [
        ("DQ-2", "New", 2),
        ("DQ-1", "Resolved", 1),
    ]


def test_a_status_change_for_an_unknown_anomaly_is_recorded_and_ignored(gateway: Harness) -> None:
    response = gateway.post("qualytics", qualytics_delivery(99, trigger="Anomaly Status Change", status="Resolved"))
    assert response.status_code == 202
    body = response.json()
    assert body["executions"] == []
    assert body["ignored"] == [{"event_id": body["event_ids"][0], "reason": "no ticket exists for anomaly 99"}]
    assert gateway.tickets() == []


def test_metrics_count_executions_tickets_and_events(gateway: Harness) -> None:
    gateway.post("qualytics", payload("qualytics.json"))
    gateway.drain()
    response = gateway.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    from prometheus_client.parser import text_string_to_metric_families

    found = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    assert (
        found[("dq_gateway_executions", (("action", "create_ticket"), ("status", "succeeded"), ("target", "mirror")))]
        == 1
    )
    assert found[("dq_gateway_tickets", (("state", "New"),))] == 1
    assert found[("dq_gateway_events", (("source", "qualytics"), ("type", "anomaly")))] == 1
    assert found[("dq_gateway_redis_up", ())] == 1
