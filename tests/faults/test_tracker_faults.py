"""Tracker faults injected at the emulators, through the real worker, real clients, real Redis.

Each test ends with the accounting: every accepted event recorded, every execution finished
(succeeded, or failed saying why), and exactly one Jira issue and one incident per anomaly.
"""

from __future__ import annotations

import os
import time

import pytest

from connectors.emulators.base import Fault
from gateway.dispatch.sweeper import Sweeper
from tests.conftest import QUALYTICS_SECRET, TRACKER_ENV, Harness, MakeHarness, Trackers, qualytics_delivery
from tests.faults.conftest import (
    accepted,
    assert_one_ticket_each,
    cli,
    database_held,
    drain_for_real,
    harness_accounting,
    refuse_finish_once,
    run_once,
    tracker_gateway,
)

JIRA_CREATE = {"method": "POST", "path": "/issue$"}
SNOW_CREATE = {"method": "POST", "path": "/incident$"}
DOWN_RETRY = "{attempts: 3, initial: 0.01, max: 0.05, deadline: 0.2}"


def attempts_of(gateway: Harness, target: str, anomaly: int | None = None) -> list[tuple[str, int | None, str | None]]:
    """The attempts of the (first or given anomaly's) create on `target`, which must have succeeded."""
    creates = [e for e in gateway.executions(action="create_ticket") if e["target"] == target]
    create = next(e for e in reversed(creates) if anomaly is None or e["event"]["anomaly_id"] == str(anomaly))
    detail = gateway.execution(create["id"])
    assert detail["status"] == "succeeded", detail
    return [(a["outcome"], a["http_status"], a["error_kind"]) for a in detail["attempts"]]


def test_a_burst_of_429s_with_retry_after_is_waited_out(make_gateway: MakeHarness, trackers: Trackers) -> None:
    gateway = tracker_gateway(make_gateway, trackers)
    trackers.jira.inject(Fault(kind="status", status=429, retry_after=3, count=5, **JIRA_CREATE))
    trackers.snow.inject(Fault(kind="status", status=429, retry_after=2, count=4, **SNOW_CREATE))
    events = [e for anomaly in (1, 2, 3) for e in accepted(gateway.post("qualytics", qualytics_delivery(anomaly)))]
    gateway.drain()

    harness_accounting(gateway, events)
    assert {e["status"] for e in gateway.executions()} == {"succeeded"}
    assert_one_ticket_each(trackers, [1, 2, 3])
    # the burst is spread over the creates (past the in-process budget one is rescheduled), none lost
    for target, burst in (("jira", 5), ("snow", 4)):
        attempts = [a for anomaly in (1, 2, 3) for a in attempts_of(gateway, target, anomaly)]
        assert attempts.count(("failed", 429, "transient")) == burst
        assert attempts.count(("succeeded", None, None)) == 3
    assert min(gateway.sleeps) >= 2.0 and sum(1 for s in gateway.sleeps if s >= 3) >= 4  # Retry-After honoured


def test_500s_and_503s_are_retried_and_recorded(make_gateway: MakeHarness, trackers: Trackers) -> None:
    gateway = tracker_gateway(make_gateway, trackers)
    trackers.jira.inject(Fault(kind="status", status=500, count=2, **JIRA_CREATE))
    trackers.snow.inject(Fault(kind="status", status=503, retry_after=1, count=2, **SNOW_CREATE))
    events = accepted(gateway.post("qualytics", qualytics_delivery(10)))
    gateway.drain()

    harness_accounting(gateway, events)
    assert attempts_of(gateway, "jira") == [("failed", 500, "transient")] * 2 + [("succeeded", None, None)]
    assert attempts_of(gateway, "snow") == [("failed", 503, "transient")] * 2 + [("succeeded", None, None)]
    assert_one_ticket_each(trackers, [10])


