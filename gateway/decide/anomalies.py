"""Which ticket an anomaly belongs to: grouping, joining, status changes under `resolve_when`, and the
coalesced tracker comment that lists newly linked anomalies.

An anomaly belongs to at most one open ticket (a constraint in the mirror). A grouped ticket's
correlation key is its group key, so unique(correlation_key, generation) lets only one of many
concurrent deliveries of a group open its ticket; the others fail, are planned again, and join it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from gateway.core.errors import ForbiddenTransition
from gateway.core.models import Event
from gateway.decide.fields import target_status
from gateway.record.anomalies import Unread, active_anomaly_read
from gateway.record.mirror import Mirror
from gateway.record.rows import AnomalyRow, TicketRow
from gateway.record.runtime import Runtime
from gateway.record.store import Query, Tx
from gateway.rules.schema import CreateTicket, Flow, UpdateTicketStatus
from gateway.rules.templates import RenderError, ticket_context

Outcome = Any  # gateway.decide.planner.Outcome, which imports this module


class Planner(Protocol):
    """What of the planner these steps use (it lives a module above, which calls in here)."""

    rt: Runtime
    mirror: Mirror
    tx: Tx
    now: float

    def reopens(self, ticket: TicketRow) -> bool: ...
    def recur(self, ticket: TicketRow, event: Event, outcome: Outcome) -> int: ...
    def plan_notifications(self, flows: list[Flow], outcome: Outcome) -> None: ...
    def skip(
        self, outcome: Outcome, flow: str, ticket_id: int, params: dict[str, Any], reason: str, status: Any = ...
    ) -> None: ...
    def move(
        self,
        ticket: TicketRow,
        state: str,
        *,
        actor: str,
        note: str,
        flow: str,
        outcome: Outcome,
        targets: list[str] | None = None,
    ) -> None: ...


GROUP_COMMENT_FLOW = "anomalies"  # coalesced comments: due later, they never hold a ticket's other actions


def group_key(flow: Flow, action: CreateTicket, planner: Planner, event: Event) -> str:
    """The grouped ticket's correlation key, or the anomaly's own when the create does not group."""
    if not action.group_by:
        return event.correlation_key
    context = {"event": event.template_context(), "ticket": ticket_context()}
    try:
        rendered = planner.rt.mappings.templates.render(action.group_by, context)
    except RenderError as exc:
        raise RenderError(f"group_by: {exc}") from None
    return f"group:{flow.name}:{rendered}"


@dataclass
class Ahead:
    """What planning an anomaly reads first, asked together with the event's insert (`look_ahead`)."""

    creates: list[tuple[Flow, CreateTicket]]
    key: str  # the ticket's correlation key: its group's, or the anomaly's own
    error: RenderError | None = None  # the group key did not render: nothing was read
    anomaly: AnomalyRow | None = None  # the anomaly's active row
    latest: TicketRow | None = None  # the key's latest ticket


def look_ahead(planner: Planner, event: Event, flows: list[Flow]) -> tuple[Ahead, list[Query[Any]]]:
    """The anomaly's keys locked (concurrent deliveries from other nodes wait here) and the reads its
    planning starts from: the caller asks them with the event's insert, in one round trip."""
    mirror, tx = planner.mirror, planner.tx
    creates = [(flow, a) for flow in flows for kind, a in flow.actions if isinstance(a, CreateTicket)]
    try:
        key = group_key(*creates[0], planner, event) if creates else event.correlation_key
    except RenderError as exc:
        return Ahead(creates, event.correlation_key, exc), []
    for locked in sorted({event.correlation_key, key}):
        mirror.lock_key(tx, locked)
    reads: list[Query[Any]] = [active_anomaly_read(event.source, event.anomaly_id), mirror.current_ticket_read(tx, key)]
    return Ahead(creates, key), reads


