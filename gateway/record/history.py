"""The audit export: every ticket with its fields, links, anomalies and append-only history, streamed
in batches (keyset pages, the batch's links/anomalies/timeline in one query each) so memory stays flat."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import msgspec
import yaml

from gateway.record.rows import TicketRow
from gateway.record.runtime import Runtime
from gateway.record.store import Tx, marks
from gateway.record.tickets import _ticket
from gateway.record.views import iso, sla_view

Format = Literal["json", "yaml"]
FORMATS: tuple[Format, ...] = ("json", "yaml")
BATCH = 500


def _filters(since: float | None, state: str | None) -> tuple[str, list[Any]]:
    sql, args = "", list[Any]()
    if since is not None:
        sql, args = sql + " AND updated_at >= ?", [*args, since]
    if state:
        sql, args = sql + " AND state = ?", [*args, state]
    return sql, args


def count_tickets(rt: Runtime, *, since: float | None = None, state: str | None = None) -> int:
    where, args = _filters(since, state)
    row = rt.mirror.connection().execute(f"SELECT count(*) FROM tickets WHERE 1 = 1{where}", args).fetchone()
    return int(row[0])


def ticket_pages(
    rt: Runtime, *, since: float | None = None, state: str | None = None, batch: int = BATCH
) -> Iterator[list[TicketRow]]:
    """Tickets in id order, a page at a time (keyset, never OFFSET: each page costs the same)."""
    where, args = _filters(since, state)
    last = 0
    while True:
        rows = (
            rt.mirror.connection()
            .execute(f"SELECT * FROM tickets WHERE id > ?{where} ORDER BY id LIMIT ?", (last, *args, batch))
            .fetchall()
        )
        if not rows:
            return
        page = [_ticket(r) for r in rows]
        yield page
        last = page[-1].id


def _grouped(conn: Tx, sql: str, ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in conn.execute(sql.format(marks=marks(ids)), list(ids)).fetchall():
        found[int(row["ticket_id"])].append(dict(row))
    return found


def history_entry(entry: dict[str, Any]) -> dict[str, Any]:
    data = json.loads(entry["data"]) if isinstance(entry["data"], str) else entry["data"]
    return {
        "at": iso(entry["at"]),
        "actor": entry["actor"],
        "kind": entry["kind"],
        "from": data.get("from"),
        "to": data.get("to"),
        "note": data.get("note") or data.get("text"),
        "data": data,
    }


def history_records(rt: Runtime, tickets: list[TicketRow]) -> Iterator[dict[str, Any]]:
    """Each ticket of a page as its audit record."""
    conn = rt.mirror.connection()
    ids = [t.id for t in tickets]
    columns = "ticket_id, target, external_id, external_key, url, remote_status, remote_priority, updated_at"
    links = _grouped(conn, f"SELECT {columns} FROM links WHERE ticket_id IN ({{marks}}) ORDER BY target", ids)
    anomalies = _grouped(
        conn, "SELECT * FROM ticket_anomalies WHERE ticket_id IN ({marks}) ORDER BY first_seen, anomaly_id", ids
    )
    timeline = _grouped(conn, "SELECT * FROM timeline WHERE ticket_id IN ({marks}) ORDER BY id", ids)
    for ticket in tickets:
        yield {
            "number": rt.number(ticket.id),
            "id": ticket.id,
            "state": ticket.state,
            "fields": ticket.fields,
            "correlation_key": ticket.correlation_key,
            "generation": ticket.generation,
            "source": ticket.source,
            "targets": ticket.targets,
            "occurrences": ticket.occurrences,
            "created_at": iso(ticket.created_at),
            "updated_at": iso(ticket.updated_at),
            "resolved_at": iso(ticket.resolved_at),
            "links": [
                {k: iso(v) if k == "updated_at" else v for k, v in link.items() if k != "ticket_id"}
                for link in links[ticket.id]
            ],
            "anomalies": [
                {
                    "source": a["source"],
                    "anomaly_id": a["anomaly_id"],
                    "status": a["status"],
                    "linked": a["active"] == 1,
                    "first_seen": iso(a["first_seen"]),
                    "last_seen": iso(a["last_seen"]),
                }
                for a in anomalies[ticket.id]
            ],
            "sla": sla_view(rt, rt.mirror.sla(ticket.id)),
            "history": [history_entry(e) for e in timeline[ticket.id]],
        }


def render(record: dict[str, Any], fmt: Format) -> str:
    """One record alone (the single-ticket history endpoint)."""
    if fmt == "yaml":
        return str(yaml.safe_dump(record, sort_keys=False, allow_unicode=True))
    return msgspec.json.encode(record).decode() + "\n"


def export_chunks(rt: Runtime, pages: Iterator[list[TicketRow]], fmt: Format) -> Iterator[tuple[str, int]]:
    """The export as text chunks (one per ticket) with the count of tickets written so far.

    JSON is one array; YAML one sequence. Nothing but the current page is held.
    """
    written = 0
    if fmt == "json":
        yield "[", 0
    for page in pages:
        for record in history_records(rt, page):
            if fmt == "yaml":
                text = str(yaml.safe_dump([record], sort_keys=False, allow_unicode=True))
            else:
                text = ("\n" if written == 0 else ",\n") + msgspec.json.encode(record).decode()
            written += 1
            yield text, written
    if fmt == "json":
        yield "\n]\n", written
    elif written == 0:
        yield "[]\n", 0
