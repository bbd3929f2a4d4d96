"""Retention: what is finished and older than GATEWAY_RETENTION_DAYS leaves the mirror.

Finished executions and their attempts, events nothing still points at, and closed tickets
(with their links and timeline) untouched for that long. Open tickets and their timelines stay,
whatever their age, and so does anything an unfinished execution still needs.

It deletes `BULK_CHUNK` rows at a time, each chunk in a transaction of its own. In one transaction,
PostgreSQL's counter triggers made a prune cost the square of its size: 20,000 executions took 3.4 s
in one statement, 10,000 took 0.9 s; at that square 100,000 would take 85 s.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import msgspec

from gateway.record.store import BULK_CHUNK, CONFLICTS, Store, Tx, marks
from gateway.rules.lifecycle import OPEN_STATES

DAY = 86_400.0
CONFLICT_RETRIES = 5  # a chunk a deadlock rolled back runs again this many times before the prune gives up
_FINISHED = "('succeeded', 'failed', 'skipped')"


class Pruned(msgspec.Struct, frozen=True):
    executions: int
    attempts: int
    events: int
    tickets: int


class Retention(Store):
    def prune(self, now: float, days: float, chunk: int = BULK_CHUNK) -> Pruned:
        cutoff = now - days * DAY
        removed = {"executions": 0, "attempts": 0, "events": 0, "tickets": 0}
        open_states = tuple(sorted(OPEN_STATES))
        lock = self.for_update + (" SKIP LOCKED" if self.postgres else "")  # pruners in two workers share the work

        def tickets(tx: Tx, ids: list[Any], in_ids: str, counted: dict[str, int]) -> None:
            counted["attempts"] += tx.execute(
                f"DELETE FROM attempts WHERE execution_id IN (SELECT id FROM executions WHERE ticket_id {in_ids})",
                ids,
            ).rowcount
            counted["executions"] += tx.execute(f"DELETE FROM executions WHERE ticket_id {in_ids}", ids).rowcount
            for table in ("timeline", "links", "ticket_anomalies", "sla_timers"):
                tx.execute(f"DELETE FROM {table} WHERE ticket_id {in_ids}", ids)
            tx.execute(f"UPDATE events SET ticket_id = NULL WHERE ticket_id {in_ids}", ids)
            counted["tickets"] += tx.execute(f"DELETE FROM tickets WHERE id {in_ids}", ids).rowcount

        def executions(tx: Tx, ids: list[Any], in_ids: str, counted: dict[str, int]) -> None:
            counted["attempts"] += tx.execute(f"DELETE FROM attempts WHERE execution_id {in_ids}", ids).rowcount
            counted["executions"] += tx.execute(f"DELETE FROM executions WHERE id {in_ids}", ids).rowcount

        def events(tx: Tx, ids: list[Any], in_ids: str, counted: dict[str, int]) -> None:
            counted["events"] += tx.execute(f"DELETE FROM events WHERE id {in_ids}", ids).rowcount

        # closed tickets past the cutoff with no unfinished work, with their (finished) executions
        self._in_chunks(
            f"SELECT id FROM tickets WHERE state NOT IN ({marks(open_states)}) AND updated_at < ?"
            " AND NOT EXISTS (SELECT 1 FROM executions e WHERE e.ticket_id = tickets.id"
            f" AND e.status NOT IN {_FINISHED}) LIMIT ?" + lock,
            (*open_states, cutoff, chunk),
            tickets,
            removed,
        )
        self._in_chunks(
            f"SELECT id FROM executions WHERE status IN {_FINISHED} AND finished_at < ? LIMIT ?" + lock,
            (cutoff, chunk),
            executions,
            removed,
        )
        self._in_chunks(
            "SELECT id FROM events WHERE received_at < ?"
            " AND NOT EXISTS (SELECT 1 FROM executions e WHERE e.event_id = events.id) LIMIT ?" + lock,
            (cutoff, chunk),
            events,
            removed,
        )
        return Pruned(**removed)

    def _in_chunks(
        self,
        select: str,
        args: tuple[Any, ...],
        drop: Callable[[Tx, list[Any], str, dict[str, int]], None],
        removed: dict[str, int],
    ) -> None:
        """`drop` what `select` names (its last argument is its LIMIT), a chunk a transaction, till one is short.

        Two pruners (two workers' sweepers) can deadlock on PostgreSQL: their deletes' counter triggers update
        the same `metric_counts` rows in different orders. The chunk that lost rolled back whole; it runs again
        (its counts are added only once it commits)."""
        conflicts = 0
        while True:
            counted = dict.fromkeys(removed, 0)
            try:
                with self.transaction() as tx:
                    ids = [row["id"] for row in tx.execute(select, args).fetchall()]
                    if ids:
                        drop(tx, ids, f"IN ({marks(ids)})", counted)
            except CONFLICTS:
                conflicts += 1
                if conflicts > CONFLICT_RETRIES:
                    raise
                time.sleep(random.uniform(0.0, 0.02 * conflicts))  # apart, so the two do not meet again
                continue
            for name, count in counted.items():
                removed[name] += count
            if len(ids) < args[-1]:
                return
