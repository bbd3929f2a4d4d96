"""The lean RQ worker `gateway serve` and `gateway worker` run, against real Redis."""

from __future__ import annotations

from rq.suspension import resume, suspend

from gateway.execute import runner as jobs
from gateway.run.worker import GatewayWorker
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
