"""Connections, transactions and versioned migrations of the mirror's database (SQLite, WAL)."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 6

_MIGRATIONS: dict[int, str] = {
    1: """
CREATE TABLE events (
  id TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  source_event_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  anomaly_id TEXT NOT NULL,
  correlation_key TEXT NOT NULL,
  received_at REAL NOT NULL,
  ticket_id INTEGER,
  ignored_reason TEXT,
  payload TEXT NOT NULL,
  UNIQUE (source, source_event_id)
);
CREATE TABLE tickets (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  correlation_key TEXT NOT NULL,
  generation INTEGER NOT NULL,
  state TEXT NOT NULL,
  source TEXT NOT NULL,
  fields TEXT NOT NULL,
  targets TEXT NOT NULL,
  anomaly_ids TEXT NOT NULL,
  occurrences INTEGER NOT NULL DEFAULT 1,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL,
  resolved_at REAL,
  UNIQUE (correlation_key, generation)
);
CREATE TABLE links (
  ticket_id INTEGER NOT NULL REFERENCES tickets(id),
  target TEXT NOT NULL,
  external_id TEXT NOT NULL,
  external_key TEXT NOT NULL,
  url TEXT NOT NULL,
  remote_status TEXT NOT NULL,
  remote_priority TEXT NOT NULL,
  updated_at REAL NOT NULL,
  PRIMARY KEY (ticket_id, target)
);
CREATE TABLE timeline (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ticket_id INTEGER NOT NULL REFERENCES tickets(id),
  at REAL NOT NULL,
  kind TEXT NOT NULL,
  actor TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE TABLE executions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  event_id TEXT,
  ticket_id INTEGER,
  flow TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  status TEXT NOT NULL,
  params TEXT NOT NULL,
  result TEXT,
  error TEXT,
  error_kind TEXT,
  created_at REAL NOT NULL,
  started_at REAL,
  finished_at REAL,
  first_attempt_at REAL,
  lease_until REAL,
  next_attempt_at REAL,
  enqueued_at REAL
);
CREATE INDEX executions_status ON executions (status, next_attempt_at);
CREATE INDEX executions_ticket ON executions (ticket_id, target, seq);
CREATE TABLE attempts (
  execution_id TEXT NOT NULL,
  number INTEGER NOT NULL,
  started_at REAL NOT NULL,
  duration_ms INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  error_kind TEXT,
  http_status INTEGER,
  message TEXT,
  PRIMARY KEY (execution_id, number)
);
""",
    # attempts before a retry from the log do not count against the retried run's budget
    2: "ALTER TABLE executions ADD COLUMN attempts_base INTEGER NOT NULL DEFAULT 0",
    # the anomalies of a ticket; `active` is 1 while the anomaly belongs to it and NULL once moved or
    # unlinked, so unique(source, anomaly_id, active) holds one open ticket per anomaly (NULLs never clash)
    3: """
CREATE TABLE ticket_anomalies (
  ticket_id INTEGER NOT NULL REFERENCES tickets(id),
  source TEXT NOT NULL,
  anomaly_id TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT '',
  title TEXT NOT NULL DEFAULT '',
  active INTEGER CHECK (active = 1),
  first_seen REAL NOT NULL,
  last_seen REAL NOT NULL,
  PRIMARY KEY (ticket_id, source, anomaly_id),
  UNIQUE (source, anomaly_id, active)
);
ALTER TABLE tickets ADD COLUMN resolve_when TEXT;
INSERT INTO ticket_anomalies (ticket_id, source, anomaly_id, active, first_seen, last_seen)
SELECT id, source, substr(correlation_key, length(source) + 2),
  CASE WHEN generation = (SELECT max(g.generation) FROM tickets g WHERE g.correlation_key = t.correlation_key)
  THEN 1 END, created_at, updated_at
FROM tickets t WHERE correlation_key LIKE source || ':%'
""",
    # SLA timers, one row per ticket: due times move when the resolution timer pauses (On Hold) or restarts
    4: """
CREATE TABLE sla_timers (
  ticket_id INTEGER PRIMARY KEY REFERENCES tickets(id),
  response_s REAL NOT NULL,
  resolution_s REAL NOT NULL,
  response_due_at REAL NOT NULL,
  response_stopped_at REAL,
  response_breached_at REAL,
  resolution_due_at REAL NOT NULL,
  resolution_stopped_at REAL,
  resolution_paused_at REAL,
  resolution_breached_at REAL
);
CREATE INDEX sla_timers_due ON sla_timers (resolution_due_at, response_due_at)
""",
    # the timeline by ticket: the history export reads it a batch of tickets at a time
    5: "CREATE INDEX timeline_ticket ON timeline (ticket_id, id)",
    # who opened a ticket by hand (API, chat, console); empty for tickets a tool's anomaly opened
    6: "ALTER TABLE tickets ADD COLUMN requester TEXT NOT NULL DEFAULT ''",
}

def new_id() -> str:
    return uuid.uuid4().hex


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


class Store:
    """One database; a connection per thread and process (SQLite connections do not cross forks)."""

    def __init__(self, path: Path, busy_timeout: float = 30.0) -> None:
        self.path = path
        self.busy_timeout = busy_timeout  # how long a writer queues for the lock before the request gets 503
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.migrate()

    # -- connections and transactions -----------------------------------------------------
    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            self._local.conn = conn
            self._local.pid = os.getpid()
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, taken at once so concurrent writers queue instead of deadlocking."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def migrate(self) -> None:
        conn = self.connection()
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        with self.transaction() as tx:
            row = tx.execute("SELECT max(version) AS v FROM schema_version").fetchone()
            current = row["v"] or 0
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[version].split(";"):
                    if statement.strip():
                        tx.execute(statement)
                tx.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))

    def _one(self, sql: str, args: Sequence[Any] = (), tx: sqlite3.Connection | None = None) -> Any:
        return (tx or self.connection()).execute(sql, args).fetchone()

    def _all(self, sql: str, args: Sequence[Any] = (), tx: sqlite3.Connection | None = None) -> list[Any]:
        return (tx or self.connection()).execute(sql, args).fetchall()

    def close(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def now() -> float:
    return time.time()
