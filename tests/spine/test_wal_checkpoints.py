"""SQLite: commits do not copy the WAL into the database (a checkpoint inside a commit held every writer
of every process for 45-250 ms); the sweepers checkpoint beside the writers instead."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.dispatch.sweeper import Sweeper
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