def test_a_create_that_times_out_but_lands_is_found_not_repeated(make_gateway: MakeHarness, trackers: Trackers) -> None:
    """The slow tracker still makes the issue after the client gave up: the retry must find it."""
    quick = "{attempts: 5, initial: 0.01, max: 5, deadline: 60}"  # an immediate retry would race the tracker
    # The create lands 1.3 s after it arrives; the client gives up at 1.0 s and searches no sooner than 2.0 s.
    # Both margins are wide enough that a busy CI machine stalling the process for a moment decides nothing.
    gateway = tracker_gateway(make_gateway, trackers, timeout=1.0, retry=quick)
    trackers.jira.inject(Fault(kind="slow", delay=1.3, **JIRA_CREATE))
    trackers.snow.inject(Fault(kind="slow", delay=1.3, **SNOW_CREATE))
    events = accepted(gateway.post("qualytics", qualytics_delivery(20)))
    drain_for_real(gateway)  # the retry's wait must really pass for the slow create to land

    harness_accounting(gateway, events)
    for target in ("jira", "snow"):
        first, *rest = attempts_of(gateway, target)
        assert first == ("failed", None, "transient")
        assert rest[-1] == ("succeeded", None, None)
    assert_one_ticket_each(trackers, [20])


def test_dropped_connections_before_and_after_the_tracker_acts(make_gateway: MakeHarness, trackers: Trackers) -> None:
    gateway = tracker_gateway(make_gateway, trackers)
    trackers.jira.inject(Fault(kind="drop", **JIRA_CREATE), Fault(kind="drop_after", **JIRA_CREATE))
    trackers.snow.inject(Fault(kind="drop_after", **SNOW_CREATE), Fault(kind="drop", method="GET", path="/incident"))
    events = accepted(gateway.post("qualytics", qualytics_delivery(30)))
    gateway.drain()

    harness_accounting(gateway, events)
    assert attempts_of(gateway, "jira")[:2] == [("failed", None, "transient")] * 2
    assert attempts_of(gateway, "snow")[0] == ("failed", None, "transient")
    assert_one_ticket_each(trackers, [30])


