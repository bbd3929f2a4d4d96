"""Two-way sync state: links found by tracker id, per-field tracker clocks, delivery dedupe, poll cursors."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from gateway.record.rows import LinkRow
from gateway.record.store import Store, Tx, _dumps, marks, unindexed
from gateway.record.tickets import _link


class Sync(Store):
    def link_by_external(self, tx: Tx, target: str, external_id: str) -> LinkRow | None:
        """The newest ticket's link to this tracker record (ids are stable; keys change when issues move)."""
        row = tx.execute(
            "SELECT * FROM links WHERE target = ? AND external_id = ? ORDER BY ticket_id DESC LIMIT 1",
            (target, external_id),
        ).fetchone()
        return _link(row) if row else None

    def watched_links(
        self, target: str, states: tuple[str, ...], after: int = 0, limit: int | None = None
    ) -> list[LinkRow]:
        """Links of tickets in `states` (those people may still move) or drifting, by ticket id after `after`."""
        rows = self._all(
            "SELECT links.* FROM links JOIN tickets ON tickets.id = links.ticket_id WHERE links.target = ?"
            f" AND (tickets.state IN ({marks(states)}) OR tickets.drift = 1) AND links.ticket_id > ?"
            " ORDER BY links.ticket_id" + (" LIMIT ?" if limit is not None else ""),
            (target, *states, after, *([limit] if limit is not None else [])),
        )
        return [_link(r) for r in rows]

    def update_link_remote(self, tx: Tx, link: LinkRow, now: float, clock: dict[str, float], **changes: Any) -> None:
        """What the tracker told us about its record: status, priority, key/url, and when (per field)."""
        assignments = "".join(f", {name} = ?" for name in changes)
        tx.execute(
            f"UPDATE links SET sync_clock = ?, updated_at = ?{assignments} WHERE ticket_id = ? AND target = ?",
            (_dumps({**link.clock(), **clock}), now, *changes.values(), link.ticket_id, link.target),
        )

    def set_drift(self, tx: Tx, ticket_id: int, drift: bool) -> None:
        tx.execute("UPDATE tickets SET drift = ? WHERE id = ?", (1 if drift else 0, ticket_id))

    def first_delivery(self, tx: Tx, target: str, delivery_id: str, now: float) -> bool:
        """True the first time a tracker delivery id is seen (Jira retries keep the identifier)."""
        cursor = tx.execute(
            "INSERT INTO tracker_deliveries (target, delivery_id, received_at) VALUES (?, ?, ?)"
            " ON CONFLICT (target, delivery_id) DO NOTHING",
            (target, delivery_id, now),
        )
        return cursor.rowcount == 1

    def first_comment(self, tx: Tx, target: str, record: str, author: str, text: str, at: float, now: float) -> bool:
        """False when this record already brought the same text by the same author within a second of `at`
        (tracker time): one comment seen twice, as a ServiceNow push and as the poll's journal entry, which
        carry different ids and may straddle a second. True (and remembered) the first time, or with no time."""
        if not at:
            return True
        digest = hashlib.sha256(f"{record}\n{author}\n{text.strip()}".encode()).hexdigest()[:32]
        keys = [f"comment:{digest}:{int(at) + step}" for step in (0, -1, 1)]
        seen = tx.execute(
            f"SELECT 1 FROM tracker_deliveries WHERE target = ? AND delivery_id IN ({marks(keys[1:])}) LIMIT 1",
            (target, *keys[1:]),
        ).fetchone()
        return seen is None and self.first_delivery(tx, target, keys[0], now)

    def posted_comment(self, tx: Tx, ticket_id: int, target: str, text: str, now: float) -> bool:
        """Is this text a note the gateway posted to the target that has not come back yet (so this is its echo)?

        Each note is taken as echoed once, oldest first: a person who later writes the same words (a
        gateway note "on it", then theirs) is a person, not an echo."""
        wanted = text.strip()
        if not wanted:
            return False
        rows = tx.execute(
            "SELECT id, params FROM executions WHERE ticket_id = ? AND target = ? AND action IN"
            " ('comment', 'update_ticket_status') ORDER BY seq",
            (ticket_id, target),
        ).fetchall()
        for row in rows:
            params = json.loads(row["params"])
            if wanted not in (str(params.get("text", "")).strip(), str(params.get("note", "")).strip()):
                continue
            if self.first_delivery(tx, target, f"echo:{row['id']}", now):
                return True  # this note's echo, now seen
        return False

    def gateway_assignee(self, tx: Tx, ticket_id: int, target: str, origin: str) -> str | None:
        """The tracker user the gateway last assigned this link to, if no assignment from that tracker (`origin`)
        has come back since: what the tracker holds because the gateway put it there. None when unknown."""
        row = tx.execute(
            "SELECT params, finished_at FROM executions WHERE ticket_id = ? AND target = ? AND action = 'assign'"
            " AND status = 'succeeded' ORDER BY seq DESC LIMIT 1",
            (ticket_id, target),
        ).fetchone()
        if row is None:
            return None
        later = tx.execute(
            "SELECT data FROM timeline WHERE ticket_id = ? AND kind = 'field_changed' AND at >= ?",
            (ticket_id, row["finished_at"]),
        ).fetchall()
        for entry in later:
            data = json.loads(entry["data"])
            if data.get("field") == "assigned_to" and data.get("origin") == origin:
                return None  # someone assigned it in the tracker after the gateway did
        return str(json.loads(row["params"]).get("assignee", ""))

    def claim_turn(self, target: str, column: str, now: float, interval: float) -> bool:
        """Take this target's poll or reconcile turn when it is due (one node wins each turn)."""
        assert column in ("polled_at", "reconciled_at")
        with self.transaction() as tx:
            tx.execute("INSERT INTO sync_cursors (target) VALUES (?) ON CONFLICT (target) DO NOTHING", (target,))
            cursor = tx.execute(
                f"UPDATE sync_cursors SET {column} = ? WHERE target = ? AND ({column} IS NULL OR {column} <= ?)",
                (now, target, now - interval),
            )
            return cursor.rowcount == 1

    def pending_on(self, ticket_id: int, target: str) -> bool:
        """An unfinished ticket action for this link: the mirror is ahead of the tracker until it runs."""
        row = self._one(
            f"SELECT 1 FROM executions WHERE ticket_id = ? AND {unindexed('target')} = ?"
            f" AND {unindexed('status')} IN ('queued', 'running')"
            " AND action IN ('create_ticket', 'update_ticket_status', 'assign') LIMIT 1",
            (ticket_id, target),
        )
        return row is not None

    def cursor(self, target: str) -> dict[str, Any]:
        row = self._one("SELECT * FROM sync_cursors WHERE target = ?", (target,))
        if row:
            return dict(row)
        return {"target": target, "polled_until": "", "polled_at": None, "reconciled_at": None, "reconciled_after": 0}

    def save_cursor(self, target: str, **values: Any) -> None:
        current = {**self.cursor(target), **values}
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO sync_cursors (target, polled_until, polled_at, reconciled_at, reconciled_after)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (target) DO UPDATE SET polled_until = excluded.polled_until,"
                " polled_at = excluded.polled_at, reconciled_at = excluded.reconciled_at,"
                " reconciled_after = excluded.reconciled_after",
                (
                    target,
                    current["polled_until"],
                    current["polled_at"],
                    current["reconciled_at"],
                    current["reconciled_after"],
                ),
            )
