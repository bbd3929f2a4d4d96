"""Connections, transactions and versioned migrations of the mirror's database.

SQLite (WAL, the embedded default) or PostgreSQL (psycopg 3), behind one small interface: a
transaction is a `Tx` whose `execute` takes `?` placeholders on both. The schema and the
queries are shared; only the few places where the dialects differ ask `self.postgres`.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import psycopg
import psycopg.errors

SCHEMA_VERSION = 9
MIGRATION_LOCK = 72_630_012  # the advisory lock ten nodes starting at once queue on

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
    # the filters and orders of the list views, and what retention prunes by
    7: """
CREATE INDEX executions_status_seq ON executions (status, seq);
CREATE INDEX executions_target_seq ON executions (target, seq);
CREATE INDEX executions_flow_seq ON executions (flow, seq);
CREATE INDEX executions_event ON executions (event_id);
CREATE INDEX executions_finished ON executions (finished_at);
CREATE INDEX tickets_state ON tickets (lower(state), id);
CREATE INDEX tickets_updated ON tickets (updated_at);
CREATE INDEX events_received ON events (received_at);
CREATE INDEX events_ticket ON events (ticket_id)
""",
    # two-way sync: drift flag, per-field tracker clocks on links, delivery dedupe, poll cursors
    8: """
ALTER TABLE tickets ADD COLUMN drift INTEGER NOT NULL DEFAULT 0;
ALTER TABLE links ADD COLUMN sync_clock TEXT NOT NULL DEFAULT '{}';
CREATE INDEX links_external ON links (target, external_id);
CREATE TABLE tracker_deliveries (
  target TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  received_at REAL NOT NULL,
  PRIMARY KEY (target, delivery_id)
);
CREATE TABLE sync_cursors (
  target TEXT PRIMARY KEY,
  polled_until TEXT NOT NULL DEFAULT '',
  polled_at REAL,
  reconciled_at REAL
);
""",
    # when each target's operators were last told of a problem ("auth"): once per target per hour
    9: "CREATE TABLE target_notices (target TEXT, kind TEXT, notified_at REAL NOT NULL, PRIMARY KEY (target, kind))",
}


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Tx(Protocol):
    """What a transaction offers on both backends; rows answer `row["column"]`, `row[0]` and `dict(row)`."""

    def execute(self, sql: str, args: Sequence[Any] = (), /) -> Cursor: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any: ...


DatabaseError: tuple[type[Exception], ...] = (sqlite3.Error, psycopg.Error)
# another transaction got there first (a unique key, a deadlock): the whole unit of work may run again
CONFLICTS = (
    sqlite3.IntegrityError,
    psycopg.errors.IntegrityError,
    psycopg.errors.DeadlockDetected,
    psycopg.errors.SerializationFailure,
)


@lru_cache(maxsize=2048)
def _pg_sql(sql: str) -> bytes:
    return sql.replace("%", "%%").replace("?", "%s").encode()


def _pg_schema(sql: str) -> str:
    sql = sql.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
    return re.sub(r"\bREAL\b", "DOUBLE PRECISION", re.sub(r"\bINTEGER\b", "BIGINT", sql))


class Row(tuple[Any, ...]):
    """A PostgreSQL row that reads like sqlite3.Row: by name, by position, and as a mapping."""

    names: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        return tuple.__getitem__(self, self.names[key] if isinstance(key, str) else key)

    def keys(self) -> list[str]:
        return list(self.names)


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], Row]:
    names = {column.name: i for i, column in enumerate(cursor.description or ())}

    def make(values: Sequence[Any]) -> Row:
        row = Row(values)
        row.names = names
        return row

    return make


class _PgTx:
    """A psycopg connection (autocommit; transactions are explicit) speaking `?`."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, args: Sequence[Any] = (), /) -> Cursor:
        return self.conn.execute(_pg_sql(sql), args)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any:
        cursor = self.conn.cursor()
        cursor.executemany(_pg_sql(sql), list(rows))
        return cursor

    def close(self) -> None:
        self.conn.close()


