"""A worker's claim: one worker takes a queued execution, and with it what its run reads first (its
ticket among them, read in the claim's round trip on PostgreSQL)."""

from __future__ import annotations

import time

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
