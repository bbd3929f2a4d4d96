"""The anomalies of each ticket: which ticket an anomaly belongs to now, and where it was before."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any

import msgspec

from gateway.record.rows import AnomalyRow
from gateway.record.store import Query, Store, Tx, first, marks


class Unread(Enum):
    """The caller has not read the anomaly's active row in this transaction."""

    ROW = "unread"


def active_anomaly_read(source: str, anomaly_id: str) -> Query[AnomalyRow | None]:
    return Query(
        "SELECT * FROM ticket_anomalies WHERE source = ? AND anomaly_id = ? AND active = 1",
        (source, anomaly_id),
        first(_anomaly),
    )


class Anomalies(Store):
    def active_anomaly(self, tx: Tx, source: str, anomaly_id: str) -> AnomalyRow | None:
        """The row of the ticket the anomaly belongs to now, if any."""
        return self.ask(tx, active_anomaly_read(source, anomaly_id))

    def anomalies(self, ticket_id: int, tx: Tx | None = None, *, active_only: bool = True) -> list[AnomalyRow]:
        sql = "SELECT * FROM ticket_anomalies WHERE ticket_id = ?" + (" AND active = 1" if active_only else "")
        return [_anomaly(r) for r in self._all(sql + " ORDER BY first_seen, source, anomaly_id", (ticket_id,), tx=tx)]

    def anomalies_of(self, ids: Sequence[int]) -> dict[int, list[AnomalyRow]]:
        """The active anomalies of many tickets in one query (list views)."""
        found: dict[int, list[AnomalyRow]] = {i: [] for i in ids}
        if ids:
            sql = f"SELECT * FROM ticket_anomalies WHERE ticket_id IN ({marks(ids)}) AND active = 1"
            for r in self._all(sql + " ORDER BY ticket_id, first_seen, source, anomaly_id", ids):
                found[int(r["ticket_id"])].append(_anomaly(r))
        return found

    def link_anomaly(
        self,
        tx: Tx,
        ticket_id: int,
        source: str,
        anomaly_id: str,
        *,
        status: str,
        title: str,
        now: float,
        previous: AnomalyRow | Unread | None = Unread.ROW,
    ) -> int | None:
        """Make the anomaly this ticket's; the ticket it leaves (None when it had none). `previous`: the
        anomaly's active row as the caller read it in this transaction (read here otherwise).

        Concurrent links of one anomaly meet at unique(source, anomaly_id, active): the later
        transaction fails and is planned again, never leaving the anomaly on two tickets.
        """
        if previous is Unread.ROW:
            previous = self.active_anomaly(tx, source, anomaly_id)
        if previous is not None and previous.ticket_id != ticket_id:
            tx.execute(
                "UPDATE ticket_anomalies SET active = NULL WHERE ticket_id = ? AND source = ? AND anomaly_id = ?",
                (previous.ticket_id, source, anomaly_id),
            )
        self.send(
            tx,
            "INSERT INTO ticket_anomalies (ticket_id, source, anomaly_id, status, title, active, first_seen,"
            " last_seen) VALUES (?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT (ticket_id, source, anomaly_id) DO UPDATE SET"
            " active = 1, last_seen = excluded.last_seen,"
            " status = CASE WHEN excluded.status = '' THEN ticket_anomalies.status ELSE excluded.status END,"
            " title = CASE WHEN excluded.title = '' THEN ticket_anomalies.title ELSE excluded.title END",
            (ticket_id, source, anomaly_id, status, title, now, now),
        )
        return previous.ticket_id if previous is not None and previous.ticket_id != ticket_id else None

    def touch_anomaly(
        self, tx: Tx, ticket_id: int, source: str, anomaly_id: str, *, status: str | None, now: float
    ) -> None:
        """Seen again (and its status, when the event says one)."""
        args: list[Any] = [now, status or "", ticket_id, source, anomaly_id]
        tx.execute(
            "UPDATE ticket_anomalies SET last_seen = ?, status = CASE WHEN ? = '' THEN status ELSE ? END"
            " WHERE ticket_id = ? AND source = ? AND anomaly_id = ?",
            (args[0], args[1], args[1], *args[2:]),
        )

    def unlink_anomaly(self, tx: Tx, ticket_id: int, source: str, anomaly_id: str) -> bool:
        cursor = tx.execute(
            "UPDATE ticket_anomalies SET active = NULL WHERE ticket_id = ? AND source = ? AND anomaly_id = ?"
            " AND active = 1",
            (ticket_id, source, anomaly_id),
        )
        return cursor.rowcount == 1


def _anomaly(row: Any) -> AnomalyRow:
    return msgspec.convert({**dict(row), "active": row["active"] == 1}, AnomalyRow)
