"""Faults: the accounting every fault test ends with, and gateways wired to the tracker emulators."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import psycopg.errors
import pytest

from connectors.jira.config import correlation_label
from gateway.dispatch.sweeper import Sweeper
from gateway.execute import runner as jobs
from gateway.record.rows import ExecutionRow
from gateway.record.store import Store, Tx
from gateway.run.worker import PromptSimpleWorker
from tests.conftest import TRACKER_ENV, Harness, MakeHarness, Trackers
from tests.e2e.conftest import Served

FINISHED = {"succeeded", "failed", "skipped"}


def fault_mappings(
    trackers: Trackers, *, timeout: float = 2, retry: str = "", flows: str | None = None
) -> dict[str, str]:
    """The trackers' mappings with one timeout and (optionally) one retry policy for both targets."""
    extra = f"    retry: {retry}" if retry else ""
    files = trackers.mappings(jira_extra=extra, snow_extra=extra, flows=flows)
    files["targets.yaml"] = files["targets.yaml"].replace("timeout: 2\n", f"timeout: {timeout}\n")
    return files


def tracker_gateway(make_gateway: MakeHarness, trackers: Trackers, **kwargs: Any) -> Harness:
    settings = {k: kwargs.pop(k) for k in list(kwargs) if k not in ("timeout", "retry", "flows")}
    return make_gateway(fault_mappings(trackers, **kwargs), env=TRACKER_ENV, **settings)


def accepted(response: Any) -> list[str]:
    """The event ids of a 202; anything else fails the test with the body."""
    assert response.status_code == 202, response.text
    event_ids: list[str] = response.json()["event_ids"]
    return event_ids


def assert_accounted(executions: list[dict[str, Any]], event_ids: Iterable[str], recorded: set[str]) -> None:
    """Every accepted event is recorded, and each of its executions finished: succeeded, or with a reason."""
    missing = set(event_ids) - recorded
    assert not missing, f"accepted events missing from the database: {sorted(missing)}"
    unfinished = [(e["id"], e["action"], e["target"], e["status"]) for e in executions if e["status"] not in FINISHED]
    assert not unfinished, f"executions not finished: {unfinished}"
    unexplained = [e["id"] for e in executions if e["status"] != "succeeded" and not e["error"]]
    assert not unexplained, f"executions that did not succeed and say no reason: {unexplained}"


def assert_one_ticket_each(trackers: Trackers, anomaly_ids: Iterable[int], source: str = "qualytics") -> None:
    """Each emulator holds exactly one ticket per anomaly, and no ticket for anything else."""
    keys = [f"{source}:{a}" for a in anomaly_ids]
    labels = Counter(label for issue in trackers.issues() for label in issue["fields"]["labels"] if "dqgw-" in label)
    assert labels == Counter(correlation_label(k) for k in keys), "Jira: not exactly one issue per anomaly"
    correlations = Counter(incident["correlation_id"] for incident in trackers.incidents())
    assert correlations == Counter(keys), "ServiceNow: not exactly one incident per anomaly"


def harness_accounting(gateway: Harness, event_ids: Iterable[str]) -> list[dict[str, Any]]:
    recorded = {str(r["id"]) for r in gateway.runtime.mirror.connection().execute("SELECT id FROM events")}
    executions = gateway.executions()
    assert_accounted(executions, event_ids, recorded)
    return executions


def run_once(gateway: Harness, sleep: Callable[[float], None] | None = None) -> None:
    """One burst of the real RQ worker, no fast-forward: what is rescheduled stays rescheduled."""
    jobs.configure(gateway.runtime, sleep=sleep or gateway.sleeps.append)
    PromptSimpleWorker([gateway.dispatcher.queue], connection=gateway.connection).work(burst=True)


def drain_for_real(gateway: Harness, timeout: float = 20.0) -> None:
    """Worker + sweeper with real sleeps, until nothing is queued or running (for waits that must pass)."""
    jobs.configure(gateway.runtime, sleep=time.sleep)
    worker = PromptSimpleWorker([gateway.dispatcher.queue], connection=gateway.connection)
    sweeper = Sweeper(gateway.runtime, gateway.dispatcher)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        worker.work(burst=True)
        counts = gateway.runtime.mirror.counts()
        if not counts.get("queued") and not counts.get("running"):
            return
        time.sleep(0.05)
        sweeper.sweep()
    raise AssertionError(f"executions still unfinished after {timeout} s: {gateway.runtime.mirror.counts()}")


