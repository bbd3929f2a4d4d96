"""A run that kills its worker every time (SIGKILL, out of memory) is not re-run forever: after
LEASE_EXPIRIES_MAX leases expired in a row the next claim fails it, and it stays retryable.

A dead worker leaves its execution running under a lease it no longer renews: each death here is a
claim that is never concluded, then a sweep past its lease (the real database and sweeper)."""

from __future__ import annotations

import time

from connectors.emulators.base import Fault
from gateway.dispatch.sweeper import Sweeper
from gateway.execute.runner import LEASE_EXPIRIES_MAX
from tests.conftest import Harness, MakeHarness, Trackers, qualytics_delivery
from tests.faults.conftest import accepted, assert_one_ticket_each, harness_accounting, run_once, tracker_gateway


def die_running(gateway: Harness, execution_id: str) -> None:
    """A worker claims the execution and dies: nothing renews its lease, which runs out; the sweeper sweeps."""
    mirror = gateway.runtime.mirror
    assert mirror.claim(execution_id, time.time(), 30.0) is not None, "not queued to run again"
    with mirror.transaction() as tx:
        tx.execute("UPDATE executions SET lease_until = ? WHERE id = ?", (time.time() - 1, execution_id))
    Sweeper(gateway.runtime, gateway.dispatcher).sweep()


def test_a_run_that_kills_its_worker_each_time_fails_after_a_few_and_can_be_retried(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    gateway = tracker_gateway(make_gateway, trackers)
    events = accepted(gateway.post("qualytics", qualytics_delivery(100)))
    [create] = [e for e in gateway.executions() if e["target"] == "jira"]
    for _ in range(LEASE_EXPIRIES_MAX):
        die_running(gateway, create["id"])
        assert gateway.execution(create["id"])["status"] == "queued"  # to be run again, so far
    gateway.drain()

    failed = gateway.execution(create["id"])
    assert (failed["status"], failed["error_kind"]) == ("failed", "bug")
    assert failed["error"].startswith(f"the worker running it stopped {LEASE_EXPIRIES_MAX} times")
    assert trackers.issues() == []  # the last claim failed it without running it
    [entry] = [e for e in gateway.ticket(failed["ticket"]["number"])["timeline"] if e["kind"] == "action_failed"]
    assert entry["data"]["execution_id"] == create["id"]

    assert gateway.client.post(f"/v1/executions/{create['id']}/retry").status_code == 202  # the cause is fixed
    gateway.drain()
    assert gateway.execution(create["id"])["status"] == "succeeded"
    harness_accounting(gateway, events)
    assert_one_ticket_each(trackers, [100])


def test_only_expiries_in_a_row_count_a_run_that_concludes_starts_again(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    """Deaths far apart in a long life (a backoff between them) are not a run that kills its worker."""
    gateway = tracker_gateway(make_gateway, trackers, retry_budget_seconds=1.0)
    trackers.jira.inject(Fault(kind="status", status=429, retry_after=120, method="POST", path="/issue$"))
    events = accepted(gateway.post("qualytics", qualytics_delivery(101)))
    [create] = [e for e in gateway.executions() if e["target"] == "jira"]
    for _ in range(LEASE_EXPIRIES_MAX - 1):
        die_running(gateway, create["id"])
    run_once(gateway)  # this run concludes: the 429 queues it again for later
    assert gateway.execution(create["id"])["error_kind"] == "transient"
    with gateway.runtime.mirror.transaction() as tx:  # time passes: the backoff is over
        tx.execute("UPDATE executions SET next_attempt_at = ? WHERE id = ?", (time.time() - 1, create["id"]))
    die_running(gateway, create["id"])
    gateway.drain()

    assert gateway.execution(create["id"])["status"] == "succeeded"
    harness_accounting(gateway, events)
    assert_one_ticket_each(trackers, [101])