def ticket_to_join(planner: Planner, event: Event, ahead: Ahead) -> TicketRow | None:
    """The open (or reopenable) ticket the anomaly belongs to now, else its group's."""
    row = ahead.anomaly
    candidates = [planner.mirror.ticket(row.ticket_id, planner.tx) if row else None]
    if ahead.key != event.correlation_key:
        candidates.append(ahead.latest)
    for ticket in candidates:
        if ticket is not None and (planner.rt.mappings.lifecycle.is_open(ticket.state) or planner.reopens(ticket)):
            return ticket
    return None


def join(planner: Planner, ticket: TicketRow, event: Event, ahead: Ahead, outcome: Outcome) -> int | None:
    """The anomaly occurred again on its ticket, or joins it (said on the timeline and, coalesced, to trackers).
    Its occurrence number when it occurred again, None when it joined."""
    mirror, tx = planner.mirror, planner.tx
    row = ahead.anomaly  # nothing changed it since it was read ahead
    if row is not None and row.ticket_id == ticket.id:
        mirror.touch_anomaly(tx, ticket.id, event.source, event.anomaly_id, status=event.status, now=planner.now)
        return planner.recur(ticket, event, outcome)
    status, title = event.status or "", event.title
    link(planner, ticket, event.source, event.anomaly_id, status=status, title=title, actor="gateway", row=row)
    outcome.ticket_id = ticket.id
    return None


def link(
    planner: Planner, ticket: TicketRow, source: str, anomaly_id: str, *, status: str, title: str, actor: str,
    row: AnomalyRow | Unread | None = Unread.ROW,
) -> int | None:  # fmt: skip
    """Make the anomaly the ticket's; the ticket it was moved from, if any (both timelines say so).
    `row`: the anomaly's active row, when the caller read it in this transaction."""
    mirror, tx, now = planner.mirror, planner.tx, planner.now
    previous = mirror.link_anomaly(tx, ticket.id, source, anomaly_id, status=status, title=title, now=now, previous=row)
    entry: dict[str, Any] = {"source": source, "anomaly_id": anomaly_id, "title": title}
    if previous is not None:
        entry["moved_from"] = planner.rt.number(previous)
        moved = {"source": source, "anomaly_id": anomaly_id, "moved_to": planner.rt.number(ticket.id)}
        mirror.add_timeline(tx, previous, "anomaly_unlinked", actor, moved, now)
        forget(mirror, tx, previous, anomaly_id, now)
    mirror.add_timeline(tx, ticket.id, "anomaly_linked", actor, entry, now)
    current = mirror.ticket(ticket.id, tx) or ticket
    ids = list(dict.fromkeys([*current.anomaly_ids, anomaly_id]))
    mirror.update_ticket(tx, ticket.id, now, anomaly_ids=ids)
    announce(planner, current, f"{source}:{anomaly_id}" + (f" {title}" if title else ""))
    return previous


def forget(mirror: Mirror, tx: Tx, ticket_id: int, anomaly_id: str, now: float) -> None:
    """The anomaly left the ticket: its `anomaly_ids` (what templates and webhooks name) no longer list it."""
    ticket = mirror.ticket(ticket_id, tx)
    if ticket is not None and anomaly_id in ticket.anomaly_ids:
        kept = [known for known in ticket.anomaly_ids if known != anomaly_id]
        mirror.update_ticket(tx, ticket_id, now, anomaly_ids=kept)


def announce(planner: Planner, ticket: TicketRow, line: str) -> None:
    """One tracker comment per interval lists the anomalies linked meanwhile: a pending one takes the line."""
    mirror, tx, now = planner.mirror, planner.tx, planner.now
    for target in ticket.targets:
        pending = mirror.pending_comment(tx, ticket.id, target, GROUP_COMMENT_FLOW)
        lines = [*(pending.params.get("anomalies", []) if pending else []), line]
        params = {"anomalies": lines, "text": f"Anomalies linked to this ticket: {len(lines)}\n" + "\n".join(lines)}
        if pending is not None and mirror.set_queued_params(tx, pending.id, params):
            continue
        mirror.create_execution(
            tx,
            event_id=None,
            ticket_id=ticket.id,
            flow=GROUP_COMMENT_FLOW,
            action="comment",
            target=target,
            params=params,
            now=now,
            due_at=now + planner.rt.settings.group_comment_seconds,
        )