def database_held(gateway: Harness) -> contextlib.AbstractContextManager[None]:
    """Another process holds the whole database: no write can get in."""
    return database_url_held(gateway.settings.database_url)


@contextlib.contextmanager
def database_url_held(database_url: str) -> Iterator[None]:
    store = Store(database_url, migrate=False)
    conn = store.connection()
    if store.postgres:
        conn.execute("BEGIN")
        conn.execute("LOCK TABLE events, tickets, executions IN ACCESS EXCLUSIVE MODE")
    else:
        conn.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        store.close()


# -- served: `gateway serve` subprocesses -----------------------------------------------------


class FaultServed(Served):
    """A `gateway serve` that may be given its Redis, and started again on the same database."""

    def __init__(
        self, root: Path, files: dict[str, str], env: dict[str, str], redis_url: str | None, database_url: str
    ) -> None:
        super().__init__(root, files, env, database_url=database_url)
        if redis_url:
            self.env["REDIS_URL"] = redis_url

    def restart(self) -> FaultServed:
        assert self.process is not None and self.process.poll() is not None, "stop it first"
        return self.start()  # type: ignore[return-value]

    @contextlib.contextmanager
    def db(self) -> Iterator[Tx]:
        """The served gateway's database, read from outside (as an operator would)."""
        store = Store(self.database_url, migrate=False)
        try:
            yield store.connection()
        finally:
            store.close()

    def executions(self) -> list[dict[str, Any]]:
        executions: list[dict[str, Any]] = []
        after = ""
        while True:  # every page, by keyset
            page = self.get("/v1/executions", params={"limit": "500", "after": after})
            executions += page["executions"]
            if not page.get("next"):
                return executions
            after = page["next"]

    def accounting(self, event_ids: Iterable[str]) -> list[dict[str, Any]]:
        with self.db() as conn:
            recorded = {str(r["id"]) for r in conn.execute("SELECT id FROM events")}
        executions = self.executions()
        assert_accounted(executions, event_ids, recorded)
        return executions

    def settled(self) -> bool:
        executions = self.executions()
        return bool(executions) and all(e["status"] in FINISHED for e in executions)


ServeFactory = Callable[..., FaultServed]


@pytest.fixture
def serve_faults(tmp_path: Path, trackers: Trackers, database_url: Callable[[Path], str]) -> Iterator[ServeFactory]:
    started: list[FaultServed] = []

    def start(files: dict[str, str] | None = None, redis_url: str | None = None, **env: str) -> FaultServed:
        root = tmp_path / "served"
        served = FaultServed(root, files or fault_mappings(trackers), env, redis_url, database_url(root)).start()
        started.append(served)
        return served

    yield start
    for served in started:
        if served.process is not None and served.process.poll() is None:
            served.stop()


def children(pid: int) -> list[int]:
    """Direct children of `pid` (RQ's work horse is one: it leaves the group, not the parent)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def kill(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def cli(served_or_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`gateway ARGS` in a subprocess with this environment."""
    return subprocess.run(
        [sys.executable, "-m", "gateway.run.cli", *args],
        env=served_or_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def refuse_finish_once(
    monkeypatch: pytest.MonkeyPatch, mirror: Store, pick: Callable[[ExecutionRow], str | None]
) -> list[str]:
    """The database refuses to record an outcome (locked past its busy timeout, a lost PostgreSQL connection),
    once for each distinct value `pick` gives an execution (None: recorded as usual); the values, in order."""
    refused_error: Exception = (
        psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")
        if mirror.postgres
        else sqlite3.OperationalError("database is locked")
    )
    finish: Callable[..., bool] = mirror.finish  # type: ignore[attr-defined]
    refused: list[str] = []

    def finish_or_refuse(tx: Tx, execution: ExecutionRow, *args: Any, **kwargs: Any) -> bool:
        picked = pick(execution)
        if picked is not None and picked not in refused:
            refused.append(picked)
            raise refused_error
        return finish(tx, execution, *args, **kwargs)

    monkeypatch.setattr(mirror, "finish", finish_or_refuse)
    return refused
