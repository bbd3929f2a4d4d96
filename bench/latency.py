"""`make bench`: webhook -> ticket in both sandbox trackers, open-loop, with `gateway serve`'s default layout.

`gateway serve` runs as it ships (the example mappings: every anomaly opens a ticket in the sandbox
Jira and the sandbox ServiceNow; its default worker count; the emulators in their own processes).
Deliveries are sent on a fixed schedule whatever the answers (open loop). A delivery's latency is
from its send to the later of its two creates finishing (read from the mirror afterwards). Also
printed, per tracker action: the CPU of the worker processes, of the emulators (the trackers' own
time), of the web process and, on PostgreSQL, of its server: where a 2-core machine's time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))
import steal
from ingress import deliveries, free_port, wait_up
from loadgen import request

ROOT = Path(__file__).parents[1]
SECRET = "bench-latency-secret-7c2e91"
GOAL_MS = 250.0


class Gateway:
    def __init__(self, tmp: Path, database_url: str | None, workers: int | None) -> None:
        self.port = free_port()
        self.database_url = database_url or f"sqlite:///{tmp}/gw.db"
        env = {
            **os.environ,
            "GATEWAY_MAPPINGS": str(ROOT / "mappings"),
            "GATEWAY_DATABASE_URL": self.database_url,
            "GATEWAY_VAR_DIR": f"{tmp}/var",
            "GATEWAY_LOG_LEVEL": "WARNING",
            "QUALYTICS_SECRET": SECRET,
        }
        for name in ("REDIS_URL", "JIRA_URL", "SERVICENOW_URL"):
            env.pop(name, None)
        ports = f"{free_port()},{free_port()}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway.run.cli", "serve", "--port", str(self.port), "--sandbox-ports", ports]
            + (["--workers", str(workers)] if workers is not None else []),
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
        )
        wait_up(self.port, "/healthz")
        time.sleep(2)  # workers connect

    def children(self, marker: str) -> list[psutil.Process]:
        return [
            p for p in psutil.Process(self.process.pid).children(recursive=True) if marker in " ".join(p.cmdline())
        ]

    def cpu(self, marker: str) -> float:
        total = 0.0
        for process in self.children(marker):
            times = process.cpu_times()
            total += times.user + times.system
        return total

    def web_cpu(self) -> float:
        """The web tier: the web process and its ingress writer process."""
        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system + self.cpu("gateway.run.ingest_writer")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


async def open_loop(port: int, bodies: list[bytes], rate: float) -> tuple[dict[int, float], dict[int, int]]:
    """Send body i at start + i/rate on a free keep-alive connection (a new one when all are busy)."""
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    sent_at: dict[int, float] = {}
    statuses: dict[int, int] = {}
    headers = {"X-Qualytics-Secret": SECRET}

    async def one(index: int, body: bytes) -> None:
        reader, writer = idle.pop() if idle else await asyncio.open_connection("127.0.0.1", port)
        sent_at[index] = time.time()
        writer.write(request("/v1/webhooks/qualytics", body, headers))
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):  # the server closed it while idle: again
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request("/v1/webhooks/qualytics", body, headers))
            head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next((int(x.split(":", 1)[1]) for x in lines if x.lower().startswith("content-length:")), 0)
        await reader.readexactly(length)
        statuses[status] = statuses.get(status, 0) + 1
        idle.append((reader, writer))

    start = time.perf_counter()
    tasks = []
    for index, body in enumerate(bodies):
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index, body)))
    await asyncio.gather(*tasks)
    for _, writer in idle:
        writer.close()
    return sent_at, statuses


def _rows(database_url: str, query: str) -> list[Any]:
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url[len("sqlite:///") :]) as conn:
            return conn.execute(query).fetchall()
    import psycopg

    with psycopg.connect(database_url) as conn:
        return conn.execute(query).fetchall()


def drained(gateway: Gateway, limit: float = 180.0) -> None:
    """Wait until nothing is queued or running, so that a step does not start on the last one's backlog."""
    deadline = time.time() + limit
    query = "SELECT count(*) FROM executions WHERE status IN ('queued', 'running')"
    while time.time() < deadline and _rows(gateway.database_url, query)[0][0]:
        time.sleep(0.5)


def finished(database_url: str, first_id: int, count: int) -> dict[int, tuple[int, float]]:
    """anomaly id -> (creates succeeded, the last one's finish time), for the anomalies of this step."""
    query = (
        "SELECT ev.anomaly_id AS anomaly, count(*) AS done, max(ex.finished_at) AS last FROM executions ex"
        " JOIN events ev ON ev.id = ex.event_id WHERE ex.action = 'create_ticket' AND ex.status = 'succeeded'"
        " GROUP BY ev.anomaly_id"
    )
    rows = _rows(database_url, query)
    wanted = range(first_id, first_id + count)
    return {int(a): (int(d), float(t)) for a, d, t in rows if str(a).isdigit() and int(a) in wanted}


