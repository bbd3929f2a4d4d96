"""`make bench`: ingress throughput of `gateway serve` against a bare Litestar endpoint, in one run.

Both servers run as subprocesses on this machine under the same load (keep-alive connections,
Qualytics deliveries of distinct anomalies). The gateway answers each only after it verified the
secret, parsed, recorded the event, its ticket and its executions (SQLite, then PostgreSQL) and enqueued them.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import steal
from loadgen import Result, request, run

ROOT = Path(__file__).parents[1]
SECRET = "bench-secret-4f1c9a7e2b8d"
MAPPINGS = f"""
sources:
  qualytics: {{kind: qualytics, secret: "{SECRET}"}}
targets:
  mirror: {{kind: local}}
flows:
  - name: open
    trigger: {{type: anomaly}}
    actions:
      - create_ticket: {{targets: [mirror], short_description: "{{{{ event.check }}}} on {{{{ event.container }}}}"}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(port: int, path: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"server on port {port} did not start")


def deliveries(count: int, first_id: int = 1) -> list[bytes]:
    template = json.loads((ROOT / "tests/data/payloads/qualytics.json").read_text())
    bodies = []
    for i in range(count):
        template["context"]["anomalies"][0]["id"] = first_id + i
        bodies.append(json.dumps(template).encode())
    return bodies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--slices", type=int, default=10, help="turns the two servers take (see taking_turns)")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--workers", type=int, default=0, help="0: the web tier alone (jobs wait in Redis)")
    args = parser.parse_args()
    for backend in ["sqlite", "postgresql"] if args.database == "both" else [args.database]:
        if backend == "postgresql":
            sys.path.insert(0, str(ROOT))
            from tests.postgres import PostgresServer

            server = PostgresServer().start()
            try:
                bench(args, backend, server.create_database())
            finally:
                server.stop()
        else:
            bench(args, backend, None)


def taking_turns(
    servers: list[tuple[str, int, dict[str, str]]], bodies: list[bytes], connections: int, slices: int
) -> tuple[dict[str, Result], dict[str, float]]:
    """Each server's result over `slices` turns, each turn a slice of the deliveries, the order swapped
    every turn. This VM's speed drifts by up to a factor of two within a minute: the ratio of two runs
    one after the other measured that drift as much as the code (0.28-0.55 for one build)."""
    results = {name: Result() for name, _, _ in servers}
    stolen = {name: (0, 0) for name, _, _ in servers}
    size = -(-len(bodies) // slices)
    for turn in range(slices):
        part = bodies[turn * size : (turn + 1) * size]
        for name, port, headers in servers if turn % 2 == 0 else reversed(servers):
            before = steal.ticks()
            result = run(port, [request("/v1/webhooks/qualytics", b, headers) for b in part], connections)
            after = steal.ticks()
            results[name].add(result)
            stolen[name] = (stolen[name][0] + after[0] - before[0], stolen[name][1] + after[1] - before[1])
    return results, {name: taken / (total or 1) for name, (taken, total) in stolen.items()}


def bench(args: argparse.Namespace, backend: str, database_url: str | None) -> None:
    bodies = deliveries(args.requests)
    warm_up = deliveries(max(1, args.requests // 10), first_id=10**6)  # other anomalies: no duplicates later
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "mappings").mkdir()
        (Path(tmp) / "mappings" / "bench.yaml").write_text(MAPPINGS)
        bare_port, gateway_port = free_port(), free_port()
        env = {
            **os.environ,
            "GATEWAY_MAPPINGS": f"{tmp}/mappings",
            "GATEWAY_DATABASE_URL": database_url or f"sqlite:///{tmp}/gw.db",
            "GATEWAY_VAR_DIR": f"{tmp}/var",
            "GATEWAY_LOG_LEVEL": "WARNING",
        }
        env.pop("REDIS_URL", None)
        bare = subprocess.Popen([sys.executable, str(ROOT / "bench/bare_app.py"), str(bare_port)])
        gateway = subprocess.Popen(
            [sys.executable, "-m", "gateway.run.cli", "serve", "--no-sandbox", "--port", str(gateway_port),
             "--workers", str(args.workers)],
            env=env,
            cwd=tmp,
        )
        try:
            wait_up(bare_port, "/")
            wait_up(gateway_port, "/healthz")
            servers = [
                ("bare litestar", bare_port, {}),
                ("gateway ingress", gateway_port, {"X-Qualytics-Secret": SECRET}),
            ]
            for _, port, headers in servers:
                run(port, [request("/v1/webhooks/qualytics", b, headers) for b in warm_up], args.connections)
            results, stolen = taking_turns(servers, bodies, args.connections, args.slices)
            for name, result in results.items():
                print(
                    f"{name:<16} {result.rate:8.0f} req/s  p50 {result.percentile(0.5):6.1f} ms"
                    f"  p99 {result.percentile(0.99):6.1f} ms  statuses {result.statuses}"
                    f"  {steal.describe(stolen[name])}"
                )
            ratio = results["gateway ingress"].rate / results["bare litestar"].rate
            print(
                f"gateway/bare on {backend}: {ratio:.2f} ({args.requests} requests, {args.connections} connections,"
                f" {args.slices} turns each)"
            )
        finally:
            for process in (gateway, bare):
                process.terminate()
                process.wait(timeout=30)


if __name__ == "__main__":
    main()
