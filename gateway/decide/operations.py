"""What people do to tickets and executions (API, CLI, Slack, Teams): one path for all."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.core.errors import Conflict, InvalidPayload, NotFound
from gateway.core.models import Origin
from gateway.decide import anomalies
from gateway.decide.planner import Outcome, Planner
from gateway.dispatch.queue import Dispatcher
from gateway.record.rows import ExecutionRow, TicketRow, TimelineRow
from gateway.record.runtime import Runtime
from gateway.record.store import BULK_CHUNK
from gateway.rules.lifecycle import STATES, canonical_state


def find_ticket(rt: Runtime, reference: str) -> TicketRow:
    ticket_id = rt.ticket_id(reference)
    ticket = rt.mirror.ticket(ticket_id) if ticket_id is not None else None
    if ticket is None:
        raise NotFound(f"no ticket {reference!r}", code="unknown_ticket")
    return ticket


def actor_roles(
    rt: Runtime, ticket: TicketRow, identities: set[str], *, taking: bool = False, chat_id: str = ""
) -> frozenset[str]:
    """The lifecycle roles a person holds on a ticket: its assignee (or who takes it now), its requester.

    `chat_id`: a chat caller's user id. Where the chat recorded who took or opened the ticket, that id decides,
    not the name: two Teams users may show the same display name, and a Slack user name can change."""
    roles = {"any"}
    timeline = rt.mirror.timeline(ticket.id)
    assignee = ticket.fields.get("assigned_to", "")
    changes = (e for e in reversed(timeline) if e.kind == "field_changed" and e.data.get("field") == "assigned_to")
    assigned = next((e for e in changes if e.data.get("to") == assignee), None)
    if (assignee and _proven(assignee in identities, assigned, chat_id)) or (taking and not assignee):
        roles.add("assignee")
    opened = next((e for e in timeline if e.kind == "opened"), None)
    requesters = {ticket.source} | ({opened.actor} if opened and opened.actor != "gateway" else set())
    if _proven(bool(requesters & identities), opened, chat_id):
        roles.add("requester")
    return frozenset(roles)


def _proven(named: bool, entry: TimelineRow | None, chat_id: str) -> bool:
    """A chat caller holds what the entry gave to a chat user only when the entry names their id."""
    recorded = str(entry.data.get("chat_id") or "") if entry is not None else ""
    return recorded == chat_id if chat_id and recorded else named


def move_ticket(
    rt: Runtime,
    dispatcher: Dispatcher | None,
    reference: str,
    status: str,
    *,
    note: str = "",
    actor: str = "api",
    person: str | None = None,
    taking: bool = False,
    origin: Origin = "api",
    chat_id: str = "",
    people: Mapping[str, str] | None = None,
) -> tuple[TicketRow, list[str]]:
    """Move a ticket through the state machine (409 when not declared, 403 when the mover lacks the role)
    and push it to its targets. `person` is the mover's tracker identity; `taking` when they take it: moved
    to In Progress, it is theirs in the same transaction (`people`: their user per target, see Planner.assign),
    so a failure between the two cannot leave it moved but unassigned."""
    state = canonical_state(status)
    if state is None:
        raise InvalidPayload(
            f"{status!r} is not a ticket status; use one of {', '.join(STATES)}", code="unknown_status"
        )
    ticket = find_ticket(rt, reference)
    with rt.mirror.transaction() as tx:
        current = rt.mirror.ticket(ticket.id, tx) or ticket
        if current.state == state:
            raise Conflict(f"{rt.number(ticket.id)} is already {state}", code="already_in_state")
        outcome = Outcome(event_id=None)
        planner = Planner(rt, tx, rt.clock())
        roles = actor_roles(rt, current, {actor, person or actor}, taking=taking, chat_id=chat_id)
        planner.move(current, state, actor=actor, note=note, flow="manual", outcome=outcome, roles=roles, origin=origin)
        if taking and person and state == "In Progress":
            moved = rt.mirror.ticket(ticket.id, tx) or current
            planner.assign(moved, person, actor=actor, flow="manual", outcome=outcome, people=people, origin=origin,
                           chat_id=chat_id)  # fmt: skip
    _enqueue(dispatcher, outcome.queued)
    return rt.mirror.ticket(ticket.id) or ticket, outcome.executions


def comment_ticket(
    rt: Runtime,
    dispatcher: Dispatcher | None,
    reference: str,
    text: str,
    *,
    actor: str = "api",
    origin: Origin = "api",
) -> tuple[TicketRow, list[str]]:
    if not text.strip():
        raise InvalidPayload("a comment needs text", code="empty_comment")
    ticket = find_ticket(rt, reference)
    outcome = Outcome(event_id=None)
    with rt.mirror.transaction() as tx:
        planner = Planner(rt, tx, rt.clock())
        planner.comment(ticket, text.strip(), actor=actor, flow="manual", outcome=outcome, origin=origin)
    _enqueue(dispatcher, outcome.queued)
    return rt.mirror.ticket(ticket.id) or ticket, outcome.executions


def assign_ticket(
    rt: Runtime,
    dispatcher: Dispatcher | None,
    reference: str,
    assignee: str,
    *,
    actor: str = "api",
    people: Mapping[str, str] | None = None,
    origin: Origin = "api",
    chat_id: str = "",
) -> tuple[TicketRow, list[str]]:
    """Someone takes the ticket: the mirror's assignee now, each linked tracker's through an execution
    (`people`: their user per target, see Planner.assign)."""
    ticket = find_ticket(rt, reference)
    outcome = Outcome(event_id=None)
    with rt.mirror.transaction() as tx:
        current = rt.mirror.ticket(ticket.id, tx) or ticket
        planner = Planner(rt, tx, rt.clock())
        planner.assign(current, assignee, actor=actor, flow="manual", outcome=outcome, people=people,
                       origin=origin, chat_id=chat_id)  # fmt: skip
    _enqueue(dispatcher, outcome.queued)
    return rt.mirror.ticket(ticket.id) or ticket, outcome.executions


def link_anomaly(
    rt: Runtime, reference: str, source: str, anomaly_id: str, *, actor: str = "api"
) -> tuple[TicketRow, str | None]:
    """Link an anomaly to an open ticket by hand, moving it from the open ticket it had; that ticket's number.

    Trackers hear of it in the coalesced comment, sent by the sweeper when it is due."""
    _check_anomaly(rt, source, anomaly_id)
    ticket = find_ticket(rt, reference)
    with rt.mirror.transaction() as tx:
        current = rt.mirror.ticket(ticket.id, tx) or ticket
        if not rt.mappings.lifecycle.is_open(current.state):
            raise Conflict(
                f"{rt.number(ticket.id)} is {current.state}; anomalies join open tickets", code="ticket_closed"
            )
        row = rt.mirror.active_anomaly(tx, source, anomaly_id)
        if row is not None and row.ticket_id == ticket.id:
            raise Conflict(f"{source}:{anomaly_id} is already linked to {rt.number(ticket.id)}", code="already_linked")
        planner = Planner(rt, tx, rt.clock())
        status, title = (row.status, row.title) if row else ("", "")
        previous = anomalies.link(planner, current, source, anomaly_id, status=status, title=title, actor=actor)
    return rt.mirror.ticket(ticket.id) or ticket, rt.number(previous) if previous is not None else None


def unlink_anomaly(rt: Runtime, reference: str, source: str, anomaly_id: str, *, actor: str = "api") -> TicketRow:
    _check_anomaly(rt, source, anomaly_id)
    ticket = find_ticket(rt, reference)
    with rt.mirror.transaction() as tx:
        if not rt.mirror.unlink_anomaly(tx, ticket.id, source, anomaly_id):
            raise NotFound(f"{source}:{anomaly_id} is not linked to {rt.number(ticket.id)}", code="not_linked")
        entry = {"source": source, "anomaly_id": anomaly_id}
        rt.mirror.add_timeline(tx, ticket.id, "anomaly_unlinked", actor, entry, rt.clock())
        anomalies.forget(rt.mirror, tx, ticket.id, anomaly_id, rt.clock())
    return rt.mirror.ticket(ticket.id) or ticket


def _check_anomaly(rt: Runtime, source: str, anomaly_id: str) -> None:
    if source not in rt.mappings.sources:
        known = ", ".join(rt.mappings.sources) or "none"
        raise InvalidPayload(f"no source named {source!r} is configured; sources: {known}", code="unknown_source")
    if not anomaly_id.strip():
        raise InvalidPayload("an anomaly id is needed", code="invalid_anomaly")


def retry_execution(rt: Runtime, dispatcher: Dispatcher | None, execution_id: str) -> ExecutionRow:
    with rt.mirror.transaction() as tx:
        execution = rt.mirror.execution(execution_id, tx)
        if execution is None:
            raise NotFound(f"no execution {execution_id!r}", code="unknown_execution")
        if not rt.mirror.retry(tx, execution_id):
            raise Conflict(
                f"execution {execution_id} is {execution.status}; only failed or skipped ones are retried",
                code="not_retryable",
            )
    _enqueue(dispatcher, [execution_id])
    return rt.mirror.execution(execution_id) or execution


def retry_executions(rt: Runtime, dispatcher: Dispatcher | None, **filters: Any) -> list[str]:
    """Every failed execution matching the filters, back to the queue."""
    ids = [e.id for e in rt.mirror.list_executions(status="failed", limit=10_000, **filters)]
    retried: list[str] = []
    for first in range(0, len(ids), BULK_CHUNK):  # a transaction a chunk
        with rt.mirror.transaction() as tx:
            chunk = [i for i in ids[first : first + BULK_CHUNK] if rt.mirror.retry(tx, i)]
        _enqueue(dispatcher, chunk)
        retried += chunk
    return retried


def _enqueue(dispatcher: Dispatcher | None, ids: list[str]) -> None:
    if dispatcher is not None and ids:
        dispatcher.enqueue(ids)