def test_a_tracker_down_past_the_deadline_fails_then_each_retry_path_succeeds_once(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    gateway = tracker_gateway(make_gateway, trackers, retry=DOWN_RETRY)
    trackers.jira.inject(Fault(kind="status", status=503, count=1000, method="POST", path="/issue$"))
    events = [e for anomaly in (40, 41, 42) for e in accepted(gateway.post("qualytics", qualytics_delivery(anomaly)))]
    gateway.drain()

    failed = gateway.executions(status="failed")
    assert len(failed) == 3 and {(e["target"], e["error_kind"]) for e in failed} == {("jira", "transient")}
    assert all("503" in e["error"] and "gave up" in e["error"] for e in failed)
    assert all(1 <= len(gateway.execution(e["id"])["attempts"]) <= 3 for e in failed)  # attempts or deadline
    timeline = gateway.ticket(failed[0]["ticket"]["number"])["timeline"]
    assert [e["data"]["target"] for e in timeline if e["kind"] == "action_failed"] == ["jira"]
    assert gateway.executions(status="failed", error_kind="transient", target="jira") == failed
    harness_accounting(gateway, events)
    assert trackers.issues() == []

    trackers.jira.clear_faults()  # the tracker is back: one execution by id, one in bulk, one from the CLI
    by_id, in_bulk, from_cli = sorted(failed, key=lambda e: e["ticket"]["number"])
    assert gateway.client.post(f"/v1/executions/{by_id['id']}/retry").status_code == 202
    gateway.drain()
    assert gateway.execution(by_id["id"])["status"] == "succeeded"
    bulk = gateway.client.post("/v1/executions/retry", params={"target": "jira", "error_kind": "transient"})
    assert bulk.status_code == 202 and bulk.json()["retried"] == [from_cli["id"], in_bulk["id"]]
    with gateway.runtime.mirror.transaction() as tx:  # fail one again so the CLI has something to retry
        tx.execute("UPDATE executions SET status = 'failed', error = 'down again' WHERE id = ?", (from_cli["id"],))
    gateway.drain()
    env = {
        **os.environ,
        **TRACKER_ENV,
        "QUALYTICS_SECRET": QUALYTICS_SECRET,
        "GATEWAY_MAPPINGS": str(gateway.settings.mappings),
        "GATEWAY_DATABASE_URL": gateway.settings.database_url,
        "REDIS_URL": gateway.settings.redis_url or "",
    }
    result = cli(env, "executions", "retry", "--all-failed")
    assert result.returncode == 0 and "retried 1 execution(s)" in result.stdout, result.stderr
    gateway.drain()

    assert {e["status"] for e in gateway.executions()} == {"succeeded"}
    harness_accounting(gateway, events)
    assert_one_ticket_each(trackers, [40, 41, 42])
    *before, last = [(a["outcome"], a["http_status"]) for a in gateway.execution(by_id["id"])["attempts"]]
    assert before and set(before) == {("failed", 503)} and last == ("succeeded", None)  # the log keeps the history


def test_a_long_backoff_reschedules_instead_of_holding_the_worker(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    gateway = tracker_gateway(make_gateway, trackers, retry_budget_seconds=1.0)
    trackers.jira.inject(Fault(kind="status", status=429, retry_after=120, **JIRA_CREATE))
    events = accepted(gateway.post("qualytics", qualytics_delivery(50)))
    started = time.time()
    run_once(gateway)

    create = next(e for e in gateway.executions() if e["target"] == "jira")
    detail = gateway.execution(create["id"])
    assert detail["status"] == "queued" and detail["error_kind"] == "transient"
    assert [(a["outcome"], a["http_status"]) for a in detail["attempts"]] == [("failed", 429)]
    assert detail["next_attempt_at"] is not None
    due = gateway.runtime.mirror.execution(create["id"])
    assert due is not None and due.next_attempt_at is not None and due.next_attempt_at >= started + 120
    assert gateway.sleeps == []  # the worker never sat on the 120 s
    assert [e["status"] for e in gateway.executions() if e["target"] == "snow"] == ["succeeded"]

    gateway.drain()  # time passes (fast-forwarded): the sweeper enqueues it when due
    harness_accounting(gateway, events)
    assert [a["outcome"] for a in gateway.execution(create["id"])["attempts"]] == ["failed", "succeeded"]
    assert_one_ticket_each(trackers, [50])


def test_a_status_change_before_the_create_finished_waits_and_applies(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    gateway = tracker_gateway(make_gateway, trackers, retry_budget_seconds=1.0)
    trackers.jira.inject(Fault(kind="status", status=429, retry_after=60, **JIRA_CREATE))
    events = accepted(gateway.post("qualytics", qualytics_delivery(60)))
    change = qualytics_delivery(60, trigger="Anomaly Status Change", status="Acknowledged")
    events += accepted(gateway.post("qualytics", change))
    run_once(gateway)

    jira = {e["action"]: e for e in gateway.executions(target="jira")}
    assert jira["create_ticket"]["status"] == "queued" and jira["create_ticket"]["next_attempt_at"]
    assert jira["update_ticket_status"]["status"] == "queued"  # waiting, neither skipped nor failed
    assert trackers.issues() == []
    gateway.drain()

    harness_accounting(gateway, events)
    assert {e["status"] for e in gateway.executions()} == {"succeeded"}
    [issue] = trackers.issues()
    assert issue["status"] == "In Progress"
    [incident] = trackers.incidents()
    assert incident["state"] == "2"
    assert_one_ticket_each(trackers, [60])


def test_a_long_wait_for_an_earlier_action_looks_again_less_and_less_often(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    """The create backs off for an hour: the status change waiting for it must not claim and requeue
    itself twice a second all that time. It looks again after a quarter of its wait so far, up to 30 s."""
    gateway = tracker_gateway(make_gateway, trackers, retry_budget_seconds=1.0)
    trackers.jira.inject(Fault(kind="status", status=429, retry_after=3600, **JIRA_CREATE))
    events = accepted(gateway.post("qualytics", qualytics_delivery(62)))
    change = qualytics_delivery(62, trigger="Anomaly Status Change", status="Acknowledged")
    events += accepted(gateway.post("qualytics", change))
    mirror, sweeper = gateway.runtime.mirror, Sweeper(gateway.runtime, gateway.dispatcher)
    [move] = [e["id"] for e in gateway.executions(target="jira") if e["action"] == "update_ticket_status"]

    steps = []
    for waited in (0.0, 40.0, 1000.0):  # since its first claim
        if waited:
            with mirror.transaction() as tx:  # time passes: it has waited this long, and is due
                tx.execute(
                    "UPDATE executions SET first_attempt_at = ?, next_attempt_at = ?, enqueued_at = NULL WHERE id = ?",
                    (time.time() - waited, time.time() - 1, move),
                )
            sweeper.sweep()
        before = time.time()
        run_once(gateway)
        after = time.time()
        row = mirror.execution(move)
        assert row is not None and row.status == "queued" and row.next_attempt_at is not None
        steps.append((row.next_attempt_at - after, row.next_attempt_at - before))  # the step, however slow the run
    # WAIT_STEP (0.5 s) at first, a quarter of the wait, at most 30 s (the quarter grows a little as the run goes on)
    for (shortest, longest), step in zip(steps, (0.5, 10.0, 30.0), strict=True):
        assert shortest - 0.25 <= step <= longest, steps

    gateway.drain()
    harness_accounting(gateway, events)
    [issue] = trackers.issues()
    assert issue["status"] == "In Progress"
    assert_one_ticket_each(trackers, [62])


def test_two_status_changes_apply_in_the_order_received(make_gateway: MakeHarness, trackers: Trackers) -> None:
    gateway = tracker_gateway(make_gateway, trackers)
    events = accepted(gateway.post("qualytics", qualytics_delivery(70)))
    gateway.drain()
    # the first move meets a flaky tracker; the second must still land after it
    trackers.jira.inject(Fault(kind="status", status=503, count=2, method="POST", path="/transitions$"))
    trackers.snow.inject(Fault(kind="status", status=503, count=2, method="PATCH"))
    for status in ("Acknowledged", "Resolved"):
        when = f"2026-01-25T13:0{len(events)}:00Z"
        body = qualytics_delivery(70, trigger="Anomaly Status Change", status=status, timestamp=when)
        events += accepted(gateway.post("qualytics", body))
    gateway.drain()

    harness_accounting(gateway, events)
    [issue] = trackers.issues()
    assert issue["status"] == "Done" and issue["history"] == ["To Do", "In Progress", "Done"]
    [incident] = trackers.incidents()
    assert incident["state"] == "6"
    assert gateway.ticket("DQ-1")["state"] == "Resolved"
    assert_one_ticket_each(trackers, [70])


def test_database_unavailable_answers_503_and_accepts_nothing(make_gateway: MakeHarness, trackers: Trackers) -> None:
    gateway = tracker_gateway(make_gateway, trackers, db_busy_timeout_seconds=0.2)
    with database_held(gateway):
        refused = gateway.post("qualytics", qualytics_delivery(80))
        ready = gateway.client.get("/readyz")
    assert refused.status_code == 503
    assert refused.json()["error"] == "database_unavailable"
    assert ready.status_code == 503 and ready.json()["database"] == "unavailable"
    assert gateway.tickets() == [] and gateway.executions() == []
    assert gateway.runtime.mirror.connection().execute("SELECT count(*) FROM events").fetchone()[0] == 0

    events = accepted(gateway.post("qualytics", qualytics_delivery(80)))  # the tool re-sends after the 503
    gateway.drain()
    harness_accounting(gateway, events)
    assert_one_ticket_each(trackers, [80])


def test_a_recurrence_after_close_whose_create_is_retried_gets_its_own_record(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    """Generation 2's retried create searches for its record; it must not find and link generation 1's."""
    gateway = tracker_gateway(make_gateway, trackers)
    first = accepted(gateway.post("qualytics", qualytics_delivery(40)))
    closing = qualytics_delivery(40, trigger="Anomaly Status Change", status="Resolved")
    first += accepted(gateway.post("qualytics", closing))
    gateway.drain()
    with gateway.runtime.mirror.transaction() as tx:  # past the reopen window: a recurrence is a new ticket
        tx.execute("UPDATE tickets SET resolved_at = resolved_at - 2 * 86400")
    # the trackers create generation 2's records, then the answers are lost: each create is retried
    trackers.jira.inject(Fault(kind="drop_after", **JIRA_CREATE))
    trackers.snow.inject(Fault(kind="drop_after", **SNOW_CREATE))
    second = accepted(gateway.post("qualytics", qualytics_delivery(40, timestamp="2026-01-28T18:00:00Z")))
    gateway.drain()

    harness_accounting(gateway, first + second)
    for target in ("jira", "snow"):
        latest = next(e for e in gateway.executions(action="create_ticket") if e["target"] == target)
        first_attempt = gateway.execution(latest["id"])["attempts"][0]
        assert (first_attempt["outcome"], first_attempt["error_kind"]) == ("failed", "transient")
    newer, older = gateway.tickets()
    assert (newer["generation"], newer["state"], older["state"]) == (2, "New", "Resolved")
    for target in ("jira", "snow"):
        [new_link] = [link["external_key"] for link in newer["links"] if link["target"] == target]
        [old_link] = [link["external_key"] for link in older["links"] if link["target"] == target]
        assert new_link != old_link, f"{target}: generation 2 linked to the closed generation's record"
    assert len(trackers.issues()) == 2 and len(trackers.incidents()) == 2  # the retry found, not repeated


def test_retrying_an_old_failed_move_after_a_newer_one_reached_the_tracker_does_not_undo_it(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    gateway = tracker_gateway(make_gateway, trackers, retry=DOWN_RETRY)
    events = accepted(gateway.post("qualytics", qualytics_delivery(45)))
    gateway.drain()
    trackers.jira.inject(Fault(kind="status", status=503, count=1000, method="POST", path="/transitions$"))
    acknowledged = qualytics_delivery(45, trigger="Anomaly Status Change", status="Acknowledged")
    events += accepted(gateway.post("qualytics", acknowledged))
    gateway.drain()
    [stale] = gateway.executions(status="failed")
    assert (stale["action"], stale["target"]) == ("update_ticket_status", "jira")
    trackers.jira.clear_faults()  # Jira is back; the anomaly is resolved and that move reaches Jira
    resolved = qualytics_delivery(45, trigger="Anomaly Status Change", status="Resolved")
    events += accepted(gateway.post("qualytics", resolved))
    gateway.drain()
    assert trackers.issues()[0]["status"] == "Done"

    assert gateway.client.post(f"/v1/executions/{stale['id']}/retry").status_code == 202  # ops retry the old one
    gateway.drain()

    again = gateway.execution(stale["id"])
    assert again["status"] == "skipped" and again["error"].startswith("superseded: a later change"), again
    assert trackers.issues()[0]["status"] == "Done"  # not walked back to In Progress
    assert gateway.tickets()[0]["state"] == "Resolved"
    harness_accounting(gateway, events)


def test_a_database_error_while_recording_a_create_runs_it_again_and_finds_the_issue(
    make_gateway: MakeHarness, trackers: Trackers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Jira made the issue, then the database refused the finish (locked past its busy timeout, or a lost
    PostgreSQL connection): not a bug to fail for good. The create runs again and finds the issue."""
    gateway = tracker_gateway(make_gateway, trackers)
    raised = refuse_finish_once(
        monkeypatch,
        gateway.runtime.mirror,
        lambda e: e.id if (e.target, e.action) == ("jira", "create_ticket") else None,
    )
    events = accepted(gateway.post("qualytics", qualytics_delivery(90)))
    run_once(gateway)

    [create] = raised
    between = gateway.execution(create)
    assert (between["status"], between["error_kind"]) == ("queued", "transient"), between
    assert between["error"].startswith("the database did not record this run")
    assert len(trackers.issues()) == 1  # the tracker acted; only the record was lost
    gateway.drain()

    harness_accounting(gateway, events)
    assert {e["status"] for e in gateway.executions()} == {"succeeded"}
    assert gateway.execution(create)["error"] is None
    # the lost run's successful call is in the log; the re-run searched and found the issue
    assert attempts_of(gateway, "jira") == [("succeeded", None, None)] * 2
    assert_one_ticket_each(trackers, [90])
