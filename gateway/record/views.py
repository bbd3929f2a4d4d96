"""The JSON shapes of tickets and executions, as the API, the CLI and chat show them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from gateway.record.rows import AnomalyRow, ExecutionRow, LinkRow, TicketRow
from gateway.record.runtime import Runtime


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


def ticket_view(rt: Runtime, ticket: TicketRow, *, detail: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": ticket.id,
        "number": rt.number(ticket.id),
        "state": ticket.state,
        "fields": ticket.fields,
        "correlation_key": ticket.correlation_key,
        "generation": ticket.generation,
        "source": ticket.source,
        "anomaly_ids": ticket.anomaly_ids,
        "occurrences": ticket.occurrences,
        "targets": ticket.targets,
        "links": [link_view(link) for link in rt.mirror.links(ticket.id)],
        "anomalies": [anomaly_view(a) for a in rt.mirror.anomalies(ticket.id)],
        "resolve_when": ticket.resolve_when,
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
    }
    if detail:
        view["timeline"] = [
            {**msgspec.structs.asdict(entry), "at": iso(entry.at)} for entry in rt.mirror.timeline(ticket.id)
        ]
    return view


def execution_view(rt: Runtime, execution: ExecutionRow, *, attempts: bool = True) -> dict[str, Any]:
    ticket = rt.mirror.ticket(execution.ticket_id) if execution.ticket_id else None
    event = rt.mirror.get_event(execution.event_id) if execution.event_id else None
    view: dict[str, Any] = {
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
        if ticket is None
        else {
            "id": ticket.id,
            "number": rt.number(ticket.id),
            "short_description": ticket.fields.get("short_description", ""),
        },
        "event": None
        if event is None
        else {
            "id": event.id,
            "source": event.source,
            "anomaly_id": event.anomaly_id,
            "source_event_id": event.source_event_id,
        },
    }
    if attempts:
        view["attempts"] = [
            {**msgspec.structs.asdict(a), "started_at": iso(a.started_at)} for a in rt.mirror.attempts(execution.id)
        ]
    return view
