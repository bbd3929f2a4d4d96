"""Ticket events as flow triggers: what happened to a mirror ticket becomes notify and webhook executions.

`fire_ticket_event` is the one way in, for the planner (opened, moved, commented, assigned),
inbound tracker changes, and timers (`sla_breached`). It runs inside the caller's transaction
and returns the queued execution ids, which the caller enqueues after commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.core.models import TicketEventKind
from gateway.record.rows import TicketRow
from gateway.record.runtime import Runtime
from gateway.record.store import Tx
from gateway.rules.matching import ticket_event_flows
from gateway.rules.schema import Notify, Webhook


def fire_ticket_event(
    rt: Runtime,
    tx: Tx,
    ticket: TicketRow,
    kind: TicketEventKind,
    data: dict[str, Any],
    now: float,
    enqueued_at: float | None = None,
) -> list[str]:
    """Queue the actions of every flow this event triggers; `data` is what templates see as `change`
    (`enqueued_at`: see `Executions.create_execution`).

    `data` may carry `status` (the state the event is about; the ticket's state otherwise) and
    `origin` (jira, servicenow, api, chat, anomaly, gateway), which `where:` filters on.
    """
    change = {"kind": kind, "status": ticket.state, "at": now, **data}
    queued: list[str] = []
    for flow in ticket_event_flows(rt.mappings, kind, change.get("status"), change.get("origin"), ticket.source):
        for index, (_, action) in enumerate(flow.actions):
            if isinstance(action, Notify):
                targets = [(channel, "notify") for channel in action.channels]
            elif isinstance(action, Webhook):
                targets = [("webhook", "webhook")]
            else:  # the loader allows nothing else under ticket triggers
                continue
            for target, name in targets:
                queued.append(
                    rt.mirror.create_execution(
                        tx,
                        event_id=None,
                        ticket_id=ticket.id,
                        flow=flow.name,
                        action=name,
                        target=target,
                        params={"action_index": index, "wait_until": now, "change": change},
                        now=now,
                        enqueued_at=enqueued_at,
                    )
                )
    return queued


def sla_breach_hook(rt: Runtime) -> Callable[[Tx, int, str, float], list[str]]:
    """What the sweeper calls for each SLA breach it records: an `sla_breached` ticket event."""

    def fire(tx: Tx, ticket_id: int, timer: str, now: float) -> list[str]:
        ticket = rt.mirror.ticket(ticket_id, tx)
        data = {"origin": "gateway", "actor": "gateway", "timer": timer}
        return fire_ticket_event(rt, tx, ticket, "sla_breached", data, now) if ticket else []

    return fire