def new_id() -> str:
    return uuid.uuid4().hex


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def describe(url: str) -> str:
    """The URL without its password, for logs."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


class Store:
    """One database; a connection per thread and process (connections do not cross forks)."""

    def __init__(self, database: str | Path, busy_timeout: float = 30.0, *, migrate: bool = True) -> None:
        url = f"sqlite:///{database}" if isinstance(database, Path) else database
        self.url = url
        self.postgres = url.startswith(("postgresql://", "postgres://"))
        if not self.postgres and not url.startswith("sqlite:///"):
            raise ValueError("GATEWAY_DATABASE_URL must be sqlite:///PATH or postgresql://USER:PASS@HOST:PORT/DB")
        self.path = Path(url[len("sqlite:///") :]) if not self.postgres else Path()
        self.for_update = " FOR NO KEY UPDATE" if self.postgres else ""  # SQLite's writer lock covers it
        self.busy_timeout = busy_timeout  # how long a writer queues for a lock before the request gets 503
        self._local = threading.local()
        self._opened: list[Any] = []
        self._opened_lock = threading.Lock()
        self._generation = 0  # bumped by close(): every thread's connection is stale after it
        if not self.postgres:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        if migrate:
            self.migrate()

    # -- connections and transactions -----------------------------------------------------
    def connection(self) -> Tx:
        conn: Any = getattr(self._local, "conn", None)
        fresh = getattr(self._local, "key", None) == (os.getpid(), self._generation)
        if conn is not None and fresh and not (self.postgres and (conn.conn.closed or conn.conn.broken)):
            return conn  # type: ignore[no-any-return]
        conn = self._connect_pg() if self.postgres else self._connect_sqlite()
        self._local.conn, self._local.key = conn, (os.getpid(), self._generation)
        with self._opened_lock:
            self._opened.append(conn)
        return conn  # type: ignore[no-any-return]

    def _connect_sqlite(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
        return conn

    def _connect_pg(self) -> _PgTx:
        conn = psycopg.connect(self.url, autocommit=True, row_factory=_row_factory, connect_timeout=10)
        # a lock held longer than this is an outage to report (503), as SQLite's busy timeout is
        conn.execute(b"SELECT set_config('lock_timeout', %s, false)", (f"{int(self.busy_timeout * 1000)}ms",))
        return _PgTx(conn)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction: SQLite takes its writer lock at once (writers queue instead of deadlocking);
        PostgreSQL relies on constraints, row locks and per-key advisory locks (`lock_key`)."""
        conn = self.connection()
        conn.execute("BEGIN" if self.postgres else "BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            with suppress(*DatabaseError):  # the connection is gone; so is the transaction
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def probe(self) -> None:
        """Raises unless a webhook could write now (a lock held past the busy timeout is an outage)."""
        with self.transaction() as tx:
            if self.postgres:
                tx.execute("LOCK TABLE events IN ROW EXCLUSIVE MODE")

    def json_items(self, column: str) -> str:
        """A table of a JSON array column's items, as `value`."""
        return f"json_array_elements_text({column}::json) AS value" if self.postgres else f"json_each({column})"

    def lock_key(self, tx: Tx, key: str) -> None:
        """Serialise transactions about one correlation key until commit (SQLite's writer lock already does)."""
        if self.postgres:
            tx.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (key,))

    def migrate(self) -> int:
        """Apply the migrations this database lacks, once however many processes start at once; the version."""
        conn = self.connection()
        if self.postgres:
            conn.execute("SELECT pg_advisory_lock(?)", (MIGRATION_LOCK,))
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            with self.transaction() as tx:
                row = tx.execute("SELECT max(version) AS v FROM schema_version").fetchone()
                current = row["v"] or 0
                for version in range(current + 1, SCHEMA_VERSION + 1):
                    for statement in _MIGRATIONS[version].split(";"):
                        if statement.strip():
                            tx.execute(_pg_schema(statement) if self.postgres else statement)
                    tx.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        finally:
            if self.postgres:
                conn.execute("SELECT pg_advisory_unlock(?)", (MIGRATION_LOCK,))
        return SCHEMA_VERSION

    def _one(self, sql: str, args: Sequence[Any] = (), tx: Tx | None = None) -> Any:
        return (tx or self.connection()).execute(sql, args).fetchone()

    def _all(self, sql: str, args: Sequence[Any] = (), tx: Tx | None = None) -> list[Any]:
        return (tx or self.connection()).execute(sql, args).fetchall()

    def close(self) -> None:
        """Close every connection this store opened (in any thread)."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
            self._generation += 1
        for conn in opened:
            with suppress(*DatabaseError):
                conn.close()


def now() -> float:
    return time.time()
