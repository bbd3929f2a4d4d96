"""Many nodes on one PostgreSQL and one Redis: two `gateway serve --workers 0` web nodes and two
`gateway worker` processes, as docs/operations.md lays them out. Real subprocesses, real clients
to the loopback emulators."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import QUALYTICS_SECRET, TRACKER_ENV, Trackers, qualytics_delivery
from tests.e2e.conftest import ROOT, free_port
from tests.faults.conftest import assert_accounted, assert_one_ticket_each
from tests.postgres import PostgresServer

pytestmark = pytest.mark.slow
HEADERS = {"x-qualytics-secret": QUALYTICS_SECRET, "content-type": "application/json"}


class Cluster:
    """The processes of one deployment; each one's output in its own log under `root`."""

    def __init__(self, root: Path, trackers: Trackers, database_url: str, redis_url: str) -> None:
        mappings = root / "mappings"
        mappings.mkdir(parents=True)
        for name, text in trackers.mappings().items():
            (mappings / name).write_text(text)
        self.root = root
        self.env = {
            **os.environ,
            **TRACKER_ENV,
            "QUALYTICS_SECRET": QUALYTICS_SECRET,
            "GATEWAY_MAPPINGS": str(mappings),
            "GATEWAY_DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "GATEWAY_VAR_DIR": str(root / "var"),
            "GATEWAY_SWEEP_INTERVAL_SECONDS": "0.2",
            "GATEWAY_LEASE_SECONDS": "10",
            "PYTHONPATH": str(ROOT),
        }
        self.webs: list[tuple[subprocess.Popen[bytes], str]] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        self._logs = itertools.count()

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.root / f"process-{next(self._logs)}.log").open("ab")
        command = [sys.executable, "-m", "gateway.run.cli", *args]
        return subprocess.Popen(command, cwd=self.root, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def web(self) -> str:
        port = free_port()
        process = self._spawn("serve", "--workers", "0", "--no-sandbox", "--port", str(port))
        url = f"http://127.0.0.1:{port}"
        self.webs.append((process, url))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    return url
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"web node did not become ready:\n{self.logs()}")

    def worker(self) -> subprocess.Popen[bytes]:
        process = self._spawn("worker")
        self.workers.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-2000:] for p in sorted(self.root.glob("process-*.log")))

    def executions(self, url: str) -> list[dict[str, Any]]:
        executions: list[dict[str, Any]] = []
        after = ""
        while True:  # every page, by keyset
            page = httpx.get(f"{url}/v1/executions", params={"limit": "500", "after": after}, timeout=10).json()
            executions += page["executions"]
            if not page.get("next"):
                return executions
            after = page["next"]

    def settle(self, url: str, timeout: float = 300.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            executions = self.executions(url)
            if executions and all(e["status"] in ("succeeded", "failed", "skipped") for e in executions):
                return executions
            time.sleep(0.3)
        unfinished = [
            (e["id"], e["action"], e["target"], e["status"], e["error"])
            for e in executions
            if e["status"] not in ("succeeded", "failed", "skipped")
        ]
        raise AssertionError(f"executions unfinished after {timeout} s: {unfinished[:10]}\n{self.logs()}")

    def stop(self) -> None:
        processes = [p for p, _ in self.webs] + self.workers
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def cluster(tmp_path: Path, trackers: Trackers, postgres_server: PostgresServer, redis_url: str) -> Iterator[Cluster]:
    made = Cluster(tmp_path, trackers, postgres_server.create_database(), redis_url)
    yield made
    made.stop()


def deliver(urls: list[str], bodies: list[dict[str, Any]], threads: int = 16) -> list[str]:
    """Each body to one node in turn, concurrently; a node that is down is skipped (as a load balancer
    would); the accepted event ids."""

    def post(index: int) -> list[str]:
        raw = json.dumps(bodies[index]).encode()
        for attempt in range(len(urls) * 3):
            url = urls[(index + attempt) % len(urls)]
            try:
                response = httpx.post(f"{url}/v1/webhooks/qualytics", content=raw, headers=HEADERS, timeout=30)
            except httpx.TransportError:
                continue
            assert response.status_code == 202, response.text
            ids: list[str] = response.json()["event_ids"]
            return ids
        raise AssertionError(f"no node accepted delivery {index}")

    with ThreadPoolExecutor(threads) as pool:
        return [i for ids in pool.map(post, range(len(bodies))) for i in ids]


def test_two_web_nodes_and_two_workers_share_one_postgres(cluster: Cluster, trackers: Trackers) -> None:
    urls = [cluster.web(), cluster.web()]
    cluster.worker()
    cluster.worker()

    # one anomaly, 40 different deliveries of it at once, split over both nodes: one ticket per target
    same = [qualytics_delivery(1, timestamp=f"2026-01-25T12:00:{i:02d}Z") for i in range(40)]
    events = deliver(urls, same, threads=40)
    assert len(set(events)) == 40
    cluster.settle(urls[0])
    [ticket] = httpx.get(f"{urls[1]}/v1/tickets", timeout=10).json()["tickets"]
    assert ticket["occurrences"] == 40
    assert_one_ticket_each(trackers, [1])
    [issue] = trackers.issues()  # 39 recurrences within a minute: one comment, edited to name them all
    [comment] = issue["comments"]
    assert comment.startswith("The anomaly occurred again 39 times (occurrences 2-40): ")

    # 200 anomalies spread over both nodes: all succeed, one ticket each
    events += deliver(urls, [qualytics_delivery(a) for a in range(100, 300)])
    executions = cluster.settle(urls[1])
    failed = [(e["action"], e["target"], e["error"]) for e in executions if e["status"] != "succeeded"]
    assert failed == []
    assert_one_ticket_each(trackers, [1, *range(100, 300)])


def test_a_worker_and_a_web_node_killed_mid_traffic_lose_nothing(cluster: Cluster, trackers: Trackers) -> None:
    urls = [cluster.web(), cluster.web()]
    doomed_worker = cluster.worker()
    cluster.worker()
    doomed_web = cluster.webs[0][0]

    with ThreadPoolExecutor(1) as pool:
        traffic = pool.submit(deliver, urls, [qualytics_delivery(a) for a in range(1, 151)], 8)
        deadline = time.monotonic() + 30
        while not trackers.issues() and time.monotonic() < deadline:  # mid-traffic: work is in flight
            time.sleep(0.02)
        doomed_worker.send_signal(signal.SIGKILL)
        doomed_web.send_signal(signal.SIGKILL)
        events = traffic.result()

    executions = cluster.settle(urls[1])
    recorded = {e["event"]["id"] for e in executions if e["event"]}
    assert_accounted(executions, events, recorded)
    failed = [(e["action"], e["target"], e["error"]) for e in executions if e["status"] != "succeeded"]
    assert failed == []
    assert_one_ticket_each(trackers, range(1, 151))
