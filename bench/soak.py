"""`make soak`: events at a steady rate into `gateway serve` while both trackers misbehave.

Starts the Jira and ServiceNow emulators (faults switched on and re-injected over HTTP every
couple of seconds: 429 with Retry-After, 503, slow answers, dropped connections), starts
`gateway serve` (its embedded Redis and a supervised worker), sends --events deliveries for
--anomalies anomalies over --seconds, waits (bounded) for the executions to settle, and
prints one accounting line. Exits 1 when anything was lost or a tracker holds two tickets
for one anomaly.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.emulators.base import EmulatorHTTPServer  # noqa: E402
from connectors.emulators.jira import sandbox  # noqa: E402
from connectors.emulators.servicenow import ServiceNowEmulator  # noqa: E402

SECRET = "soak-secret-5b0e8d2c71f4"
EXAMPLE_SECRETS = (
    "ALERTMANAGER_TOKEN",
    "DBT_CLOUD_SECRET",
    "GENERIC_HMAC_SECRET",
    "GX_WEBHOOK_TOKEN",
    "JIRA_WEBHOOK_SECRET",
    "MONTE_CARLO_SECRET",
    "QUALYTICS_API_TOKEN",
    "SERVICENOW_PUSH_SECRET",
    "SODA_WEBHOOK_TOKEN",
)
SAMPLE = json.loads((ROOT / "tests/data/payloads/qualytics.json").read_text())
ROUND = [  # injected in turn, one at a time per tracker; each hits the next matching request
    {"kind": "status", "status": 429, "retry_after": 1},
    {"kind": "status", "status": 503},
    {"kind": "slow", "delay": 0.5},
    {"kind": "drop"},
    {"kind": "drop_after", "method": "POST"},
]
RETRY = {"attempts": 10, "initial": 0.2, "max": 5, "deadline": 300}


def mappings() -> dict[str, str]:
    """The example mappings users run (`mappings/`), with short timeouts and a soak-sized retry policy."""
    files = {path.name: path.read_text() for path in sorted((ROOT / "mappings").glob("*.yaml"))}
    targets = yaml.safe_load(files["targets.yaml"])
    for target in targets["targets"].values():
        target.update(timeout=2, retry=RETRY)
    files["targets.yaml"] = yaml.safe_dump(targets, sort_keys=False)
    return files


def delivery(anomaly: int, nth: int) -> bytes:
    """The nth event of an anomaly: first it is found, then it alternates acknowledged / seen again."""
    body: dict[str, Any] = json.loads(json.dumps(SAMPLE))
    entry = {**body["context"]["anomalies"][0], "id": anomaly}
    trigger = "Anomaly"
    if nth % 2 == 1:
        trigger, entry["status"] = "Anomaly Status Change", "Acknowledged"
    body["context"]["anomalies"] = [entry]
    body["trigger"] = {"type": trigger, "timestamp": f"2026-01-25T12:{nth // 60:02d}:{nth % 60:02d}Z"}
    return json.dumps(body).encode()


class Gateway:
    """`gateway serve` in a subprocess on a temporary directory."""

    def __init__(self, root: Path, files: dict[str, str], port: int, jira: str, snow: str) -> None:
        (root / "mappings").mkdir(parents=True)
        for name, text in files.items():
            (root / "mappings" / name).write_text(text)
        self.root, self.url = root, f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            # the example mappings' other secrets: `serve --no-sandbox` refuses their change-me defaults
            **{name: f"soak-{name.lower()}-0f3a9c27e1" for name in EXAMPLE_SECRETS},
            "QUALYTICS_SECRET": SECRET,
            "JIRA_URL": jira,
            "JIRA_USER": "sandbox",
            "JIRA_API_TOKEN": "sandbox-token",
            "SERVICENOW_URL": snow,
            "SERVICENOW_USER": "sandbox",
            "SERVICENOW_PASSWORD": "sandbox-password",
            "GATEWAY_MAPPINGS": str(root / "mappings"),
            "GATEWAY_DATABASE_URL": f"sqlite:///{root / 'gateway.db'}",
            "GATEWAY_VAR_DIR": str(root / "var"),
            "GATEWAY_SWEEP_INTERVAL_SECONDS": "0.2",
            "GATEWAY_LEASE_SECONDS": "30",
            "PYTHONPATH": str(ROOT),
        }
        env.pop("REDIS_URL", None)
        self.log = (root / "serve.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway.run.cli", "serve", "--no-sandbox", "--port", str(port)],
            cwd=root,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit(f"gateway serve did not start; see {self.root / 'serve.log'}")

    def db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.root / "gateway.db", timeout=30)
        conn.row_factory = sqlite3.Row
        return conn

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


CONTROL = {"X-Emulator-Token": "soak-control"}  # both emulators' control token (main sets it)


def control(server: EmulatorHTTPServer) -> dict[str, str]:
    return {"X-Emulator-Token": server.emulator.control_token}


def inject_faults(servers: dict[str, EmulatorHTTPServer], stop: threading.Event, every: int) -> None:
    """Keep both trackers misbehaving: after every `every` requests a tracker served, the next fault
    of ROUND, over HTTP. Counted in requests, not seconds: faults stay a share of the traffic
    (about 1 in `every`) instead of hitting every request of a gateway that is backing off."""
    turn = 0
    seen = dict.fromkeys(servers, 0)
    with httpx.Client(timeout=5) as client:
        while not stop.wait(0.05):
            for name, server in servers.items():
                served = server.emulator.served
                if served - seen[name] >= every and not server.emulator.faults:
                    fault = ROUND[turn % len(ROUND)]
                    client.post(f"{server.url}/_emulator/faults", json=fault, headers=control(server))
                    seen[name], turn = served, turn + 1
        for server in servers.values():
            client.delete(f"{server.url}/_emulator/faults", headers=control(server))


def send(gateway: Gateway, events: int, anomalies: int, rate: float) -> tuple[list[str], int]:
    """Deliveries at `rate` per second; the event ids of every 202 and the count of refusals."""
    accepted: list[str] = []
    refused = 0
    lock = threading.Lock()
    seen: Counter[int] = Counter()
    headers = {"x-qualytics-secret": SECRET, "content-type": "application/json"}

    def post(body: bytes) -> None:
        nonlocal refused
        try:
            response = client.post(f"{gateway.url}/v1/webhooks/qualytics", content=body, headers=headers)
        except httpx.HTTPError:
            response = None
        with lock:
            if response is not None and response.status_code == 202:
                accepted.extend(response.json()["event_ids"])
            else:
                refused += 1

    start = time.monotonic()
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(max_workers=16) as pool:
        for i in range(events):
            anomaly = 1 + i % anomalies
            body = delivery(anomaly, seen[anomaly])
            seen[anomaly] += 1
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(post, body)
    return accepted, refused


def settle(gateway: Gateway, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with gateway.db() as conn:
            row = conn.execute("SELECT count(*) FROM executions WHERE status IN ('queued', 'running')").fetchone()
        if row[0] == 0:
            return
        time.sleep(0.5)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


def account(gateway: Gateway, accepted: list[str], refused: int, urls: dict[str, str]) -> tuple[str, bool]:
    """The one line: accepted, succeeded, failed, lost, duplicate tickets, acceptance-to-ticket p50/p99."""
    with gateway.db() as conn:
        recorded = {r["id"]: r["received_at"] for r in conn.execute("SELECT id, received_at FROM events")}
        executions = [dict(r) for r in conn.execute("SELECT * FROM executions")]
    by_event: dict[str, list[dict[str, Any]]] = {}
    for execution in executions:
        by_event.setdefault(execution["event_id"], []).append(execution)
    lost = sum(
        1
        for event_id in accepted
        if event_id not in recorded
        or any(e["status"] in ("queued", "running") for e in by_event.get(event_id, []))
        or any(e["status"] == "failed" and not e["error"] for e in by_event.get(event_id, []))
    )
    statuses = Counter(e["status"] for e in executions)
    issues = httpx.get(f"{urls['jira']}/_emulator/state", headers=CONTROL).json()["issues"]
    incidents = httpx.get(f"{urls['snow']}/_emulator/state", headers=CONTROL).json()["incidents"]
    labels = Counter(label for issue in issues for label in issue["fields"]["labels"] if label.startswith("dqgw-"))
    keys = Counter(incident["correlation_id"] for incident in incidents)
    duplicates = sum(1 for n in labels.values() if n > 1) + sum(1 for n in keys.values() if n > 1)
    latencies = [
        e["finished_at"] - recorded[e["event_id"]]
        for e in executions
        if e["action"] == "create_ticket" and e["status"] == "succeeded" and e["event_id"] in recorded
    ]
    line = (
        f"soak: accepted={len(accepted)} refused={refused} executions={len(executions)}"
        f" succeeded={statuses['succeeded']} failed={statuses['failed']} skipped={statuses['skipped']}"
        f" lost={lost} duplicate_tickets={duplicates} jira_issues={len(issues)} snow_incidents={len(incidents)}"
        f" accept_to_ticket_p50={percentile(latencies, 0.5):.2f}s p99={percentile(latencies, 0.99):.2f}s"
    )
    return line, lost == 0 and duplicates == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=160, help="deliveries to send")
    parser.add_argument("--anomalies", type=int, default=60, help="distinct anomalies they are about")
    parser.add_argument("--seconds", type=float, default=40.0, help="spread the deliveries over this long")
    parser.add_argument("--rate", type=float, help="deliveries per second (default: events / seconds)")
    parser.add_argument("--settle", type=float, default=90.0, help="how long to wait for executions to finish")
    parser.add_argument("--fault-every", type=int, default=8, help="one fault per this many tracker requests")
    parser.add_argument("--keep", type=Path, help="keep the gateway's database and log in this directory")
    args = parser.parse_args(argv)
    rate = args.rate or args.events / args.seconds

    jira = EmulatorHTTPServer(sandbox(), "127.0.0.1", 0).start()
    snow = EmulatorHTTPServer(ServiceNowEmulator(), "127.0.0.1", 0).start()
    jira.emulator.control_token = snow.emulator.control_token = CONTROL["X-Emulator-Token"]
    urls = {"jira": jira.url, "snow": snow.url}
    with tempfile.TemporaryDirectory(prefix="gw-soak-") as tmp:
        gateway = Gateway(args.keep or Path(tmp), mappings(), _free_port(), jira.url, snow.url)
        stop = threading.Event()
        servers = {"jira": jira, "snow": snow}
        faults = threading.Thread(target=inject_faults, args=(servers, stop, args.fault_every), daemon=True)
        faults.start()
        try:
            accepted, refused = send(gateway, args.events, args.anomalies, rate)
            settle(gateway, args.settle * 0.8)
            stop.set()  # faults off: the last backoffs finish against healthy trackers
            faults.join(timeout=10)
            settle(gateway, args.settle * 0.2)
            line, ok = account(gateway, accepted, refused, urls)
        finally:
            stop.set()
            gateway.stop()
            jira.stop()
            snow.stop()
    print(line)
    return 0 if ok else 1


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


if __name__ == "__main__":
    raise SystemExit(main())
