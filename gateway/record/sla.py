"""SLA timers: response (stops when a ticket leaves New or is assigned) and resolution (stops at
Resolved/Closed/Canceled, pauses while On Hold, restarts on reopen); breaches found once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import msgspec

from gateway.record.rows import Row
from gateway.record.store import Store, Tx, marks

Timer = Literal["response", "resolution"]
_STOPS_RESOLUTION = frozenset({"Resolved", "Closed", "Canceled"})
_TIMERS: tuple[tuple[Timer, str], ...] = (("response", "NULL"), ("resolution", "resolution_paused_at"))


class SlaRow(Row, frozen=True, kw_only=True):
    ticket_id: int
    response_s: float
    resolution_s: float
    response_due_at: float
    response_stopped_at: float | None
    response_breached_at: float | None
    resolution_due_at: float
    resolution_stopped_at: float | None
    resolution_paused_at: float | None
    resolution_breached_at: float | None


def breached(due: float, stopped: float | None, paused: float | None, marked: float | None, now: float) -> bool:
    """Past due when it stopped (or paused), or by now while it runs."""
    return marked is not None or (stopped if stopped is not None else paused if paused is not None else now) > due


class SlaTimers(Store):
    def start_sla(self, tx: Tx, ticket_id: int, response_s: float, resolution_s: float, now: float) -> None:
        tx.execute(
            "INSERT INTO sla_timers (ticket_id, response_s, resolution_s, response_due_at, resolution_due_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (ticket_id) DO NOTHING",
            (ticket_id, response_s, resolution_s, now + response_s, now + resolution_s),
        )

    def sla(self, ticket_id: int, tx: Tx | None = None) -> SlaRow | None:
        row = self._one("SELECT * FROM sla_timers WHERE ticket_id = ?", (ticket_id,), tx=tx)
        return msgspec.convert(dict(row), SlaRow) if row else None

    def slas_of(self, ids: Sequence[int]) -> dict[int, SlaRow]:
        """The SLA timers of many tickets in one query (list views)."""
        if not ids:
            return {}
        rows = self._all(f"SELECT * FROM sla_timers WHERE ticket_id IN ({marks(ids)})", ids)
        return {int(r["ticket_id"]): msgspec.convert(dict(r), SlaRow) for r in rows}

    def sla_responded(self, tx: Tx, ticket_id: int, now: float) -> None:
        """Someone took or was given the ticket: the response timer stops."""
        tx.execute(
            "UPDATE sla_timers SET response_stopped_at = ? WHERE ticket_id = ? AND response_stopped_at IS NULL",
            (now, ticket_id),
        )

    def sla_moved(self, tx: Tx, ticket_id: int, before: str, after: str, now: float) -> None:
        """What a status change does to the ticket's timers."""
        timer = self.sla(ticket_id, tx)
        if timer is None:
            return
        if before == "New" and after != "New":
            self.sla_responded(tx, ticket_id, now)
        changes: dict[str, Any] = {}
        due, paused = timer.resolution_due_at, timer.resolution_paused_at
        if paused is not None and after != "On Hold":
            due, paused = due + (now - paused), None
            changes.update(resolution_due_at=due, resolution_paused_at=None)
        if before in _STOPS_RESOLUTION and after not in _STOPS_RESOLUTION:  # reopened: a fresh resolution timer
            changes.update(
                resolution_due_at=now + timer.resolution_s, resolution_stopped_at=None, resolution_breached_at=None
            )
        elif after in _STOPS_RESOLUTION and timer.resolution_stopped_at is None:
            changes["resolution_stopped_at"] = now
        elif after == "On Hold" and paused is None and timer.resolution_stopped_at is None:
            changes["resolution_paused_at"] = now
        if changes:
            assignments = ", ".join(f"{k} = ?" for k in changes)
            tx.execute(f"UPDATE sla_timers SET {assignments} WHERE ticket_id = ?", (*changes.values(), ticket_id))

    def mark_breaches(self, tx: Tx, now: float, limit: int) -> list[tuple[int, Timer, float]]:
        """Timers that ran (or stopped, or paused) past due, marked breached here: (ticket, timer, due), each once;
        at most `limit` of each timer (the caller comes back for more in a transaction of its own)."""
        found: list[tuple[int, Timer, float]] = []
        for timer, pause in _TIMERS:
            rows = tx.execute(
                f"SELECT ticket_id, {timer}_due_at AS due FROM sla_timers WHERE {timer}_due_at < ?"
                f" AND {timer}_breached_at IS NULL AND coalesce({timer}_stopped_at, {pause}, ?) > {timer}_due_at"
                " ORDER BY ticket_id LIMIT ?",
                (now, now, limit),
            ).fetchall()
            for row in rows:
                cursor = tx.execute(
                    f"UPDATE sla_timers SET {timer}_breached_at = ?"
                    f" WHERE ticket_id = ? AND {timer}_breached_at IS NULL",
                    (now, row["ticket_id"]),
                )
                if cursor.rowcount == 1:  # no other sweeper got there first
                    found.append((int(row["ticket_id"]), timer, float(row["due"])))
        return found

    def sla_breach_counts(self) -> dict[tuple[str, ...], int]:
        """Breached timers, from the counters the database keeps (gateway.record.counters): no table scan."""
        rows = self._all("SELECT labels, value FROM metric_counts WHERE name = 'sla'")
        found = {str(r["labels"]): int(r["value"]) for r in rows}
        return {(timer,): found.get(timer, 0) for timer in ("response", "resolution")}
