"""Read-only queries the console needs and the mirror lacks: paging, failed-first order, aggregates.

They return ids and plain numbers; pages turn ids into rows through the mirror and the views,
so the row shapes stay the mirror's business.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gateway.record.mirror import Mirror
from gateway.record.tickets import TEXT_MATCH, text_match_args

HOUR = 3600


@dataclass(frozen=True)
class Page:
    ids: list[Any]
    total: int


def _where(filters: list[tuple[str, Any]]) -> tuple[str, list[Any]]:
    clauses, args = ["1 = 1"], list[Any]()
    for clause, value in filters:
        if value is not None and value != "":
            clauses.append(clause)
            args.append(value)
    return " AND ".join(clauses), args


def ticket_page(
    mirror: Mirror,
    *,
    state: str | None = None,
    source: str | None = None,
    target: str | None = None,
    q: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page:
    """Ticket ids, newest first; `target` matches the ticket's planned targets (a JSON list)."""
    where, args = _where(
        [
            ("lower(state) = lower(?)", state),
            ("source = ?", source),
            (f"EXISTS (SELECT 1 FROM {mirror.json_items('tickets.targets')} WHERE value = ?)", target),
        ]
    )
    if q:
        where, args = f"{where} AND {TEXT_MATCH}", [*args, *text_match_args(q)]
    conn = mirror.connection()
    total = int(conn.execute(f"SELECT count(*) FROM tickets WHERE {where}", args).fetchone()[0])
    rows = conn.execute(
        f"SELECT id FROM tickets WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?", [*args, limit, offset]
    )
    return Page([int(r[0]) for r in rows], total)


def execution_page(
    mirror: Mirror,
    *,
    status: str | None = None,
    target: str | None = None,
    flow: str | None = None,
    action: str | None = None,
    error_kind: str | None = None,
    since: float | None = None,
    ticket_id: int | None = None,
    event_id: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page:
    """Execution ids, failed first, then newest first."""
    where, args = _where(
        [
            ("status = ?", status),
            ("target = ?", target),
            ("flow = ?", flow),
            ("action = ?", action),
            ("error_kind = ?", error_kind),
            ("created_at >= ?", since),
            ("ticket_id = ?", ticket_id),
            ("event_id = ?", event_id),
        ]
    )
    conn = mirror.connection()
    total = int(conn.execute(f"SELECT count(*) FROM executions WHERE {where}", args).fetchone()[0])
    rows = conn.execute(
        f"SELECT id FROM executions WHERE {where} ORDER BY status = 'failed' DESC, seq DESC LIMIT ? OFFSET ?",
        [*args, limit, offset],
    )
    return Page([str(r[0]) for r in rows], total)


def event_page(
    mirror: Mirror, *, source: str | None = None, outcome: str | None = None, offset: int = 0, limit: int = 50
) -> Page:
    """Event ids, newest first; outcome is `ticket` or `ignored`."""
    outcomes = {"ticket": " AND ticket_id IS NOT NULL", "ignored": " AND ignored_reason IS NOT NULL"}
    extra = outcomes.get(outcome or "", "")
    where, args = _where([("source = ?", source)])
    conn = mirror.connection()
    total = int(conn.execute(f"SELECT count(*) FROM events WHERE {where}{extra}", args).fetchone()[0])
    rows = conn.execute(
        f"SELECT id FROM events WHERE {where}{extra} ORDER BY received_at DESC, id DESC LIMIT ? OFFSET ?",
        [*args, limit, offset],
    )
    return Page([str(r[0]) for r in rows], total)


def event(mirror: Mirror, event_id: str) -> dict[str, Any] | None:
    """An event row with its stored payload as text (the page redacts it before showing it)."""
    row = mirror.connection().execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
    return None if row is None else dict(row)


def executions_per_hour(mirror: Mirror, now: float, hours: int = 24) -> list[tuple[float, dict[str, int]]]:
    """(hour start, {status: count}) for the last `hours` hours, oldest first, empty hours included.
    PostgreSQL's CAST rounds (an execution at 10:40 would count at 11:00), SQLite's truncates: floor it."""
    current = int(now // HOUR) * HOUR
    first = current - (hours - 1) * HOUR
    bucket = "floor(created_at / ?)" if mirror.postgres else "CAST(created_at / ? AS INTEGER)"
    rows = mirror.connection().execute(
        f"SELECT {bucket} * ? AS hour, status, count(*) FROM executions"
        " WHERE created_at >= ? GROUP BY hour, status",
        (HOUR, HOUR, first),
    )
    buckets: dict[int, dict[str, int]] = {first + i * HOUR: {} for i in range(hours)}
    for hour, status, count in rows:
        if int(hour) in buckets:
            buckets[int(hour)][str(status)] = int(count)
    return [(float(hour), counts) for hour, counts in buckets.items()]


def distinct(mirror: Mirror, table: str, column: str) -> list[str]:
    """Values for a filter's choices (table and column are the console's own constants)."""
    allowed = {("executions", "flow"), ("executions", "action"), ("executions", "error_kind"), ("tickets", "source")}
    if (table, column) not in allowed:
        raise ValueError(f"no filter on {table}.{column}")
    rows = mirror.connection().execute(
        f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY 1 LIMIT 200"
    )
    return [str(r[0]) for r in rows]


def payload_text(row: dict[str, Any]) -> str:
    """The stored payload, pretty-printed."""
    return json.dumps(json.loads(row["payload"]), indent=2, sort_keys=True, ensure_ascii=False)
