"""A web node without workers on SQLite (`gateway serve --workers 0`): its ingress writer process checkpoints the
write-ahead log beside its batches, as the workers' sweepers do. SQLite's alone (PostgreSQL checkpoints on its own)."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import Trackers
from tests.e2e.conftest import Served
from tests.faults.test_ingress_writer import PROCESS, post, writer_pid

pytestmark = pytest.mark.slow


def test_a_web_node_without_workers_checkpoints_beside_its_writes(tmp_path: Path, trackers: Trackers) -> None:
    """`--workers 0`: no sweeper. The writer process copies the WAL into the database beside its batches, so
    the database file alone holds what was accepted (before, only a commit past 10,000 pages did, inside it)."""
    served = Served(
        tmp_path / "web",
        trackers.mappings(),
        {"GATEWAY_SWEEP_INTERVAL_SECONDS": "0.2", **PROCESS},
        options=("--no-sandbox", "--workers", "0"),
    ).start()
    try:
        writer_pid(served)
        accepted = [post(served, anomaly) for anomaly in range(1, 6)]
        assert [a.status_code for a in accepted] == [202] * 5
        database = tmp_path / "web" / "gateway.db"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and events_in_file_alone(database, tmp_path / "copy.db") < 5:
            time.sleep(0.2)
        assert events_in_file_alone(database, tmp_path / "copy.db") == 5
    finally:
        served.stop()


def events_in_file_alone(database: Path, copy: Path) -> int:
    """The events the database file holds without its write-ahead log (a copy of the file, opened alone)."""
    shutil.copyfile(database, copy)
    connection = sqlite3.connect(copy)
    try:
        return int(connection.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.OperationalError:  # not even the schema yet: everything is still in the log
        return 0
    finally:
        connection.close()
        for leftover in (copy, Path(f"{copy}-wal"), Path(f"{copy}-shm")):
            leftover.unlink(missing_ok=True)
