"""Tickets, their links to trackers, and the append-only timeline."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import msgspec

from gateway.record.rows import LinkRow, TicketRow, TimelineRow
from gateway.record.store import Query, Store, Tx, _dumps, first, marks, no_answer

_FIELDS = msgspec.json.Decoder(dict[str, Any])


# A ticket's fields or correlation key contain `q`, matched literally: `%` and `_` in it are not wildcards.
TEXT_MATCH = "(lower(fields) LIKE ? ESCAPE '\\' OR correlation_key LIKE ? ESCAPE '\\')"


def text_match_args(q: str) -> list[str]:
    literal = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return [f"%{literal.lower()}%", f"%{literal}%"]


class Tickets(Store):
    def current_ticket(self, tx: Tx, correlation_key: str) -> TicketRow | None:
        """The key's latest ticket; the key stays locked until commit, so one anomaly makes one ticket."""
        return self.ask(tx, self.current_ticket_read(tx, correlation_key))

    def current_ticket_read(self, tx: Tx, correlation_key: str) -> Query[TicketRow | None]:
        """`current_ticket` to be asked (its key's lock is sent now, ahead of it)."""
        self.lock_key(tx, correlation_key)
        sql = "SELECT * FROM tickets WHERE correlation_key = ? ORDER BY generation DESC LIMIT 1" + self.for_update
        return Query(sql, (correlation_key,), first(_ticket))

    def create_ticket(
        self,
        tx: Tx,
        *,
        correlation_key: str,
        generation: int,
        state: str,
        source: str,
        fields: dict[str, str],
        targets: list[str],
        anomaly_id: str | None,
        now: float,
        resolve_when: str | None = None,
        requester: str = "",
        opened: dict[str, Any] | None = None,
        ticket_id: int | None = None,
    ) -> TicketRow:
        """A new ticket and its `opened` entry; a person's ticket (`requester`) covers no anomaly yet.
        `ticket_id`: one taken ahead (`take_ticket_ids`), else the database numbers it."""
        anomaly_ids = [] if anomaly_id is None else [anomaly_id]
        columns = (
            "correlation_key, generation, state, source, fields, targets, anomaly_ids, occurrences, created_at,"
            " updated_at, resolve_when, requester"
        )
        values = (
            correlation_key,
            generation,
            state,
            source,
            _dumps(fields),
            _dumps(targets),
            _dumps(anomaly_ids),
            1,
            now,
            now,
            resolve_when,
            requester,
        )
        if ticket_id is None:
            sql = f"INSERT INTO tickets ({columns}) VALUES ({marks(values)}) RETURNING id"
            ticket_id = tx.execute(sql, values).fetchone()[0]
        else:  # its id taken ahead (`take_ticket_ids`): nothing to wait for
            self.send(tx, f"INSERT INTO tickets (id, {columns}) VALUES (?, {marks(values)})", (ticket_id, *values))
        written = {  # the row as written, not read back (its JSON decoded again)
            "id": ticket_id,
            "correlation_key": correlation_key,
            "generation": generation,
            "state": state,
            "source": source,
            "fields": fields,
            "targets": targets,
            "anomaly_ids": anomaly_ids,
            "occurrences": 1,
            "created_at": now,
            "updated_at": now,
            "resolved_at": None,
            "resolve_when": resolve_when,
            "requester": requester,
        }
        ticket = msgspec.convert(written, TicketRow)
        self.count("tickets", state)
        self.add_timeline(tx, ticket.id, "opened", requester or "gateway", {"state": state, **(opened or {})}, now)
        return ticket

    def take_ticket_ids(self, tx: Tx, count: int) -> list[int]:
        """`count` new tickets' ids, in order, in one round trip (PostgreSQL; a ticket inserted with its id
        need not wait for it). An id left untaken is a gap in the numbers, as a rolled-back insert's is."""
        sql = "SELECT nextval(pg_get_serial_sequence('tickets', 'id')) FROM generate_series(1, ?)"
        return sorted(row[0] for row in tx.execute(sql, (count,)))

    def ticket(self, ticket_id: int | None, tx: Tx | None = None) -> TicketRow | None:
        if ticket_id is None:
            return None
        if tx is not None:  # read to be changed: held until commit
            return self.ask(tx, self.ticket_read(ticket_id))
        row = self._one("SELECT * FROM tickets WHERE id = ?", (ticket_id,))
        return _ticket(row) if row else None

    def list_tickets(
        self,
        *,
        state: str | None = None,
        source: str | None = None,
        q: str | None = None,
        limit: int = 200,
        after: int | None = None,
    ) -> list[TicketRow]:
        """Newest first; `after` is the last id of the previous page (keyset paging)."""
        sql, args = "SELECT * FROM tickets WHERE 1 = 1", list[Any]()
        if state:
            sql, args = sql + " AND lower(state) = lower(?)", [*args, state]
        if source:
            sql, args = sql + " AND source = ?", [*args, source]
        if q:
            sql, args = sql + f" AND {TEXT_MATCH}", [*args, *text_match_args(q)]
        if after is not None:
            sql, args = sql + " AND id < ?", [*args, after]
        rows = self._all(sql + " ORDER BY id DESC LIMIT ?", (*args, limit))
        return [_ticket(r) for r in rows]

    def ticket_titles(self, ids: Sequence[int]) -> dict[int, str]:
        """The short descriptions of many tickets in one query (list views of executions)."""
        if not ids:
            return {}
        rows = self._all(f"SELECT id, fields FROM tickets WHERE id IN ({marks(ids)})", ids)
        return {int(r["id"]): str(_FIELDS.decode(r["fields"]).get("short_description", "")) for r in rows}

    def links_of(self, ids: Sequence[int]) -> dict[int, list[LinkRow]]:
        """Links of many tickets in one query (list views)."""
        found: dict[int, list[LinkRow]] = {i: [] for i in ids}
        if ids:
            rows = self._all(f"SELECT * FROM links WHERE ticket_id IN ({marks(ids)}) ORDER BY ticket_id, target", ids)
            for r in rows:
                found[int(r["ticket_id"])].append(msgspec.convert(dict(r), LinkRow))
        return found

    def update_ticket(self, tx: Tx, ticket_id: int, now: float, **changes: Any) -> None:
        encoded = {k: _dumps(v) if k in ("fields", "targets", "anomaly_ids") else v for k, v in changes.items()}
        assignments = ", ".join(f"{k} = ?" for k in encoded)
        tx.execute(
            f"UPDATE tickets SET {assignments}, updated_at = ? WHERE id = ?", (*encoded.values(), now, ticket_id)
        )

    def add_timeline(self, tx: Tx, ticket_id: int, kind: str, actor: str, data: dict[str, Any], now: float) -> None:
        self.send(
            tx,
            "INSERT INTO timeline (ticket_id, at, kind, actor, data) VALUES (?, ?, ?, ?, ?)",
            (ticket_id, now, kind, actor, _dumps(data)),
        )

    def timeline(self, ticket_id: int) -> list[TimelineRow]:
        rows = self._all("SELECT at, kind, actor, data FROM timeline WHERE ticket_id = ? ORDER BY id", (ticket_id,))
        return [msgspec.convert({**dict(r), "data": json.loads(r["data"])}, TimelineRow) for r in rows]

    def links(self, ticket_id: int, tx: Tx | None = None) -> list[LinkRow]:
        rows = self._all("SELECT * FROM links WHERE ticket_id = ? ORDER BY target", (ticket_id,), tx=tx)
        return [_link(r) for r in rows]

    def link(self, ticket_id: int | None, target: str, tx: Tx | None = None) -> LinkRow | None:
        row = self._one("SELECT * FROM links WHERE ticket_id = ? AND target = ?", (ticket_id, target), tx=tx)
        return _link(row) if row else None

    def save_link(
        self,
        tx: Tx,
        ticket_id: int,
        target: str,
        remote: dict[str, str],
        now: float,
        changed: tuple[str, ...] = (),
        *,
        then: Sequence[Query[Any]] = (),
    ) -> tuple[LinkRow | None, list[Any]]:
        """Insert or update the link; `changed` names the fields the gateway just set at the tracker (sync order),
        merged into the link's clock in the same statement. Answers the link as it was (None: there was none)
        and the answers of `then`, asked after it: all in one round trip on PostgreSQL."""
        merge = (
            "(links.sync_clock::jsonb || excluded.sync_clock::jsonb)::text"
            if self.postgres
            else "json_patch(links.sync_clock, excluded.sync_clock)"
        )
        upsert = (
            "INSERT INTO links (ticket_id, target, external_id, external_key, url, remote_status, remote_priority,"
            " updated_at, sync_clock) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ticket_id, target) DO UPDATE SET"
            " external_id = excluded.external_id, external_key = excluded.external_key, url = excluded.url,"
            " remote_status = excluded.remote_status, remote_priority = excluded.remote_priority,"
            " updated_at = excluded.updated_at, sync_clock = " + merge
        )
        values = (
            ticket_id,
            target,
            remote["external_id"],
            remote["external_key"],
            remote["url"],
            remote["remote_status"],
            remote["remote_priority"],
            now,
            _dumps({name: now for name in changed}),
        )
        before = Query("SELECT * FROM links WHERE ticket_id = ? AND target = ?", (ticket_id, target), first(_link))
        was, _, *answers = self.ask_together(tx, [before, Query(upsert, values, no_answer), *then])
        return was, answers

    def ticket_read(self, ticket_id: int) -> Query[TicketRow | None]:
        """A ticket read to be changed: held until commit."""
        return Query("SELECT * FROM tickets WHERE id = ?" + self.for_update, (ticket_id,), first(_ticket))


def _ticket(row: Any) -> TicketRow:
    data = dict(row)
    for key in ("fields", "targets", "anomaly_ids"):
        data[key] = msgspec.json.decode(data[key])  # a ticket is read on every plan: json.loads took 3x as long
    data["drift"] = bool(data.get("drift"))
    return msgspec.convert(data, TicketRow)


def _link(row: Any) -> LinkRow:
    return msgspec.convert(dict(row), LinkRow)


def ticket_of_execution_read(execution_id: str) -> Query[TicketRow | None]:
    """An execution's ticket (none when it has none)."""
    sql = "SELECT * FROM tickets WHERE id = (SELECT ticket_id FROM executions WHERE id = ?)"
    return Query(sql, (execution_id,), first(_ticket))
