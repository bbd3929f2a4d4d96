"""Process faults under `gateway serve`: a worker SIGKILLed mid-create, Redis and the web process
restarted under traffic. Real subprocesses, real Redis, real clients to the loopback emulators."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from connectors.emulators.base import Fault
from gateway.run.embedded_redis import EmbeddedRedis
from gateway.run.supervisor import DEFAULT_WORKERS
from tests.conftest import QUALYTICS_SECRET, Trackers, qualytics_delivery
from tests.e2e.conftest import alive
from tests.faults.conftest import FaultServed, ServeFactory, assert_one_ticket_each, children, fault_mappings, kill

pytestmark = pytest.mark.slow
HEADERS = {"x-qualytics-secret": QUALYTICS_SECRET, "content-type": "application/json"}
FAST = {"GATEWAY_LEASE_SECONDS": "2", "GATEWAY_SWEEP_INTERVAL_SECONDS": "0.1"}


class Traffic:
    """Posts one new anomaly every `every` seconds from a thread; keeps what was accepted (202)."""

    def __init__(self, url: str, every: float = 0.05, first: int = 1) -> None:
        self.url, self.every, self.next_anomaly = url, every, first
        self.accepted: dict[int, list[str]] = {}
        self.refused: list[int] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                anomaly = self.next_anomaly
                self.next_anomaly += 1
                body = json.dumps(qualytics_delivery(anomaly)).encode()
                try:
                    response = client.post(f"{self.url}/v1/webhooks/qualytics", content=body, headers=HEADERS)
                except httpx.HTTPError:
                    self.refused.append(anomaly)
                else:
                    assert response.status_code == 202, response.text  # never a 5xx while the process is up
                    self.accepted[anomaly] = response.json()["event_ids"]
                self.stop.wait(self.every)

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)

    def until(self, count: int, timeout: float = 20.0) -> None:
        """Wait until `count` more deliveries were accepted."""
        goal, deadline = len(self.accepted) + count, time.monotonic() + timeout
        while len(self.accepted) < goal:
            assert time.monotonic() < deadline, "the traffic stalled"
            time.sleep(0.02)

    @property
    def event_ids(self) -> list[str]:
        return [e for ids in self.accepted.values() for e in ids]


def companions_of(served: FaultServed, workers: list[int]) -> dict[int, list[int]]:
    """The sweeper-and-sync processes each forking worker started, in order (each says so in the log)."""
    found: dict[int, list[int]] = {}
    for worker, companion in re.findall(r"sweeper and sync of worker pid (\d+) run in pid (\d+)", served.log()):
        if int(worker) in workers:
            found.setdefault(int(worker), []).append(int(companion))
    return found


def settle_and_account(served: FaultServed, trackers: Trackers, event_ids: list[str], timeout: float = 40) -> None:
    """Everything finishes; every accepted event is accounted for; one ticket per anomaly it knows."""
    served.wait_for(served.settled, timeout=timeout)
    executions = served.accounting(event_ids)
    assert {e["status"] for e in executions} == {"succeeded"}, [e["error"] for e in executions if e["error"]]
    with served.db() as conn:
        anomalies = {int(r["anomaly_id"]) for r in conn.execute("SELECT anomaly_id FROM events")}
    assert_one_ticket_each(trackers, anomalies)


@pytest.mark.parametrize("fork", ["0", "1"], ids=["in-process worker", "forking worker"])
def test_a_worker_killed_mid_create_is_restarted_and_the_rerun_finds_the_issue(
    serve_faults: ServeFactory, trackers: Trackers, fork: str
) -> None:
    served = serve_faults(fault_mappings(trackers, timeout=5), GATEWAY_WORKER_FORK=fork, **FAST)
    trackers.jira.inject(Fault(kind="slow", delay=1.0, method="POST", path="/issue$"))
    response = httpx.post(f"{served.url}/v1/webhooks/qualytics", json=qualytics_delivery(1), headers=HEADERS)
    events = response.json()["event_ids"]
    served.wait_for(lambda: not trackers.jira.faults, timeout=20)  # the create's POST is in the tracker now

    workers = served.pids("worker")  # serve's default workers: whichever took the job, all die
    assert len(workers) == DEFAULT_WORKERS
    # A forking worker's sweeper and sync run in a companion process, the job in a work horse (a child
    # that left its process group).
    companions = [pid for started in companions_of(served, workers).values() for pid in started]
    assert len(companions) == (DEFAULT_WORKERS if fork == "1" else 0)
    horses = [child for worker in workers for child in children(worker) if child not in companions]
    assert len(horses) == (1 if fork == "1" else 0)
    for pid in [*workers, *horses]:
        kill(pid)
    served.wait_for(lambda: len(served.pids("worker")) == 2 * DEFAULT_WORKERS)
    for worker in workers:
        assert f"worker pid {worker} exited with -9; restarting it" in served.log()
    assert not any(alive(pid) for pid in horses)
    served.wait_for(lambda: not any(alive(pid) for pid in companions), timeout=10)  # each saw its worker go

    settle_and_account(served, trackers, events)
    assert "leases expired (worker gone?), re-running 1 executions" in served.log()
    [issue] = trackers.issues()
    [create] = [e for e in served.executions() if e["target"] == "jira"]
    assert create["result"]["external_key"] == issue["key"]


def test_redis_stopped_and_restarted_under_traffic(
    serve_faults: ServeFactory, trackers: Trackers, tmp_path: Path
) -> None:
    redis = EmbeddedRedis(tmp_path / "redis").start()  # ours, on a fixed socket: it can come back on the same path
    try:
        # A lease far longer than the test: jobs the old server took with it must come back through the
        # sweeper noticing the restart, not through expired leases.
        served = serve_faults(redis_url=redis.url, GATEWAY_LEASE_SECONDS="300", GATEWAY_SWEEP_INTERVAL_SECONDS="0.1")
        with Traffic(served.url) as traffic:
            traffic.until(5)
            redis.stop()
            traffic.until(10)  # accepted while Redis is away: the database is the outbox
            ready = httpx.get(f"{served.url}/readyz", timeout=10)
            assert ready.status_code == 200
            assert ready.json() == {
                "status": "degraded",
                "database": "ok",
                "redis": "unavailable",
                "ingress_writer": "ok",  # auto: a process of its own
                "targets": {"jira": "ok", "snow": "ok"},
                "degraded": ["redis"],
            }
            redis.start()
            traffic.until(5)
        assert not traffic.refused
        served.wait_for(lambda: served.get("/readyz")["status"] == "ok")
        settle_and_account(served, trackers, traffic.event_ids)
    finally:
        redis.stop()


def test_the_web_process_restarted_under_traffic_loses_nothing(serve_faults: ServeFactory, trackers: Trackers) -> None:
    served = serve_faults(**FAST)
    with Traffic(served.url) as traffic:
        traffic.until(8)
        assert served.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
        served.restart()
        traffic.until(8)
    assert len(traffic.accepted) >= 16
    settle_and_account(served, trackers, traffic.event_ids)
