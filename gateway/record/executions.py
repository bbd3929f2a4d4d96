"""Executions, their attempts and leases: the execution log and the outbox the sweeper reads."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import msgspec

from gateway.record.counters import SEP, execution_labels
from gateway.record.rows import AttemptRow, Claim, ExecutionRow
from gateway.record.store import Query, Store, Tx, _dumps, every_row, new_id, unindexed
from gateway.record.tickets import ticket_of_execution_read

# The claim's RETURNING reads more beside the row. SQLite gives the updated row's columns no type
# there, so a plain `= executions.id` cannot use an index (it scanned every attempt and event per
# claim): each is CAST to its column's type, a no-op on PostgreSQL.
_CLAIMED_ID, _CLAIMED_EVENT = "CAST(executions.id AS TEXT)", "CAST(executions.event_id AS TEXT)"
_CLAIMED_TICKET, _CLAIMED_TARGET = "CAST(executions.ticket_id AS BIGINT)", "CAST(executions.target AS TEXT)"
# The first unfinished ticket action planned before the claimed one on its ticket and target, as
# "<action> <id>". Coalesced anomaly comments (flow `anomalies`) wait on purpose and hold nothing up.
_WAITS_FOR = (
    f"SELECT e.action || ' ' || e.id FROM executions e WHERE e.ticket_id = {_CLAIMED_TICKET}"
    f" AND {unindexed('e.target')} = {_CLAIMED_TARGET} AND e.seq < CAST(executions.seq AS BIGINT)"
    f" AND {unindexed('e.status')} IN ('queued', 'running') AND e.action != 'notify' AND e.flow != 'anomalies'"
    " ORDER BY e.seq LIMIT 1"
)
# Each target's latest attempt, for /readyz (the newer of two written out of order stays).
_LATEST_ANSWER = (
    "INSERT INTO target_answers (target, http_status, started_at) SELECT target, ?, ? FROM executions WHERE id = ?"
    " ON CONFLICT (target) DO UPDATE SET http_status = excluded.http_status, started_at = excluded.started_at"
    " WHERE target_answers.started_at <= excluded.started_at"
)

CLAIM = (
    "UPDATE executions SET status = 'running', started_at = ?, lease_until = ?,"
    " first_attempt_at = coalesce(first_attempt_at, ?)"
    f" WHERE id = ? AND {unindexed('status')} = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
    f" RETURNING *, (SELECT count(*) FROM attempts a WHERE a.execution_id = {_CLAIMED_ID}) AS attempts_logged,"
    f" ({_WAITS_FOR}) AS waits_for,"
    f" (SELECT payload FROM events ev WHERE ev.id = {_CLAIMED_EVENT}) AS event_payload,"
    f" EXISTS (SELECT 1 FROM links l WHERE l.ticket_id = {_CLAIMED_TICKET} AND l.target = {_CLAIMED_TARGET})"
    " AS has_link,"
    f" EXISTS (SELECT 1 FROM target_notices n WHERE n.target = {_CLAIMED_TARGET} AND n.kind = 'auth') AS auth_noticed"
)


class Executions(Store):
    def create_execution(
        self,
        tx: Tx,
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
        enqueued_at: float | None = None,
    ) -> str:
        """A new execution; `due_at` makes it due for the sweeper at once (work planned by a worker);
        `enqueued_at`: its job is sent once this transaction commits (the ingress), marked as it is written
        (a second write of the row cost PostgreSQL an update of every index on it)."""
        execution_id = new_id()
        finished = now if status in ("failed", "skipped", "succeeded") else None
        values = (execution_id, event_id, ticket_id, flow, action, target, status, _dumps(params), error, error_kind)
        self.send(
            tx,
            "INSERT INTO executions (id, event_id, ticket_id, flow, action, target, status, params, error,"
            " error_kind, created_at, finished_at, next_attempt_at, enqueued_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*values, now, finished, due_at, enqueued_at),
        )
        self.count("executions", execution_labels(status, action, target))
        return execution_id

    def execution(self, execution_id: str, tx: Tx | None = None) -> ExecutionRow | None:
        row = (tx or self.connection()).execute("SELECT * FROM executions WHERE id = ?", (execution_id,)).fetchone()
        return _execution(row) if row else None

    def attempts(self, execution_id: str) -> list[AttemptRow]:
        rows = self._all(
            "SELECT number, started_at, duration_ms, outcome, error_kind, http_status, message FROM attempts"
            " WHERE execution_id = ? ORDER BY number",
            (execution_id,),
        )
        return [msgspec.convert(dict(r), AttemptRow) for r in rows]

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
        after: int | None = None,
    ) -> list[ExecutionRow]:
        """Newest first; `after` is the last seq of the previous page (keyset paging)."""
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
        if after is not None:
            sql, args = sql + " AND seq < ?", [*args, after]
        rows = self._all(sql + " ORDER BY seq DESC LIMIT ?", (*args, limit))
        return [_execution(r) for r in rows]

    def claim(self, execution_id: str, now: float, lease: float) -> Claim | None:
        """Take a queued, due execution for this worker; None when another has it or it is not due."""
        claim = Query(CLAIM, (now, now + lease, now, execution_id, now + 0.05), every_row)
        # the claim is its own transaction (read whole, so SQLite commits it now); its ticket is read with it
        with self.writing():
            rows, ticket = self.ask_together(self.connection(), [claim, ticket_of_execution_read(execution_id)])
        if not rows:
            return None
        row = dict(rows[0])
        return Claim(
            attempts_logged=int(row.pop("attempts_logged")),
            waits_for=row.pop("waits_for"),
            event_payload=row.pop("event_payload"),
            has_link=bool(row.pop("has_link")),
            auth_noticed=bool(row.pop("auth_noticed")),
            execution=_execution(row),
            ticket=ticket,
        )

    def renew_leases(self, claims: Sequence[tuple[str, float]], until: float) -> None:
        """Many running executions' leases in one transaction (one worker's round); each (id, started_at):
        a run whose lease expired and which another worker claimed since renews nothing."""
        if not claims:
            return
        with self.transaction() as tx:
            tx.executemany(
                f"UPDATE executions SET lease_until = ? WHERE id = ? AND {unindexed('status')} = 'running'"
                " AND started_at = ?",
                [(until, execution_id, started_at) for execution_id, started_at in claims],
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
        tx: Tx | None = None,
    ) -> None:
        """Append an attempt and keep its target's latest answer, in `tx` when given (a success is written
        with the execution's finish)."""

        def write(into: Tx) -> None:
            self.send(
                into,
                "INSERT INTO attempts (execution_id, number, started_at, duration_ms, outcome, error_kind,"
                " http_status, message) VALUES (?, (SELECT coalesce(max(number), 0) + 1 FROM attempts"
                " WHERE execution_id = ?), ?, ?, ?, ?, ?, ?)",
                (execution_id, execution_id, started_at, duration_ms, outcome, error_kind, http_status, message),
            )
            self.send(into, _LATEST_ANSWER, (http_status, started_at, execution_id))

        if tx is not None:
            write(tx)
            return
        with self.transaction() as own:
            write(own)

    def finish(
        self,
        tx: Tx,
        execution: ExecutionRow,
        status: str,
        now: float,
        *,
        result: Any = None,
        error: str | None = None,
        error_kind: str | None = None,
        checked: bool = False,
    ) -> bool:
        """Conclude the run that claimed `execution`. Its claim's started_at names the run: one whose lease
        expired and that another worker claimed since changes nothing (it would overwrite the newer run's
        outcome). Still queued after the expiry and not claimed again, it may (its work is done, no re-run).
        `checked`: wait for the answer and say whether the row changed (on PostgreSQL a round trip of its
        own); otherwise the statement goes with the commit and the answer is True."""
        sql = (
            "UPDATE executions SET status = ?, finished_at = ?, result = ?, error = ?, error_kind = ?,"
            f" lease_until = NULL, next_attempt_at = NULL WHERE id = ? AND {unindexed('status')} IN"
            " ('running', 'queued') AND started_at = ?"
        )
        args = (
            status, now, None if result is None else _dumps(result), error, error_kind, execution.id,
            execution.started_at,
        )  # fmt: skip
        if checked:
            return tx.execute(sql, args).rowcount == 1
        self.send(tx, sql, args)
        return True

    def requeue(
        self, execution: ExecutionRow, at: float, *, error: str | None = None, error_kind: str | None = None
    ) -> bool:
        """Back to queued, due at `at` (a backoff, or waiting for an earlier action); only by the run that
        claimed it (see `finish`). False when that run no longer holds it."""
        with self.transaction() as tx:
            cursor = tx.execute(
                "UPDATE executions SET status = 'queued', next_attempt_at = ?, lease_until = NULL,"
                " enqueued_at = NULL, error = coalesce(?, error), error_kind = coalesce(?, error_kind),"
                " lease_expiries = 0"
                f" WHERE id = ? AND {unindexed('status')} IN ('running', 'queued') AND started_at = ?",
                (at, error, error_kind, execution.id, execution.started_at),
            )
            return cursor.rowcount == 1

    def retry(self, tx: Tx, execution_id: str) -> bool:
        """A failed (or skipped) execution back to the queue, keeping its params and attempts."""
        cursor = tx.execute(
            "UPDATE executions SET status = 'queued', finished_at = NULL, next_attempt_at = NULL,"
            " first_attempt_at = NULL, enqueued_at = NULL, error = NULL, error_kind = NULL, lease_expiries = 0,"
            " attempts_base = (SELECT count(*) FROM attempts WHERE execution_id = executions.id)"
            f" WHERE id = ? AND {unindexed('status')} IN ('failed', 'skipped')",
            (execution_id,),
        )
        return cursor.rowcount == 1

    def claim_notice(self, tx: Tx, target: str, kind: str, now: float, interval: float) -> bool:
        """True for the one caller, in any process, that may tell about `kind` on `target` now:
        none did within `interval` seconds. The insert-or-update is a single statement, so two
        workers failing at once cannot both win."""
        cursor = tx.execute(
            "INSERT INTO target_notices (target, kind, notified_at) VALUES (?, ?, ?)"
            " ON CONFLICT (target, kind) DO UPDATE SET notified_at = excluded.notified_at"
            " WHERE target_notices.notified_at <= ?",
            (target, kind, now, now - interval),
        )
        return cursor.rowcount == 1

    def resolve_notice(self, tx: Tx, target: str, kind: str) -> bool:
        """True for the one caller, in any process, that tells the channels `kind` on `target` is over:
        the notice's row goes, so the next failure of that kind is told at once."""
        cursor = tx.execute("DELETE FROM target_notices WHERE target = ? AND kind = ?", (target, kind))
        return cursor.rowcount == 1

    def pending_action(self, tx: Tx, ticket_id: int, target: str, action: str) -> bool:
        row = self._one(
            f"SELECT 1 FROM executions WHERE ticket_id = ? AND {unindexed('target')} = ? AND action = ?"
            f" AND {unindexed('status')} IN ('queued', 'running') LIMIT 1",
            (ticket_id, target, action),
            tx=tx,
        )
        return row is not None

    def notified_since(self, tx: Tx, ticket_id: int, channel: str, since: float) -> bool:
        """Whether a notification about the ticket went, or is going, to `channel` since `since` (one that
        failed or was skipped told nobody)."""
        row = self._one(
            f"SELECT 1 FROM executions WHERE ticket_id = ? AND {unindexed('target')} = ? AND action = 'notify'"
            f" AND {unindexed('status')} IN ('queued', 'running', 'succeeded') AND created_at >= ? LIMIT 1",
            (ticket_id, channel, since),
            tx=tx,
        )
        return row is not None

    def pending_comment(self, tx: Tx, ticket_id: int, target: str, flow: str) -> ExecutionRow | None:
        """A comment of this flow that waits to be sent, so more can be said in it."""
        row = self._one(
            f"SELECT * FROM executions WHERE ticket_id = ? AND {unindexed('target')} = ? AND flow = ?"
            f" AND action = 'comment' AND {unindexed('status')} = 'queued' ORDER BY seq DESC LIMIT 1",
            (ticket_id, target, flow),
            tx=tx,
        )
        return _execution(row) if row else None

    def latest_comment(
        self, ticket_id: int, target: str, flow: str, *, tx: Tx | None = None, before: int | None = None,
        status: str | None = None,
    ) -> ExecutionRow | None:  # fmt: skip
        """The newest comment of this flow on the ticket and target (planned before seq `before`, in `status`)."""
        sql = "SELECT * FROM executions WHERE ticket_id = ? AND target = ? AND flow = ? AND action = 'comment'"
        args: list[Any] = [ticket_id, target, flow]
        if before is not None:
            sql, args = sql + " AND seq < ?", [*args, before]
        if status is not None:
            sql, args = sql + " AND status = ?", [*args, status]
        row = self._one(sql + " ORDER BY seq DESC LIMIT 1", args, tx=tx)
        return _execution(row) if row else None

    def set_queued_params(self, tx: Tx, execution_id: str, params: dict[str, Any]) -> bool:
        """New params for an execution no worker has taken; False once one has."""
        cursor = tx.execute(
            f"UPDATE executions SET params = ? WHERE id = ? AND {unindexed('status')} = 'queued'",
            (_dumps(params), execution_id),
        )
        return cursor.rowcount == 1

    def superseded_by(self, execution: ExecutionRow) -> ExecutionRow | None:
        """A later-planned execution of the same action on the same ticket and target that succeeded: a retry
        of this older one would undo it at the tracker."""
        return self._newest(
            "ticket_id = ? AND target = ? AND action = ? AND seq > ? AND status = 'succeeded'",
            (execution.ticket_id, execution.target, execution.action, execution.seq),
        )

    def latest_create(self, ticket_id: int | None, target: str) -> ExecutionRow | None:
        return self._newest("ticket_id = ? AND target = ? AND action = 'create_ticket'", (ticket_id, target))

    def _newest(self, where: str, args: tuple[Any, ...]) -> ExecutionRow | None:
        """The last-planned execution that matches `where`."""
        row = self._one(f"SELECT * FROM executions WHERE {where} ORDER BY seq DESC LIMIT 1", args)
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
                f"UPDATE executions SET enqueued_at = ? WHERE id = ? AND {unindexed('status')} = 'queued'",
                [(now, i) for i in ids],
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
        """Running executions whose worker stopped renewing: back to queued, due now, one more expiry counted
        (the run that claims one expired too often fails it instead: `gateway.execute.runner`)."""
        with self.transaction() as tx:
            rows = tx.execute(
                "UPDATE executions SET status = 'queued', lease_until = NULL, enqueued_at = NULL,"
                " next_attempt_at = ?, lease_expiries = lease_expiries + 1"
                " WHERE status = 'running' AND lease_until < ? RETURNING id",
                (now, now),
            ).fetchall()
        return [str(r["id"]) for r in rows]

    def gauges(self) -> dict[str, dict[tuple[str, ...], int]]:
        """What /metrics exposes: executions by status, action and target; tickets by state; events by source.
        Read from the counters the database's triggers keep (gateway.record.counters), not by grouping tables."""
        rows = self._all(
            "SELECT name, labels, value FROM metric_counts WHERE name IN ('executions', 'tickets', 'events')"
        )
        found: dict[str, dict[tuple[str, ...], int]] = {"executions": {}, "tickets": {}, "events": {}}
        for row in rows:
            if row["value"]:
                found[str(row["name"])][tuple(str(row["labels"]).split(SEP))] = int(row["value"])
        return found

    def gauge_totals(self, name: str) -> dict[str, int]:
        """A gauge summed by its first label (executions by status, tickets by state): a few counter rows
        however big the tables."""
        found: dict[str, int] = {}
        for labels, value in self._all("SELECT labels, value FROM metric_counts WHERE name = ?", (name,)):
            first = str(labels).split(SEP)[0]
            found[first] = found.get(first, 0) + int(value)
        return {label: n for label, n in found.items() if n}

    def counts(self) -> dict[str, int]:
        """Executions by status."""
        return self.gauge_totals("executions")


def _execution(row: Any) -> ExecutionRow:
    data = dict(row)
    data["params"] = json.loads(data["params"])
    data["result"] = json.loads(data["result"]) if data["result"] else None
    return msgspec.convert(data, ExecutionRow)
