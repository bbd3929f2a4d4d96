"""The JSON shapes of tickets and executions, as the API, the CLI and chat show them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from gateway.record.rows import AnomalyRow, ExecutionRow, LinkRow, TicketRow
from gateway.record.runtime import Runtime
from gateway.record.sla import SlaRow, breached

_LOOK_UP: Any = object()  # ask the mirror (a single view)


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def link_view(link: LinkRow) -> dict[str, Any]:
    return {
        "target": link.target,
        "external_id": link.external_id,
        "external_key": link.external_key,
        "url": link.url,
        "remote_status": link.remote_status,
        "remote_priority": link.remote_priority,
        "updated_at": iso(link.updated_at),
    }


def anomaly_view(anomaly: AnomalyRow) -> dict[str, Any]:
    return {
        "source": anomaly.source,
        "anomaly_id": anomaly.anomaly_id,
        "status": anomaly.status,
        "title": anomaly.title,
        "first_seen": iso(anomaly.first_seen),
        "last_seen": iso(anomaly.last_seen),
    }


def sla_view(rt: Runtime, timer: SlaRow | None) -> dict[str, Any] | None:
    """Due times, breaches and seconds left (frozen while On Hold; None once the timer stopped)."""
    if timer is None:
        return None
    now = rt.clock()
    paused = timer.resolution_paused_at
    resolution_due = timer.resolution_due_at + (now - paused if paused is not None else 0.0)
    resolution_stopped = timer.resolution_stopped_at
    return {
        "response_due_at": iso(timer.response_due_at),
        "resolution_due_at": iso(resolution_due),
        "response_breached": breached(
            timer.response_due_at, timer.response_stopped_at, None, timer.response_breached_at, now
        ),
        "resolution_breached": breached(
            timer.resolution_due_at, resolution_stopped, paused, timer.resolution_breached_at, now
        ),
        "response_left_s": None if timer.response_stopped_at else round(timer.response_due_at - now),
        "resolution_left_s": None if resolution_stopped else round(resolution_due - now),
        "resolution_paused": paused is not None,
    }


def ticket_view(
    rt: Runtime,
    ticket: TicketRow,
    *,
    detail: bool = False,
    links: list[LinkRow] | None = None,
    anomalies: list[AnomalyRow] | None = None,
    sla: SlaRow | None = _LOOK_UP,
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": ticket.id,
        "number": rt.number(ticket.id),
        "state": ticket.state,
        "drift": ticket.drift,  # a tracker says otherwise and the lifecycle forbade following it
        "fields": ticket.fields,
        "correlation_key": ticket.correlation_key,
        "generation": ticket.generation,
        "source": ticket.source,
        "requester": ticket.requester or None,
        "anomaly_ids": ticket.anomaly_ids,
        "occurrences": ticket.occurrences,
        "targets": ticket.targets,
        "links": [link_view(link) for link in (rt.mirror.links(ticket.id) if links is None else links)],
        "anomalies": [anomaly_view(a) for a in (rt.mirror.anomalies(ticket.id) if anomalies is None else anomalies)],
        "resolve_when": ticket.resolve_when,
        "sla": sla_view(rt, rt.mirror.sla(ticket.id) if sla is _LOOK_UP else sla),
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
    }
    if detail:
        view["timeline"] = [
            {**msgspec.structs.asdict(entry), "at": iso(entry.at)} for entry in rt.mirror.timeline(ticket.id)
        ]
    return view


def ticket_views(rt: Runtime, tickets: list[TicketRow]) -> list[dict[str, Any]]:
    """A list view: every ticket's links, anomalies and SLA timers in three queries, not three per ticket."""
    ids = [t.id for t in tickets]
    links, anomalies, slas = rt.mirror.links_of(ids), rt.mirror.anomalies_of(ids), rt.mirror.slas_of(ids)
    return [ticket_view(rt, t, links=links[t.id], anomalies=anomalies[t.id], sla=slas.get(t.id)) for t in tickets]


def execution_views(rt: Runtime, executions: list[ExecutionRow]) -> list[dict[str, Any]]:
    """A list view: the tickets' titles and the events' references behind the executions in two queries,
    not two per row, and without the events' payloads or the tickets' other fields."""
    titles = rt.mirror.ticket_titles(sorted({e.ticket_id for e in executions if e.ticket_id}))
    events = rt.mirror.event_refs(sorted({e.event_id for e in executions if e.event_id}))
    return [
        _execution_view(rt, e, titles.get(e.ticket_id) if e.ticket_id else None, events.get(e.event_id or ""))
        for e in executions
    ]


def _execution_view(
    rt: Runtime, execution: ExecutionRow, title: str | None, event: dict[str, str] | None
) -> dict[str, Any]:
    """`title`: the ticket's short description; None when the execution has no ticket (or it was pruned)."""
    return {
        "id": execution.id,
        "event_id": execution.event_id,
        "ticket_id": execution.ticket_id,
        "flow": execution.flow,
        "action": execution.action,
        "target": execution.target,
        "status": execution.status,
        "result": execution.result,
        "error": execution.error,
        "error_kind": execution.error_kind,
        "created_at": iso(execution.created_at),
        "started_at": iso(execution.started_at),
        "finished_at": iso(execution.finished_at),
        "next_attempt_at": iso(execution.next_attempt_at),
        "ticket": None
        if title is None or execution.ticket_id is None
        else {"id": execution.ticket_id, "number": rt.number(execution.ticket_id), "short_description": title},
        "event": event,
    }


def execution_view(rt: Runtime, execution: ExecutionRow, *, attempts: bool = True) -> dict[str, Any]:
    view = execution_views(rt, [execution])[0]
    if attempts:
        view["attempts"] = [
            {**msgspec.structs.asdict(a), "started_at": iso(a.started_at)} for a in rt.mirror.attempts(execution.id)
        ]
    return view


def next_after(rows: list[Any], limit: int, key: str) -> str | None:
    """The `after` of the next page (keyset paging): the last row's key when this page is full."""
    return str(getattr(rows[-1], key)) if rows and len(rows) == limit else None
