"""A worker's claim: one worker takes a queued execution, and with it what its run reads first (its
ticket among them, read in the claim's round trip on PostgreSQL)."""

from __future__ import annotations

import time

from gateway.dispatch.sweeper import Sweeper
from tests.conftest import Harness, qualytics_delivery


def test_a_claim_takes_the_execution_once_and_brings_its_ticket(gateway: Harness) -> None:
    response = gateway.post("qualytics", qualytics_delivery(7))
    [execution_id] = response.json()["executions"]
    mirror = gateway.runtime.mirror

    claim = mirror.claim(execution_id, time.time(), 30.0)

    assert claim is not None and claim.execution.status == "running"
    [ticket] = gateway.tickets()
    assert claim.ticket is not None and claim.ticket.id == claim.execution.ticket_id == ticket["id"]
    assert claim.ticket.correlation_key == ticket["correlation_key"]
    assert mirror.claim(execution_id, time.time(), 30.0) is None  # running now: no second worker takes it


def test_a_run_whose_lease_expired_cannot_conclude_the_claim_that_followed(gateway: Harness) -> None:
    """A worker stalls past its lease; the sweeper puts the execution back and another worker claims it.
    The stalled run's finish, requeue and renewal must leave the newer run's row alone."""
    [execution_id] = gateway.post("qualytics", qualytics_delivery(8)).json()["executions"]
    mirror, sweeper = gateway.runtime.mirror, Sweeper(gateway.runtime, gateway.dispatcher)
    now = time.time()
    stale = mirror.claim(execution_id, now, 30.0)
    assert stale is not None
    sweeper.sweep(now + 31)  # its lease ran out: queued again
    fresh = mirror.claim(execution_id, now + 31, 30.0)
    assert fresh is not None and fresh.execution.started_at != stale.execution.started_at
    claimed = mirror.execution(execution_id)

    with mirror.transaction() as tx:
        assert not mirror.finish(tx, stale.execution, "failed", now + 32, error="stale", checked=True)
        mirror.finish(tx, stale.execution, "succeeded", now + 32)
    assert not mirror.requeue(stale.execution, now + 40, error="stale", error_kind="transient")
    mirror.renew_leases([(execution_id, stale.execution.started_at or 0.0)], now + 1000)
    assert mirror.execution(execution_id) == claimed  # running, the fresh claim's lease, no outcome

    with mirror.transaction() as tx:
        assert mirror.finish(tx, fresh.execution, "succeeded", now + 33, checked=True)
    done = mirror.execution(execution_id)
    assert done is not None and done.status == "succeeded" and done.error is None
