"""`GATEWAY_WORKER_FORK=1`: RQ forks a work horse per job. A fork copies any lock another thread holds
at that moment (SQLite's, libpq's) into the child, which then hangs; so the forking worker runs no
thread beside RQ's loop, and its sweeper and sync run in a companion process (gateway/run/worker.py)."""

from __future__ import annotations

import os

import httpx
import pytest

from gateway.run.supervisor import DEFAULT_WORKERS
from tests.conftest import Trackers, qualytics_delivery
from tests.e2e.conftest import alive
from tests.faults.conftest import ServeFactory, children, kill
from tests.faults.test_process_faults import FAST, HEADERS, companions_of, settle_and_account

pytestmark = pytest.mark.slow


def test_a_forking_worker_forks_beside_no_thread_and_keeps_its_companion(
    serve_faults: ServeFactory, trackers: Trackers
) -> None:
    served = serve_faults(GATEWAY_WORKER_FORK="1", **FAST)
    workers = served.pids("worker")
    assert len(workers) == DEFAULT_WORKERS
    served.wait_for(lambda: len(companions_of(served, workers)) == DEFAULT_WORKERS)
    companions = {worker: started for worker, [started] in companions_of(served, workers).items()}
    for worker, companion in companions.items():
        assert companion in children(worker)

    first = workers[0]
    kill(companions[first])  # a companion dies: its worker starts another, idle or not
    served.wait_for(lambda: len(companions_of(served, [first])[first]) == 2, timeout=20)  # said once started
    assert f"the sweeper and sync process of worker pid {first} ended with -9; starting another" in served.log()
    [_, replacement] = companions_of(served, [first])[first]
    assert alive(replacement) and replacement in children(first)

    response = httpx.post(f"{served.url}/v1/webhooks/qualytics", json=qualytics_delivery(1), headers=HEADERS)
    assert response.status_code == 202
    settle_and_account(served, trackers, response.json()["event_ids"])
    for worker in workers:  # in their loops now: RQ's own thread (its command listener) and no other
        assert len(os.listdir(f"/proc/{worker}/task")) == 2

    served.stop()
    # they end with their workers: at once when a worker stops them, within a second of their worker's end
    # when it could not (a worker its supervisor killed on a loaded machine leaves its companion to notice)
    served.wait_for(lambda: not any(alive(pid) for pid in [*companions.values(), replacement]), timeout=10)
