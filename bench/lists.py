"""`make bench` (lists): ingress and API reads, empty mirror vs 100k tickets, on SQLite and PostgreSQL.

Rows are inserted with plain SQL (a ticket, an event, a succeeded execution and its attempt per
anomaly); the reads go through the real app in-process (Litestar's test client), so the figures are the handler's
and the database's, without a network hop. The three mirrors are open at once and each read takes
its turn on each, round after round: a drift of this machine's speed (a busy host) falls on the
three alike instead of on whichever was measured last. A run's median still moved by 10-25% on one
read or another from run to run, on code that had not changed: the figure is the median ratio of
five runs, each in a fresh process, and every run's ratio is printed beside it. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from litestar.testing import TestClient

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))
from gateway.core.settings import Settings  # noqa: E402
from gateway.record.counters import event_labels, execution_labels  # noqa: E402
from gateway.record.runtime import Runtime  # noqa: E402
from gateway.web.app import create_app  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
import steal  # noqa: E402
from ingress import deliveries  # noqa: E402

MAPPINGS = """
sources:
  qualytics: {kind: qualytics, secret: "bench"}
targets:
  mirror: {kind: local}
flows:
  - name: open
    trigger: {type: anomaly}
    actions:
      - create_ticket: {targets: [mirror], short_description: "{{ event.check }}"}
"""
READS = {
    "GET /v1/tickets": ("/v1/tickets", {}),
    "GET /v1/tickets?state=new": ("/v1/tickets", {"state": "New"}),
    "GET /v1/executions?status=succeeded": ("/v1/executions", {"status": "succeeded"}),
    "GET /v1/executions?target=mirror&status=failed": ("/v1/executions", {"target": "mirror", "status": "failed"}),
    "GET /metrics": ("/metrics", {}),
    "GET /readyz": ("/readyz", {}),
}


INGRESS = "POST /v1/webhooks/qualytics (a new ticket)"
HEADERS = {"X-Qualytics-Secret": "bench", "Content-Type": "application/json"}


SEED_CHUNK = 2_000  # rows a transaction


def seed(rt: Runtime, count: int) -> None:
    now = time.time()
    for first in range(0, count, SEED_CHUNK):
        chunk = range(first, min(count, first + SEED_CHUNK))
        with rt.mirror.transaction() as tx:
            tx.executemany(
                "INSERT INTO tickets (correlation_key, generation, state, source, fields, targets, anomaly_ids,"
                " occurrences, created_at, updated_at)"
                " VALUES (?, 1, 'New', 'qualytics', ?, '[\"mirror\"]', ?, 1, ?, ?)",
                [(f"qualytics:{i}", '{"short_description": "x"}', f'["{i}"]', now, now) for i in chunk],
            )
            tx.executemany(
                "INSERT INTO events (id, source, source_event_id, event_type, anomaly_id, correlation_key, received_at,"
                " ticket_id, payload) VALUES (?, 'qualytics', ?, 'anomaly', ?, ?, ?, ?, '{}')",
                [(f"e{i}", f"s{i}", str(i), f"qualytics:{i}", now, i + 1) for i in chunk],
            )
            tx.executemany(
                "INSERT INTO executions (id, event_id, ticket_id, flow, action, target, status, params, created_at,"
                " finished_at) VALUES (?, ?, ?, 'open', 'create_ticket', 'mirror', 'succeeded', '{}', ?, ?)",
                [(f"x{i}", f"e{i}", i + 1, now, now) for i in chunk],
            )
            tx.executemany(
                "INSERT INTO attempts (execution_id, number, started_at, duration_ms, outcome, http_status)"
                " VALUES (?, 1, ?, 2, 'succeeded', 201)",
                [(f"x{i}", now) for i in chunk],
            )
            # what the store's inserts count (gateway.record.counters); raw INSERTs count nothing themselves
            rt.mirror.count("tickets", "New", len(chunk))
            rt.mirror.count("events", event_labels("qualytics", "anomaly"), len(chunk))
            rt.mirror.count("executions", execution_labels("succeeded", "create_ticket", "mirror"), len(chunk))
    with rt.mirror.transaction() as tx:  # and what recording an attempt keeps: the target's latest answer
        tx.execute("INSERT INTO target_answers (target, http_status, started_at) VALUES ('mirror', 201, ?)", (now,))
    if rt.mirror.postgres:  # what autovacuum does after a bulk load
        rt.mirror.connection().execute("VACUUM ANALYZE")


def interleaved(gets: list[Callable[[], object]], rounds: int) -> list[float]:
    """The median time of each of `gets`, called in turn round after round, the order reversed every other
    round (after one warm call each)."""
    for get in gets:
        get()
    samples: list[list[float]] = [[] for _ in gets]
    for round_ in range(rounds):
        turns = list(zip(gets, samples, strict=True))
        for get, taken in turns if round_ % 2 == 0 else reversed(turns):  # no mirror always follows another
            started = time.perf_counter()
            get()
            taken.append((time.perf_counter() - started) * 1000)
    return [statistics.median(taken) for taken in samples]


@contextmanager
def opened(url: str, rows: int, rounds: int) -> Iterator[dict[str, Callable[[], object]]]:
    """A mirror with `rows` tickets behind the real app: one call per read (and per new delivery) by name."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "mappings").mkdir()
        (Path(tmp) / "mappings" / "bench.yaml").write_text(MAPPINGS)
        database = url or f"sqlite:///{tmp}/gw.db"
        settings = Settings(mappings=Path(tmp) / "mappings", database_url=database, var_dir=Path(tmp))
        rt = Runtime.load(settings, {})
        if rows:
            seed(rt, rows)
        try:
            with TestClient(create_app(rt, None)) as client:

                def reader(path: str, params: dict[str, str]) -> Callable[[], object]:
                    def get() -> object:
                        response = client.get(path, params=params)
                        assert response.status_code == 200, response.text
                        return response

                    return get

                bodies = iter(deliveries(rounds + 1, first_id=10**7))

                def ingest() -> object:
                    response = client.post("/v1/webhooks/qualytics", content=next(bodies), headers=HEADERS)
                    assert response.status_code == 202, response.text
                    return response

                yield {**{name: reader(path, params) for name, (path, params) in READS.items()}, INGRESS: ingest}
        finally:
            rt.mirror.close()