def database_cpu() -> dict[int, float]:
    """CPU seconds of each PostgreSQL server process (the bench's own server is the only one running)."""
    seconds = {}
    for process in psutil.process_iter(["name"]):
        if process.info["name"] == "postgres":
            try:
                times = process.cpu_times()
            except psutil.Error:  # a backend that just ended
                continue
            seconds[process.pid] = times.user + times.system
    return seconds


def database_cpu_since(before: dict[int, float]) -> float:
    """What the server's processes spent since `before` (a process that ended since is not counted: a
    sum over processes would go down when one ends)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in database_cpu().items())


def step(gateway: Gateway, rate: float, seconds: float, first_id: int) -> dict[str, Any]:
    drained(gateway)
    count = int(rate * seconds)
    bodies = deliveries(count, first_id=first_id)
    workers_before, trackers_before = gateway.cpu("gateway.run.worker"), gateway.cpu("gateway.run.sandbox")
    web_before, database_before = gateway.web_cpu(), database_cpu()
    steal_before = steal.ticks()
    sent_at, statuses = asyncio.run(open_loop(gateway.port, bodies, rate))
    deadline = time.time() + max(30.0, seconds)
    done: dict[int, tuple[int, float]] = {}
    while time.time() < deadline:
        done = finished(gateway.database_url, first_id, count)
        if len(done) == count and all(d == 2 for d, _ in done.values()):
            break
        time.sleep(0.5)
    actions = sum(d for d, _ in done.values())
    stolen = steal.since(steal_before)
    workers_cpu = gateway.cpu("gateway.run.worker") - workers_before
    trackers_cpu = gateway.cpu("gateway.run.sandbox") - trackers_before
    web_cpu, database = gateway.web_cpu() - web_before, database_cpu_since(database_before)
    latencies = sorted(
        (last - sent_at[anomaly - first_id]) * 1000 for anomaly, (d, last) in done.items() if d == 2
    )
    lost = count - len(latencies)
    return {
        "rate": rate,
        "count": count,
        "lost": lost,
        "statuses": statuses,
        "p50": latencies[len(latencies) // 2] if latencies else float("nan"),
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan"),
        "worker_ms": workers_cpu / actions * 1000 if actions else float("nan"),
        "tracker_ms": trackers_cpu / actions * 1000 if actions else float("nan"),
        "web_ms": web_cpu / actions * 1000 if actions else float("nan"),
        "database_ms": database / actions * 1000 if actions else float("nan"),
        "steal": stolen,
    }


def show(result: dict[str, Any]) -> str:
    return (
        f"{result['rate']:5.0f}/s x {result['count']:5d}: p50 {result['p50']:7.1f} ms  p99 {result['p99']:8.1f} ms"
        f"  lost {result['lost']}  worker CPU {result['worker_ms']:.1f} ms/action"
        f"  tracker CPU {result['tracker_ms']:.1f} ms/action  web CPU {result['web_ms']:.1f} ms/action"
        + (f"  PostgreSQL CPU {result['database_ms']:.1f} ms/action" if result["database_ms"] else "")
        + f"  statuses {result['statuses']}  {steal.describe(result['steal'])}"
    )


def bench(backend: str, database_url: str | None, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        gateway = Gateway(Path(tmp), database_url, args.workers)
        try:
            first_id = 1
            step(gateway, 20, 3, 10**7)  # warm: clients, caches, createmeta
            steady = step(gateway, args.rate, args.seconds, first_id)
            first_id += steady["count"]
            print(f"{backend}: steady {show(steady)}", flush=True)
            knee = 0.0
            for rate in args.rates:
                result = step(gateway, rate, args.step_seconds, first_id)
                first_id += result["count"]
                print(f"  {backend} step  {show(result)}", flush=True)
                if result["p99"] < GOAL_MS and result["lost"] == 0:
                    knee = rate
                else:
                    break
            print(f"{backend}: knee (highest rate with p99 < {GOAL_MS:.0f} ms, 0 lost): {knee:.0f}/s", flush=True)
        finally:
            gateway.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rates", type=float, nargs="*", default=[50, 75, 100, 125, 150, 200])
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=None, help="default: gateway serve's own default")
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    for backend in ["sqlite", "postgresql"] if args.database == "both" else [args.database]:
        if backend == "postgresql":
            from tests.postgres import PostgresServer

            server = PostgresServer().start()
            try:
                bench(backend, server.create_database(), args)
            finally:
                server.stop()
        else:
            bench(backend, None, args)


if __name__ == "__main__":
    main()
