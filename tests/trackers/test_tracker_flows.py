"""Anomalies through the real worker to Jira and ServiceNow (real clients, loopback emulators)."""

from __future__ import annotations

from typing import Any

from connectors.emulators.base import Fault
from tests.conftest import TRACKER_ENV, Harness, MakeHarness, Trackers, qualytics_delivery


def tracker_gateway(make_gateway: MakeHarness, trackers: Trackers, **kwargs: Any) -> Harness:
    return make_gateway(trackers.mappings(**kwargs), env=TRACKER_ENV)


def test_one_anomaly_makes_one_mirror_ticket_with_a_jira_issue_and_an_incident(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    gateway = tracker_gateway(make_gateway, trackers)
    assert gateway.post("qualytics", qualytics_delivery(1, severity="high")).status_code == 202
    gateway.drain()

    [ticket] = gateway.tickets()
    links = {link["target"]: link for link in ticket["links"]}
    assert set(links) == {"jira", "snow"}

    [issue] = trackers.issues()
    assert links["jira"]["external_key"] == issue["key"]
    assert links["jira"]["url"].endswith(f"/browse/{issue['key']}")
    assert links["jira"]["remote_status"] == "To Do"
    fields = issue["fields"]
    assert fields["summary"] == "Amount Range Check failed on orders"
    assert fields["priority"] == {"name": "High"}
    assert fields["customfield_10101"] == {"value": "High"}
    assert fields["customfield_10102"] == {"value": "Medium"}
    assert fields["customfield_10103"] == "data-platform"
    assert fields["customfield_10104"] == "Validation Error"
    assert fields["components"] == [{"name": "Data Quality"}]
    assert "data-quality" in fields["labels"] and any(label.startswith("dqgw-") for label in fields["labels"])

    [incident] = trackers.incidents()
    assert links["snow"]["external_key"] == incident["number"] == "INC0010001"
    assert incident["short_description"] == "Amount Range Check failed on orders"
    assert (incident["urgency"], incident["impact"]) == ("1", "2")
    assert incident["priority"] == "2"  # derived by the instance from urgency 1 x impact 2
    assert links["snow"]["remote_priority"] == "2"
    assert incident["category"] == "data_quality"
    assert incident["correlation_id"] == "qualytics:1"
    assert incident["assignment_group"] == trackers.snow.lookup("sys_user_group", "data-platform")


def test_a_resolved_anomaly_resolves_both_trackers(make_gateway: MakeHarness, trackers: Trackers) -> None:
    gateway = tracker_gateway(make_gateway, trackers)
    gateway.post("qualytics", qualytics_delivery(2))
    gateway.drain()
    gateway.post("qualytics", qualytics_delivery(2, trigger="Anomaly Status Change", status="Resolved"))
    gateway.drain()

    [issue] = trackers.issues()
    assert issue["status"] == "Done" and issue["resolution"] == "Done"
    assert issue["history"] == ["To Do", "In Progress", "Done"]  # two hops, the workflow's only route
    [incident] = trackers.incidents()
    assert incident["state"] == "6"
    assert incident["close_code"] == "Solution provided"
    assert incident["close_notes"] == "Resolved in qualytics: https://demo.qualytics.io/..."
    links = {link["target"]: link["remote_status"] for link in gateway.ticket("DQ-1")["links"]}
    assert links == {"jira": "Done", "snow": "6"}


def test_an_invalid_anomaly_cancels_with_the_configured_resolutions(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    gateway = tracker_gateway(make_gateway, trackers)
    gateway.post("qualytics", qualytics_delivery(3))
    gateway.post("qualytics", qualytics_delivery(3, trigger="Anomaly Status Change", status="Invalid"))
    gateway.drain()  # the status change waits for the creates, then applies
    assert gateway.ticket("DQ-1")["state"] == "Canceled"
    [issue] = trackers.issues()
    assert (issue["status"], issue["resolution"]) == ("Done", "Won't Do")
    [incident] = trackers.incidents()
    assert incident["state"] == "8" and incident["close_code"] == "Duplicate"


def test_three_429s_then_success_records_four_attempts_without_waiting(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    gateway = tracker_gateway(make_gateway, trackers)
    trackers.jira.inject(Fault(kind="status", status=429, retry_after=2, count=3, method="POST", path="/issue$"))
    gateway.post("qualytics", qualytics_delivery(4))
    gateway.drain()

    create = next(e for e in gateway.executions() if e["target"] == "jira")
    detail = gateway.execution(create["id"])
    assert detail["status"] == "succeeded"
    assert [(a["outcome"], a["http_status"]) for a in detail["attempts"]] == [
        ("failed", 429),
        ("failed", 429),
        ("failed", 429),
        ("succeeded", None),
    ]
    assert all(a["error_kind"] == "transient" for a in detail["attempts"][:3])
    # Retry-After (2 s) is the floor of each wait; full jitter may add up to the backoff ceiling (4 s here).
    assert len(gateway.sleeps) == 3 and all(2.0 <= s <= 4.0 for s in gateway.sleeps)
    assert len(trackers.issues()) == 1


def test_a_field_not_on_the_screen_fails_permanently_naming_the_field(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    del trackers.jira.screen["priority"]
    gateway = tracker_gateway(make_gateway, trackers)
    gateway.post("qualytics", qualytics_delivery(5))
    gateway.drain()

    failed = gateway.executions(status="failed")
    assert [(e["target"], e["error_kind"]) for e in failed] == [("jira", "permanent")]
    assert "priority: Field 'priority' cannot be set" in failed[0]["error"]
    assert len(gateway.execution(failed[0]["id"])["attempts"]) == 1  # permanent: never retried
    timeline = gateway.ticket("DQ-1")["timeline"]
    assert any(e["kind"] == "action_failed" and e["data"]["target"] == "jira" for e in timeline)
    assert trackers.issues() == []
    assert len(trackers.incidents()) == 1  # the other target is not held back


def test_a_create_whose_answer_was_lost_leaves_one_issue_and_one_incident(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    gateway = tracker_gateway(make_gateway, trackers)
    trackers.jira.inject(Fault(kind="drop_after", method="POST", path="/issue$"))
    trackers.snow.inject(Fault(kind="drop_after", method="POST", path="/incident$"))
    gateway.post("qualytics", qualytics_delivery(6))
    gateway.drain()
    assert len(trackers.issues()) == 1
    assert len(trackers.incidents()) == 1
    assert {e["status"] for e in gateway.executions()} == {"succeeded"}


def test_a_re_run_create_and_a_duplicate_delivery_make_nothing_twice(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    gateway = tracker_gateway(make_gateway, trackers)
    body = qualytics_delivery(7)
    gateway.post("qualytics", body)
    gateway.drain()
    # A second worker re-runs both creates (as after a lost lease), and the tool re-sends.
    with gateway.runtime.mirror.transaction() as tx:
        tx.execute("UPDATE executions SET status = 'queued', next_attempt_at = NULL")
        tx.execute("DELETE FROM links")
    gateway.post("qualytics", body)
    gateway.drain()
    assert len(trackers.issues()) == 1
    assert len(trackers.incidents()) == 1
    assert len(gateway.tickets()) == 1
    links = gateway.ticket("DQ-1")["links"]
    assert {link["external_key"] for link in links} == {trackers.issues()[0]["key"], "INC0010001"}


def test_a_hibernating_instance_answer_is_retried(make_gateway: MakeHarness, trackers: Trackers) -> None:
    gateway = tracker_gateway(make_gateway, trackers)
    trackers.snow.inject(Fault(kind="html", count=1))
    gateway.post("qualytics", qualytics_delivery(8))
    gateway.drain()
    create = next(e for e in gateway.executions() if e["target"] == "snow")
    attempts = gateway.execution(create["id"])["attempts"]
    assert [a["outcome"] for a in attempts] == ["failed", "succeeded"]
    assert "not the Table API's JSON" in attempts[0]["message"]
    assert len(trackers.incidents()) == 1


def test_a_rejected_update_fails_permanently_with_servicenows_message(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    gateway = tracker_gateway(make_gateway, trackers)
    gateway.post("qualytics", qualytics_delivery(9))
    gateway.drain()
    trackers.snow.inject(Fault(kind="status", status=403, method="PATCH"))
    gateway.post("qualytics", qualytics_delivery(9, trigger="Anomaly Status Change", status="Acknowledged"))
    gateway.drain()
    failed = gateway.executions(status="failed")
    assert [(e["target"], e["action"], e["error_kind"]) for e in failed] == [
        ("snow", "update_ticket_status", "permanent")
    ]
    assert "Transaction cancelled" in failed[0]["error"] and "Injected fault: HTTP 403" in failed[0]["error"]
    assert gateway.ticket("DQ-1")["state"] == "In Progress"  # the mirror's decision stands
    assert trackers.issues()[0]["status"] == "In Progress"
