"""The events table: every delivery recorded once per source event id, with what it became."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import msgspec

from gateway.record.counters import event_labels
from gateway.record.rows import EventRow
from gateway.record.store import Query, Store, Tx, _dumps, first, marks

_REF = ("id", "source", "anomaly_id", "source_event_id")  # an event in a list view


class Events(Store):
    def event_seen(self, source: str, source_event_id: str) -> Query[str | None]:
        """The id of the event this source already sent with this id, if any (the dedupe, asked before
        planning; `add_event`'s unique constraint stops a concurrent twin)."""
        sql = "SELECT id FROM events WHERE source = ? AND source_event_id = ?"
        return Query(sql, (source, source_event_id), first(lambda row: str(row[0])))

    def add_event(
        self,
        tx: Tx,
        event_id: str,
        *,
        source: str,
        source_event_id: str,
        event_type: str,
        anomaly_id: str,
        correlation_key: str,
        payload: Any,
        now: float,
        ticket_id: int | None = None,
        ignored: str | None = None,
    ) -> None:
        """Record an event once, with what it became (written after its planning, not updated by it). An
        event that a concurrent transaction recorded first fails the transaction: it is planned again and
        found (`event_seen`)."""
        self.send(
            tx,
            "INSERT INTO events (id, source, source_event_id, event_type, anomaly_id, correlation_key,"
            " received_at, payload, ticket_id, ignored_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (event_id, source, source_event_id, event_type, anomaly_id, correlation_key, now, _dumps(payload),
             ticket_id, ignored),
        )  # fmt: skip
        self.count("events", event_labels(source, event_type))

    def set_event_outcome(
        self, tx: Tx, event_id: str, *, ticket_id: int | None = None, ignored: str | None = None
    ) -> None:
        sql = "UPDATE events SET ticket_id = ?, ignored_reason = ? WHERE id = ?"
        self.send(tx, sql, (ticket_id, ignored, event_id))

    def get_event(self, event_id: str | None) -> EventRow | None:
        if not event_id:
            return None
        row = self.connection().execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
        if row is None:
            return None
        return msgspec.convert({**dict(row), "payload": json.loads(row["payload"])}, EventRow)

    def event_refs(self, ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """What names many events in one query, without their payloads (list views of executions)."""
        if not ids:
            return {}
        rows = self._all(f"SELECT id, source, anomaly_id, source_event_id FROM events WHERE id IN ({marks(ids)})", ids)
        return {str(r["id"]): {name: str(r[name]) for name in _REF} for r in rows}
