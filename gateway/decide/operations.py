"""What people do to tickets and executions (API, CLI, Slack, Teams): one path for all."""

from __future__ import annotations

import time
from typing import Any

from gateway.core.errors import Conflict, InvalidPayload, NotFound
from gateway.decide.planner import Outcome, Planner
from gateway.dispatch.queue import Dispatcher
from gateway.record.rows import ExecutionRow, TicketRow
from gateway.record.runtime import Runtime
from gateway.rules.lifecycle import STATES, canonical_state


def find_ticket(rt: Runtime, reference: str) -> TicketRow:
    ticket_id = rt.ticket_id(reference)
    ticket = rt.mirror.ticket(ticket_id) if ticket_id is not None else None
    if ticket is None:
        raise NotFound(f"no ticket {reference!r}", code="unknown_ticket")
    return ticket


def move_ticket(
    rt: Runtime, dispatcher: Dispatcher | None, reference: str, status: str, *, note: str = "", actor: str = "api"
) -> tuple[TicketRow, list[str]]:
    """Move a ticket through the state machine (409 when not allowed) and push it to its targets."""
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
        planner = Planner(rt, tx, time.time())
        planner.move(current, state, actor=actor, note=note, flow="manual", outcome=outcome)
    _enqueue(dispatcher, outcome.queued)
    return rt.mirror.ticket(ticket.id) or ticket, outcome.executions


def comment_ticket(
    rt: Runtime, dispatcher: Dispatcher | None, reference: str, text: str, *, actor: str = "api"
) -> tuple[TicketRow, list[str]]:
    if not text.strip():
        raise InvalidPayload("a comment needs text", code="empty_comment")
    ticket = find_ticket(rt, reference)
    outcome = Outcome(event_id=None)
    with rt.mirror.transaction() as tx:
        Planner(rt, tx, time.time()).comment(ticket, text.strip(), actor=actor, flow="manual", outcome=outcome)
    _enqueue(dispatcher, outcome.queued)
    return rt.mirror.ticket(ticket.id) or ticket, outcome.executions


def assign_ticket(
    rt: Runtime, dispatcher: Dispatcher | None, reference: str, assignee: str, *, actor: str = "api"
) -> tuple[TicketRow, list[str]]:
    """Someone takes the ticket: the mirror's assignee now, each linked tracker's through an execution."""
    ticket = find_ticket(rt, reference)
    outcome = Outcome(event_id=None)
    with rt.mirror.transaction() as tx:
        current = rt.mirror.ticket(ticket.id, tx) or ticket
        Planner(rt, tx, time.time()).assign(current, assignee, actor=actor, flow="manual", outcome=outcome)
    _enqueue(dispatcher, outcome.queued)
    return rt.mirror.ticket(ticket.id) or ticket, outcome.executions


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
    retried = []
    with rt.mirror.transaction() as tx:
        retried = [i for i in ids if rt.mirror.retry(tx, i)]
    _enqueue(dispatcher, retried)
    return retried


def _enqueue(dispatcher: Dispatcher | None, ids: list[str]) -> None:
    if dispatcher is not None and ids:
        dispatcher.enqueue(ids)
