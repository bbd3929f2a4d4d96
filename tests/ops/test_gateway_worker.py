"""The lean RQ worker `gateway serve` and `gateway worker` run, against real Redis."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from rq.suspension import resume, suspend

from gateway.dispatch.sweeper import Sweeper
from gateway.execute import runner as jobs
from gateway.run.worker import GatewayWorker, start_beside
from tests.conftest import LOCAL_MAPPINGS, Harness, MakeHarness, qualytics_delivery


def burst(gateway: Harness) -> GatewayWorker:
    jobs.configure(gateway.runtime, sleep=gateway.sleeps.append)
    worker = GatewayWorker([gateway.dispatcher.queue], connection=gateway.connection)
    worker.work(burst=True)
    return worker


def test_a_job_runs_its_executions_and_leaves_nothing_behind_in_redis(make_gateway: MakeHarness) -> None:
    gateway = make_gateway(LOCAL_MAPPINGS)
    for anomaly in (1, 2, 3):
        assert gateway.post("qualytics", qualytics_delivery(anomaly)).status_code == 202
    queue = gateway.dispatcher.queue
    job_ids = queue.get_job_ids()
    assert job_ids

    worker = burst(gateway)

    assert {e["status"] for e in gateway.executions()} == {"succeeded"}
    assert len(gateway.tickets()) == 3
    assert queue.count == 0 and not queue.started_job_registry.get_job_ids()
    assert not any(gateway.connection.exists(f"rq:job:{job_id}") for job_id in job_ids)
    assert gateway.connection.hget(worker.key, "state") == b"idle"  # written with the last job's cleanup


def test_a_suspended_worker_takes_no_job_until_it_is_resumed(make_gateway: MakeHarness) -> None:
    gateway = make_gateway(LOCAL_MAPPINGS)
    assert gateway.post("qualytics", qualytics_delivery(1)).status_code == 202
    suspend(gateway.connection)  # what `rq suspend` does
    try:
        burst(gateway)
        assert {e["status"] for e in gateway.executions()} == {"queued"}
        assert gateway.dispatcher.queue.count == 1
    finally:
        resume(gateway.connection)

    burst(gateway)
    assert {e["status"] for e in gateway.executions()} == {"succeeded"}


def test_a_stopping_worker_lets_the_sweep_under_way_finish(
    make_gateway: MakeHarness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker that stops (or a companion whose worker died) waits for the sweep it is in: a sweep that
    expired a lease logs it and enqueues the execution again, rather than being cut off by the exit."""
    gateway = make_gateway(LOCAL_MAPPINGS, sweep_interval_seconds=0.05)
    assert gateway.post("qualytics", qualytics_delivery(1)).status_code == 202
    gateway.dispatcher.queue.empty()
    with gateway.runtime.mirror.transaction() as tx:  # its worker died mid-create: running, the lease past
        tx.execute("UPDATE executions SET status = 'running', lease_until = ?, enqueued_at = NULL", (time.time() - 1,))
    sweeping = threading.Event()
    sweep = Sweeper.sweep

    def slow_sweep(self: Sweeper, now: float | None = None) -> list[str]:
        sweeping.set()
        time.sleep(0.5)  # the database is slow this once
        return sweep(self, now)

    monkeypatch.setattr(Sweeper, "sweep", slow_sweep)
    stop = start_beside(gateway.runtime, gateway.connection)
    assert sweeping.wait(5)
    with caplog.at_level(logging.WARNING, "gateway.dispatch.sweeper"):
        stop()

    assert "leases expired (worker gone?), re-running 1 executions" in caplog.messages
    assert {e["status"] for e in gateway.executions()} == {"queued"}
    assert gateway.dispatcher.queue.count == 1
