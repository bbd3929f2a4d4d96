"""SQLite writers take turns on a lock file beside the database (gateway/record/store.py, `writing`)."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path

import pytest

from gateway.record.store import Store


def holder(store: Store) -> int:
    """Another writer's turn, held as another process would hold it (its own open file)."""
    fd = os.open(f"{store.path}-writer", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise
    return fd


def test_a_turn_not_had_in_time_is_the_busy_outage(tmp_path: Path) -> None:
    store = Store(tmp_path / "gw.db", busy_timeout=0.2)
    fd = holder(store)
    try:
        with pytest.raises(sqlite3.OperationalError, match="database is locked"), store.transaction() as tx:
            tx.execute("SELECT 1")
    finally:
        os.close(fd)  # the other writer is done
    with store.transaction() as tx:
        tx.execute("CREATE TABLE written (n INTEGER)")
    assert store.connection().execute("SELECT count(*) FROM written").fetchone()[0] == 0


def test_the_turn_is_given_back_when_a_transaction_fails(tmp_path: Path) -> None:
    store = Store(tmp_path / "gw.db", busy_timeout=0.2)
    with pytest.raises(RuntimeError), store.transaction():
        raise RuntimeError("the plan failed")
    os.close(holder(store))  # free again: another writer gets it at once
    with store.writing(), pytest.raises(BlockingIOError):
        holder(store)  # while this thread writes, nobody else does