def measure(backend: str, args: argparse.Namespace) -> tuple[dict[str, list[float]], float]:
    """One run: each read's median on the three mirrors, and the share of the machine's time stolen."""
    server = None
    urls = ["", "", ""]
    if backend == "postgresql":
        from tests.postgres import PostgresServer

        server = PostgresServer().start()
        urls = [server.create_database() for _ in range(3)]
    try:
        with ExitStack() as stack:
            mirrors = [
                stack.enter_context(opened(url, rows, args.rounds))
                for url, rows in zip(urls, (0, args.page_rows, args.rows), strict=True)
            ]
            before = steal.ticks()
            medians = {name: interleaved([mirror[name] for mirror in mirrors], args.rounds) for name in mirrors[0]}
            return medians, steal.since(before)
    finally:
        if server is not None:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--page-rows", type=int, default=1_000, help="a mirror that fills every page read")
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--runs", type=int, default=5, help="runs in fresh processes; the median ratio is the figure")
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--one-run", action="store_true", help=argparse.SUPPRESS)  # what each fresh process does
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    if args.one_run:
        print(json.dumps(measure(backends[0], args)))
        return
    for backend in backends:
        runs = [_fresh_run(backend, args) for _ in range(args.runs)]
        print(
            f"lists on {backend}: {args.runs} runs in fresh processes, each the median of {args.rounds} requests;"
            f" mirror empty / {args.page_rows:,} tickets (every page full) / {args.rows:,} tickets, in turn;"
            f" ratio {args.rows:,} to {args.page_rows:,}, the runs' median (each run's in brackets);"
            f" {steal.describe(max(stolen for _, stolen in runs))} at most"
        )
        for name in [INGRESS, *READS]:
            empty, page, full = (statistics.median(run[name][i] for run, _ in runs) for i in range(3))
            ratios = [run[name][2] / run[name][1] for run, _ in runs]
            each = " ".join(f"x{ratio:.2f}" for ratio in ratios)
            print(
                f"  {name:<48} {empty:7.1f} ms {page:7.1f} ms {full:7.1f} ms"
                f"  x{statistics.median(ratios):.2f} ({each})"
            )


def _fresh_run(backend: str, args: argparse.Namespace) -> tuple[dict[str, list[float]], float]:
    """`measure` in a new process: no run inherits another's heap, caches or collector state."""
    command = [sys.executable, __file__, "--one-run", "--database", backend, "--rows", str(args.rows)]
    command += ["--page-rows", str(args.page_rows), "--rounds", str(args.rounds)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    medians, stolen = json.loads(output.strip().splitlines()[-1])
    return medians, stolen


if __name__ == "__main__":
    main()
