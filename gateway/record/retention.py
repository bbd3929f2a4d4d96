"""Retention: what is finished and older than GATEWAY_RETENTION_DAYS leaves the mirror.

Finished executions and their attempts, events nothing still points at, and closed tickets
(with their links and timeline) untouched for that long. Open tickets and their timelines stay,
whatever their age, and so does anything an unfinished execution still needs.
"""

from __future__ import annotations

import msgspec

from gateway.record.store import Store
from gateway.rules.lifecycle import OPEN_STATES

DAY = 86_400.0
_FINISHED = "('succeeded', 'failed', 'skipped')"


class Pruned(msgspec.Struct, frozen=True):
    executions: int
    attempts: int
    events: int
    tickets: int


class Retention(Store):
    def prune(self, now: float, days: float) -> Pruned:
        cutoff = now - days * DAY
        open_states = tuple(sorted(OPEN_STATES))
        marks = ", ".join("?" for _ in open_states)
        closed = f"state NOT IN ({marks}) AND updated_at < ?"
        with self.transaction() as tx:
            # closed tickets past the cutoff with no unfinished work: their finished executions go with them
            old = [
                int(r["id"])
                for r in tx.execute(
                    f"SELECT id FROM tickets WHERE {closed} AND NOT EXISTS (SELECT 1 FROM executions e"
                    f" WHERE e.ticket_id = tickets.id AND e.status NOT IN {_FINISHED})",
                    (*open_states, cutoff),
                ).fetchall()
            ]
            tx.executemany("UPDATE executions SET finished_at = ? WHERE ticket_id = ?", [(cutoff - 1, i) for i in old])
            attempts = tx.execute(
                "DELETE FROM attempts WHERE execution_id IN (SELECT id FROM executions"
                f" WHERE status IN {_FINISHED} AND finished_at < ?)",
                (cutoff,),
            ).rowcount
            executions = tx.execute(
                f"DELETE FROM executions WHERE status IN {_FINISHED} AND finished_at < ?", (cutoff,)
            ).rowcount
            for table in ("timeline", "links", "ticket_anomalies", "sla_timers"):
                tx.executemany(f"DELETE FROM {table} WHERE ticket_id = ?", [(i,) for i in old])
            tx.executemany("UPDATE events SET ticket_id = NULL WHERE ticket_id = ?", [(i,) for i in old])
            tickets = len(old)
            tx.executemany("DELETE FROM tickets WHERE id = ?", [(i,) for i in old])
            events = tx.execute(
                "DELETE FROM events WHERE received_at < ? AND NOT EXISTS"
                " (SELECT 1 FROM executions e WHERE e.event_id = events.id)",
                (cutoff,),
            ).rowcount
        return Pruned(executions=executions, attempts=attempts, events=events, tickets=tickets)
