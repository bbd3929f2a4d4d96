"""The events table: every delivery recorded once per source event id, with what it became."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import msgspec

from gateway.record.counters import event_labels
from gateway.record.rows import EventRow
from gateway.record.store import Cursor, Query, Store, Tx, _dumps, marks, new_id

_REF = ("id", "source", "anomaly_id", "source_event_id")  # an event in a list view


class Events(Store):
    def event_insert(
        self,
        source: str,
        source_event_id: str,
        event_type: str,
        anomaly_id: str,
        correlation_key: str,
        payload: Any,
        now: float,
    ) -> Query[str | None]:
        """Record an event: its new id, or None when this source already sent this event id."""
        event_id = new_id()

        def inserted(cursor: Cursor) -> str | None:
            if cursor.rowcount != 1:
                return None
            self.count("events", event_labels(source, event_type))
            return event_id

        return Query(
            "INSERT INTO events (id, source, source_event_id, event_type, anomaly_id, correlation_key,"
            " received_at, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (source, source_event_id) DO NOTHING",
            (event_id, source, source_event_id, event_type, anomaly_id, correlation_key, now, _dumps(payload)),
            inserted,
        )

    def existing_event_id(self, tx: Tx, source: str, source_event_id: str) -> str:
        row = tx.execute(
            "SELECT id FROM events WHERE source = ? AND source_event_id = ?", (source, source_event_id)
        ).fetchone()
        return str(row["id"])

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
