"""SQLite: commits do not copy the WAL into the database (a checkpoint inside a commit held every writer
of every process for 45-250 ms); the sweepers checkpoint beside the writers instead."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.dispatch.sweeper import Sweeper
from gateway.record import store as store_module
from gateway.record.store import Store
from tests.conftest import LOCAL_MAPPINGS, Harness, qualytics_delivery


def rows_in_the_database_file(database: Path, table: str, tmp_path: Path) -> int:
    """What the database file alone holds (a copy without its WAL): only what a checkpoint put there."""
    alone = tmp_path / "alone.db"
    shutil.copyfile(database, alone)
    with sqlite3.connect(alone) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@pytest.fixture
def harness(tmp_path: Path, redis_url: str) -> Iterator[Harness]:
    made = Harness(tmp_path / "gw", redis_url, LOCAL_MAPPINGS, {}, {})  # SQLite whatever the test run's backend
    yield made
    made.client.__exit__(None, None, None)
    made.runtime.mirror.close()


def test_commits_past_sqlites_own_threshold_leave_the_checkpoint_to_checkpoint(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'gw.db'}", busy_timeout=5.0, migrate=False)
    store.connection().execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    store.checkpoint()
    for number in range(1500):  # about 1,500 pages: SQLite's default would have checkpointed in a commit
        with store.transaction() as tx:
            tx.execute("INSERT INTO blobs (id, data) VALUES (?, ?)", (number, bytes(4000)))

    assert rows_in_the_database_file(tmp_path / "gw.db", "blobs", tmp_path) == 0
    store.checkpoint()
    assert rows_in_the_database_file(tmp_path / "gw.db", "blobs", tmp_path) == 1500
    store.close()


def test_a_sweep_checkpoints_what_the_ingress_wrote(harness: Harness, tmp_path: Path) -> None:
    sweeper = Sweeper(harness.runtime, harness.dispatcher)
    sweeper.sweep()  # the schema, into the file
    for anomaly in (1, 2, 3):
        assert harness.post("qualytics", qualytics_delivery(anomaly)).status_code == 202
    database = Path(harness.settings.database_url.removeprefix("sqlite:///"))
    assert rows_in_the_database_file(database, "events", tmp_path) == 0

    sweeper.sweep()

    assert rows_in_the_database_file(database, "events", tmp_path) == 3


def test_under_a_writer_that_never_pauses_the_checkpoints_start_the_log_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer restarts the WAL only when it finds every frame copied, and a busy one has always written more
    by then: the log grew to the backstop and a commit checkpointed it with its turn held (README,
    "Performance"). The checkpoints beside the writer now restart it once it is long and all copied."""
    monkeypatch.setattr(store_module, "WAL_RESTART_FRAMES", 500)
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    store = Store(url, busy_timeout=5.0, migrate=False)
    store.connection().execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    wal, written, largest, starts = tmp_path / "gw.db-wal", 6000, 0, []
    writer = subprocess.Popen([sys.executable, "-c", WRITE_BACK_TO_BACK, url, str(written)])  # its own interpreter
    while writer.poll() is None:
        store.checkpoint()
        largest = max(largest, wal.stat().st_size if wal.exists() else 0)
        started = log_started(wal)
        if started is not None and started not in starts:
            starts.append(started)
        time.sleep(0.005)

    frame = 4096 + 24
    assert writer.returncode == 0
    assert store.connection().execute("SELECT count(*) FROM blobs").fetchone()[0] == written
    # Without these restarts the log starts twice (created, then once by the writer early on) and grows to the
    # commits' 18,000 frames (75 MB). With them: 6-7 starts and 3,000-8,400 frames at most in runs on an idle
    # machine (how far it grows between two checkpoints depends on how fast each side runs).
    assert len(starts) >= 3
    assert largest < 12_000 * frame
    store.close()


def log_started(wal: Path) -> int | None:
    """The WAL header's checkpoint sequence: SQLite adds one each time a writer starts the log over."""
    try:
        with wal.open("rb") as file:
            header = file.read(16)
    except FileNotFoundError:
        return None
    return int.from_bytes(header[12:16], "big") if len(header) == 16 else None


WRITE_BACK_TO_BACK = """
import sys
from gateway.record.store import Store
store = Store(sys.argv[1], busy_timeout=5.0, migrate=False)
for number in range(int(sys.argv[2])):  # a page or two a commit
    with store.transaction() as tx:
        tx.execute("INSERT INTO blobs (id, data) VALUES (?, ?)", (number, bytes(3000)))
store.close()
"""
