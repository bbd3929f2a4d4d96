"""The mirror: tickets, links, timeline, events and executions in SQL (SQLite by default).

The database is the source of truth and the outbox: the ingress writes an event, its ticket
and its executions in one transaction; workers claim executions with a compare-and-set and a
lease, so a lost or doubled RQ job is harmless.
"""

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

SCHEMA_VERSION = 2

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
}

UNFINISHED = ("queued", "running")


def new_id() -> str:
    return uuid.uuid4().hex


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


class Mirror:
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

    # -- events ---------------------------------------------------------------------------
    def insert_event(
        self,
        tx: sqlite3.Connection,
        *,
        source: str,
        source_event_id: str,
        event_type: str,
        anomaly_id: str,
        correlation_key: str,
        payload: Any,
        now: float,
    ) -> str | None:
        """The new event's id, or None when this source already sent this event id."""
        event_id = new_id()
        cursor = tx.execute(
            "INSERT INTO events (id, source, source_event_id, event_type, anomaly_id, correlation_key,"
            " received_at, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (source, source_event_id) DO NOTHING",
            (event_id, source, source_event_id, event_type, anomaly_id, correlation_key, now, _dumps(payload)),
        )
        return event_id if cursor.rowcount == 1 else None

    def existing_event_id(self, tx: sqlite3.Connection, source: str, source_event_id: str) -> str:
        row = tx.execute(
            "SELECT id FROM events WHERE source = ? AND source_event_id = ?", (source, source_event_id)
        ).fetchone()
        return str(row["id"])

    def set_event_outcome(
        self, tx: sqlite3.Connection, event_id: str, *, ticket_id: int | None = None, ignored: str | None = None
    ) -> None:
        tx.execute("UPDATE events SET ticket_id = ?, ignored_reason = ? WHERE id = ?", (ticket_id, ignored, event_id))

    def get_event(self, event_id: str) -> dict[str, Any] | None:
        row = self.connection().execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
        if row is None:
            return None
        data = dict(row)
        data["payload"] = json.loads(data["payload"])
        return data

    # -- tickets --------------------------------------------------------------------------
    def current_ticket(self, tx: sqlite3.Connection, correlation_key: str) -> dict[str, Any] | None:
        row = tx.execute(
            "SELECT * FROM tickets WHERE correlation_key = ? ORDER BY generation DESC LIMIT 1", (correlation_key,)
        ).fetchone()
        return _ticket(row) if row else None

    def create_ticket(
        self,
        tx: sqlite3.Connection,
        *,
        correlation_key: str,
        generation: int,
        state: str,
        source: str,
        fields: dict[str, str],
        targets: list[str],
        anomaly_id: str,
        now: float,
    ) -> int:
        cursor = tx.execute(
            "INSERT INTO tickets (correlation_key, generation, state, source, fields, targets, anomaly_ids,"
            " occurrences, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
            (
                correlation_key,
                generation,
                state,
                source,
                _dumps(fields),
                _dumps(targets),
                _dumps([anomaly_id]),
                now,
                now,
            ),
        )
        ticket_id = int(cursor.lastrowid or 0)
        self.add_timeline(tx, ticket_id, "opened", "gateway", {"state": state}, now)
        return ticket_id

    def ticket(self, ticket_id: int, tx: sqlite3.Connection | None = None) -> dict[str, Any] | None:
        row = (tx or self.connection()).execute("SELECT * FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        return _ticket(row) if row else None

    def list_tickets(
        self, *, state: str | None = None, source: str | None = None, q: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM tickets WHERE 1 = 1", list[Any]()
        if state:
            sql, args = sql + " AND lower(state) = lower(?)", [*args, state]
        if source:
            sql, args = sql + " AND source = ?", [*args, source]
        if q:
            sql, args = (
                sql + " AND (lower(fields) LIKE ? OR correlation_key LIKE ?)",
                [*args, f"%{q.lower()}%", f"%{q}%"],
            )
        rows = self.connection().execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [_ticket(r) for r in rows]

    def update_ticket(self, tx: sqlite3.Connection, ticket_id: int, now: float, **changes: Any) -> None:
        encoded = {k: _dumps(v) if k in ("fields", "targets", "anomaly_ids") else v for k, v in changes.items()}
        assignments = ", ".join(f"{k} = ?" for k in encoded)
        tx.execute(
            f"UPDATE tickets SET {assignments}, updated_at = ? WHERE id = ?", (*encoded.values(), now, ticket_id)
        )

    def add_timeline(
        self, tx: sqlite3.Connection, ticket_id: int, kind: str, actor: str, data: dict[str, Any], now: float
    ) -> None:
        tx.execute(
            "INSERT INTO timeline (ticket_id, at, kind, actor, data) VALUES (?, ?, ?, ?, ?)",
            (ticket_id, now, kind, actor, _dumps(data)),
        )

    def timeline(self, ticket_id: int) -> list[dict[str, Any]]:
        rows = self._all("SELECT at, kind, actor, data FROM timeline WHERE ticket_id = ? ORDER BY id", (ticket_id,))
        return [{**dict(r), "data": json.loads(r["data"])} for r in rows]

    def links(self, ticket_id: int, tx: sqlite3.Connection | None = None) -> list[dict[str, Any]]:
        rows = self._all("SELECT * FROM links WHERE ticket_id = ? ORDER BY target", (ticket_id,), tx=tx)
        return [dict(r) for r in rows]

    def link(self, ticket_id: int, target: str, tx: sqlite3.Connection | None = None) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM links WHERE ticket_id = ? AND target = ?", (ticket_id, target), tx=tx)
        return dict(row) if row else None

    def save_link(
        self, tx: sqlite3.Connection, ticket_id: int, target: str, remote: dict[str, str], now: float
    ) -> None:
        tx.execute(
            "INSERT INTO links (ticket_id, target, external_id, external_key, url, remote_status, remote_priority,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ticket_id, target) DO UPDATE SET"
            " external_id = excluded.external_id, external_key = excluded.external_key, url = excluded.url,"
            " remote_status = excluded.remote_status, remote_priority = excluded.remote_priority,"
            " updated_at = excluded.updated_at",
            (
                ticket_id,
                target,
                remote["external_id"],
                remote["external_key"],
                remote["url"],
                remote["remote_status"],
                remote["remote_priority"],
                now,
            ),
        )

    # -- executions -----------------------------------------------------------------------
    def create_execution(
        self,
        tx: sqlite3.Connection,
        *,
        event_id: str | None,
        ticket_id: int | None,
        flow: str,
        action: str,
        target: str,
        params: dict[str, Any],
        now: float,
        status: str = "queued",
        error: str | None = None,
        error_kind: str | None = None,
        due_at: float | None = None,
    ) -> str:
        """A new execution; `due_at` makes it due for the sweeper at once (work planned by a worker)."""
        execution_id = new_id()
        finished = now if status in ("failed", "skipped", "succeeded") else None
        values = (execution_id, event_id, ticket_id, flow, action, target, status, _dumps(params), error, error_kind)
        tx.execute(
            "INSERT INTO executions (id, event_id, ticket_id, flow, action, target, status, params, error,"
            " error_kind, created_at, finished_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*values, now, finished, due_at),
        )
        return execution_id

    def execution(self, execution_id: str, tx: sqlite3.Connection | None = None) -> dict[str, Any] | None:
        row = (tx or self.connection()).execute("SELECT * FROM executions WHERE id = ?", (execution_id,)).fetchone()
        return _execution(row) if row else None

    def attempts(self, execution_id: str) -> list[dict[str, Any]]:
        rows = self._all(
            "SELECT number, started_at, duration_ms, outcome, error_kind, http_status, message FROM attempts"
            " WHERE execution_id = ? ORDER BY number",
            (execution_id,),
        )
        return [dict(r) for r in rows]

    def list_executions(
        self,
        *,
        status: str | None = None,
        target: str | None = None,
        flow: str | None = None,
        action: str | None = None,
        error_kind: str | None = None,
        since: float | None = None,
        ticket_id: int | None = None,
        event_id: str | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM executions WHERE 1 = 1", list[Any]()
        for column, value in (
            ("status", status),
            ("target", target),
            ("flow", flow),
            ("action", action),
            ("error_kind", error_kind),
            ("ticket_id", ticket_id),
            ("event_id", event_id),
        ):
            if value is not None and value != "":
                sql, args = sql + f" AND {column} = ?", [*args, value]
        if since is not None:
            sql, args = sql + " AND created_at >= ?", [*args, since]
        rows = self.connection().execute(sql + " ORDER BY seq DESC LIMIT ?", (*args, limit)).fetchall()
        return [_execution(r) for r in rows]

    def claim(self, execution_id: str, now: float, lease: float) -> dict[str, Any] | None:
        """Take a queued, due execution for this worker; None when another has it or it is not due."""
        with self.transaction() as tx:
            cursor = tx.execute(
                "UPDATE executions SET status = 'running', started_at = ?, lease_until = ?,"
                " first_attempt_at = coalesce(first_attempt_at, ?)"
                " WHERE id = ? AND status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)",
                (now, now + lease, now, execution_id, now + 0.05),
            )
            if cursor.rowcount != 1:
                return None
            return self.execution(execution_id, tx)

    def renew_lease(self, execution_id: str, until: float) -> None:
        with self.transaction() as tx:
            tx.execute(
                "UPDATE executions SET lease_until = ? WHERE id = ? AND status = 'running'", (until, execution_id)
            )

    def record_attempt(
        self,
        execution_id: str,
        *,
        started_at: float,
        duration_ms: int,
        outcome: str,
        error_kind: str | None = None,
        http_status: int | None = None,
        message: str | None = None,
    ) -> int:
        with self.transaction() as tx:
            row = tx.execute(
                "SELECT coalesce(max(number), 0) + 1 AS n FROM attempts WHERE execution_id = ?", (execution_id,)
            ).fetchone()
            number = int(row["n"])
            tx.execute(
                "INSERT INTO attempts (execution_id, number, started_at, duration_ms, outcome, error_kind,"
                " http_status, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (execution_id, number, started_at, duration_ms, outcome, error_kind, http_status, message),
            )
            return number

    def attempt_count(self, execution_id: str) -> int:
        row = self._one("SELECT count(*) AS n FROM attempts WHERE execution_id = ?", (execution_id,))
        return int(row["n"])

    def finish(
        self,
        tx: sqlite3.Connection,
        execution_id: str,
        status: str,
        now: float,
        *,
        result: Any = None,
        error: str | None = None,
        error_kind: str | None = None,
    ) -> None:
        tx.execute(
            "UPDATE executions SET status = ?, finished_at = ?, result = ?, error = ?, error_kind = ?,"
            " lease_until = NULL, next_attempt_at = NULL WHERE id = ?",
            (status, now, None if result is None else _dumps(result), error, error_kind, execution_id),
        )

    def requeue(self, execution_id: str, at: float, *, error: str | None = None, error_kind: str | None = None) -> None:
        """Back to queued, due at `at` (a backoff, or waiting for an earlier action)."""
        with self.transaction() as tx:
            tx.execute(
                "UPDATE executions SET status = 'queued', next_attempt_at = ?, lease_until = NULL,"
                " enqueued_at = NULL, error = coalesce(?, error), error_kind = coalesce(?, error_kind)"
                " WHERE id = ?",
                (at, error, error_kind, execution_id),
            )

    def retry(self, tx: sqlite3.Connection, execution_id: str) -> bool:
        """A failed (or skipped) execution back to the queue, keeping its params and attempts."""
        cursor = tx.execute(
            "UPDATE executions SET status = 'queued', finished_at = NULL, next_attempt_at = NULL,"
            " first_attempt_at = NULL, enqueued_at = NULL, error = NULL, error_kind = NULL,"
            " attempts_base = (SELECT count(*) FROM attempts WHERE execution_id = executions.id)"
            " WHERE id = ? AND status IN ('failed', 'skipped')",
            (execution_id,),
        )
        return cursor.rowcount == 1

    def earlier_unfinished(self, execution: dict[str, Any]) -> dict[str, Any] | None:
        """An earlier ticket action on the same ticket and target that has not finished yet."""
        row = self._one(
            "SELECT * FROM executions WHERE ticket_id = ? AND target = ? AND seq < ?"
            " AND status IN ('queued', 'running') AND action != 'notify' ORDER BY seq LIMIT 1",
            (execution["ticket_id"], execution["target"], execution["seq"]),
        )
        return _execution(row) if row else None

    def pending_action(self, tx: sqlite3.Connection, ticket_id: int, target: str, action: str) -> bool:
        row = self._one(
            "SELECT 1 FROM executions WHERE ticket_id = ? AND target = ? AND action = ?"
            " AND status IN ('queued', 'running') LIMIT 1",
            (ticket_id, target, action),
            tx=tx,
        )
        return row is not None

    def latest_create(self, ticket_id: int, target: str) -> dict[str, Any] | None:
        row = self._one(
            "SELECT * FROM executions WHERE ticket_id = ? AND target = ? AND action = 'create_ticket'"
            " ORDER BY seq DESC LIMIT 1",
            (ticket_id, target),
        )
        return _execution(row) if row else None

    def due_for_enqueue(self, now: float, grace: float, lease: float, limit: int = 500) -> list[str]:
        """Queued executions that are due and were never enqueued (past a grace) or enqueued long ago."""
        rows = self._all(
            "SELECT id FROM executions WHERE status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
            " AND ((enqueued_at IS NULL AND (next_attempt_at IS NOT NULL OR created_at <= ?)) OR enqueued_at <= ?)"
            " ORDER BY seq LIMIT ?",
            (now, now - grace, now - lease, limit),
        )
        return [str(r["id"]) for r in rows]

    def mark_enqueued(self, ids: Sequence[str], now: float) -> None:
        """Marked before the jobs are sent: a worker that runs one first must not have its requeue undone."""
        if not ids:
            return
        with self.transaction() as tx:
            tx.executemany(
                "UPDATE executions SET enqueued_at = ? WHERE id = ? AND status = 'queued'", [(now, i) for i in ids]
            )

    def unmark_enqueued(self, ids: Sequence[str], at: float) -> None:
        """The send failed: leave them to the sweeper (unless something else has marked them since)."""
        if not ids:
            return
        with self.transaction() as tx:
            tx.executemany(
                "UPDATE executions SET enqueued_at = NULL WHERE id = ? AND enqueued_at = ?", [(i, at) for i in ids]
            )

    def forget_enqueued(self, now: float) -> int:
        """Queued executions whose jobs may be gone (Redis restarted): due again, never enqueued."""
        with self.transaction() as tx:
            cursor = tx.execute(
                "UPDATE executions SET enqueued_at = NULL, next_attempt_at = coalesce(next_attempt_at, ?)"
                " WHERE status = 'queued' AND enqueued_at IS NOT NULL",
                (now,),
            )
            return cursor.rowcount

    def expire_leases(self, now: float) -> list[str]:
        """Running executions whose worker stopped renewing: back to queued, due now."""
        with self.transaction() as tx:
            rows = tx.execute(
                "SELECT id FROM executions WHERE status = 'running' AND lease_until < ?", (now,)
            ).fetchall()
            ids = [str(r["id"]) for r in rows]
            tx.executemany(
                "UPDATE executions SET status = 'queued', lease_until = NULL, enqueued_at = NULL,"
                " next_attempt_at = ? WHERE id = ? AND status = 'running'",
                [(now, i) for i in ids],
            )
        return ids

    def gauges(self) -> dict[str, dict[tuple[str, ...], int]]:
        """What /metrics exposes: executions by status, action and target; tickets by state; events by source."""

        def grouped(sql: str) -> dict[tuple[str, ...], int]:
            return {tuple(str(v) for v in row[:-1]): int(row[-1]) for row in self._all(sql)}

        return {
            "executions": grouped("SELECT status, action, target, count(*) FROM executions GROUP BY 1, 2, 3"),
            "tickets": grouped("SELECT state, count(*) FROM tickets GROUP BY 1"),
            "events": grouped("SELECT source, event_type, count(*) FROM events GROUP BY 1, 2"),
        }

    def counts(self) -> dict[str, int]:
        rows = self.connection().execute("SELECT status, count(*) AS n FROM executions GROUP BY status").fetchall()
        return {str(r["status"]): int(r["n"]) for r in rows}


def _ticket(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    for key in ("fields", "targets", "anomaly_ids"):
        data[key] = json.loads(data[key])
    return data


def _execution(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    data["params"] = json.loads(data["params"])
    data["result"] = json.loads(data["result"]) if data["result"] else None
    return data


def now() -> float:
    return time.time()