# -- status changes ---------------------------------------------------------------------------
def plan_status_change(planner: Planner, event: Event, flows: list[Flow], outcome: Outcome) -> None:
    mirror, tx = planner.mirror, planner.tx
    mirror.lock_key(tx, event.correlation_key)
    row = mirror.active_anomaly(tx, event.source, event.anomaly_id)
    ticket = mirror.ticket(row.ticket_id, tx) if row else mirror.current_ticket(tx, event.correlation_key)
    if ticket is None:
        outcome.ignored = f"no ticket exists for anomaly {event.anomaly_id}"
        return
    outcome.ticket_id = ticket.id
    if row is not None:
        mirror.touch_anomaly(tx, ticket.id, event.source, event.anomaly_id, status=event.status, now=planner.now)
        if row.status != (event.status or row.status):
            change = {"source": event.source, "anomaly_id": event.anomaly_id, "from": row.status, "to": event.status}
            mirror.add_timeline(tx, ticket.id, "anomaly_status_changed", event.source, change, planner.now)
    context = {
        "event": event.template_context(),
        "ticket": ticket_context(planner.rt.number(ticket.id), ticket.state, fields=ticket.fields),
    }
    for flow in flows:
        for _, action in flow.actions:
            if isinstance(action, UpdateTicketStatus):
                _follow(planner, ticket, event, flow, action, context, outcome)
                ticket = mirror.ticket(ticket.id, tx) or ticket
    planner.plan_notifications(flows, outcome)


def _follow(
    planner: Planner,
    ticket: TicketRow,
    event: Event,
    flow: Flow,
    action: UpdateTicketStatus,
    context: dict[str, Any],
    outcome: Outcome,
) -> None:
    try:
        state, note = target_status(planner.rt, action, event, context)
    except RenderError as exc:
        planner.skip(outcome, flow.name, ticket.id, {"anomaly_status": event.status}, str(exc), status="failed")
        return
    waiting = _not_reached(planner, ticket, event, action, context, state)
    if waiting:
        planner.skip(outcome, flow.name, ticket.id, {"status": state}, waiting)
        return
    try:
        planner.move(
            ticket, state, actor=event.source, note=note, flow=flow.name, outcome=outcome, targets=action.targets
        )
    except ForbiddenTransition as exc:
        refused = {"from": ticket.state, "to": state, "reason": exc.detail}
        planner.mirror.add_timeline(planner.tx, ticket.id, "transition_refused", event.source, refused, planner.now)
        planner.skip(outcome, flow.name, ticket.id, {"status": state}, exc.detail)


def _not_reached(
    planner: Planner,
    ticket: TicketRow,
    event: Event,
    action: UpdateTicketStatus,
    context: dict[str, Any],
    state: str,
) -> str | None:
    """Why a ticket of several anomalies does not follow this one yet (resolve_when: all), or None."""
    anomalies = planner.mirror.anomalies(ticket.id, planner.tx)
    others = [a for a in anomalies if (a.source, a.anomaly_id) != (event.source, event.anomaly_id)]
    if not others or (ticket.resolve_when or "all") == "any":
        return None
    reached = 1
    for other in others:
        as_other = msgspec.structs.replace(event, status=other.status)
        other_context = {**context, "event": {**context["event"], "status": other.status}}
        try:
            reached += target_status(planner.rt, action, as_other, other_context)[0] == state
        except RenderError:
            continue
    if reached == len(others) + 1:
        return None
    return (
        f"{reached} of {len(others) + 1} anomalies ask for {state}; "
        "the ticket follows when all of them do (resolve_when: all)"
    )
