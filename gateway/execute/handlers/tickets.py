"""Ticket actions on a tracker: create, move, comment, assign; each records the tracker's answer on the link."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from connectors.base import (
    CLOCK_ALLOWANCE_S,
    AssignRequest,
    CommentRequest,
    Connector,
    CreateRequest,
    EditsComments,
    RemoteTicket,
    StatusRequest,
)
from gateway.core.models import Event, TicketFields
from gateway.core.outbound import PermanentError
from gateway.decide.inbound import in_step
from gateway.decide.planner import Planner
from gateway.decide.recurrence import RECURRENCE_FLOW
from gateway.execute.context import Context, Done, remote_ticket, wait_step
from gateway.execute.handlers.link_back import plan_link_back
from gateway.record.rows import ExecutionRow, LinkRow, TicketRow
from gateway.record.store import Query, Tx, every_row
from gateway.rules.templates import RenderError

# a drifting ticket's state and its links' tracker statuses (none when it does not drift)
_DRIFTING = (
    "SELECT tickets.state, links.target, links.remote_status FROM tickets JOIN links ON links.ticket_id = tickets.id"
    " WHERE tickets.id = ? AND tickets.drift = 1"
)
# what each action sets at the tracker: an inbound change older than this never overwrites it
_CHANGES = {
    "create_ticket": ("status", "assignee", "priority"),
    "update_ticket_status": ("status",),
    "assign": ("assignee",),
}
Tried = TypeVar("Tried", CreateRequest, StatusRequest, CommentRequest)


def create(ctx: Context, execution: ExecutionRow) -> str:
    _wait_for_earlier(ctx, execution)
    if "fields" not in execution.params:
        execution = _replan(ctx, execution)
    ticket = ctx.ticket(execution)
    fields = msgspec.convert(execution.params["fields"], TicketFields)  # created in its initial status
    link = ctx.mirror.link(ticket.id, execution.target) if ctx.has_link else None
    if link is not None:
        return _succeed(ctx, execution, remote_ticket(link), created_as=fields.status)
    request = CreateRequest(
        number=ctx.rt.number(ticket.id),
        correlation_key=ticket.tracker_key,
        fields=fields,
        event=ctx.event_context(execution),
        first_try=_first_try(ctx, execution),
    )
    tries = _tries(request)
    remote = ctx.on_target(execution, lambda connector: connector.create(tries()), unanswered_waits=True)
    return _succeed(ctx, execution, remote, created_as=fields.status)


def _first_try(ctx: Context, execution: ExecutionRow) -> bool:
    """The execution's very first try: claimed for the first time (a re-run after a worker died or a lease
    expired keeps its first time) and nothing in the attempt log (a retried failed one has its attempts)."""
    first_claim = execution.first_attempt_at is not None and execution.first_attempt_at == execution.started_at
    return first_claim and ctx.attempts == 0


def _tries(request: Tried) -> Callable[[], Tried]:
    """The request for each try: as given, then with `first_try` off (a retry searches for what may have landed)."""
    pending = [request]

    def next_try() -> Tried:
        this_try = pending[0]
        pending[0] = msgspec.structs.replace(this_try, first_try=False)
        return this_try

    return next_try


def _since(execution: ExecutionRow) -> float:
    """The earliest tracker time an execution's comment can carry (the clocks may differ by the allowance)."""
    return execution.created_at - CLOCK_ALLOWANCE_S


def update_status(ctx: Context, execution: ExecutionRow) -> str:
    link = _linked(ctx, execution)
    _skip_if_superseded(ctx, execution, "status")
    ticket = ctx.ticket(execution)
    params = execution.params
    request = StatusRequest(
        number=ctx.rt.number(ticket.id),
        correlation_key=ticket.tracker_key,
        status=params["status"],
        link=remote_ticket(link),
        note=_signed(params.get("note", ""), params.get("actor", "")),
        event=ctx.event_context(execution),
        first_try=_first_try(ctx, execution),
        since=_since(execution),
    )
    tries = _tries(request)  # the note is a comment: a retry looks for it before posting it
    remote = ctx.on_target(execution, lambda connector: connector.set_status(tries()), unanswered_waits=True)
    return _succeed(ctx, execution, remote)


def _signed(note: str, actor: str) -> str:
    """A person's note reaches the tracker with their name, as comments do (`slack:alice: ...`)."""
    return f"{actor}: {note}" if note and ":" in actor else note


def comment(ctx: Context, execution: ExecutionRow) -> str:
    link = _linked(ctx, execution)
    ticket = ctx.ticket(execution)
    if execution.flow == RECURRENCE_FLOW and "full_text" in execution.params:
        return _recurrence(ctx, execution, ticket, link)
    request = CommentRequest(
        number=ctx.rt.number(ticket.id),
        link=remote_ticket(link),
        text=execution.params["text"],
        first_try=_first_try(ctx, execution),
        since=_since(execution),
    )
    tries = _tries(request)  # a retry looks for the comment before posting it: an earlier try's may have landed
    ctx.on_target(execution, lambda connector: connector.comment(tries()), unanswered_waits=True)
    return _succeed(ctx, execution, remote_ticket(link))


def _recurrence(ctx: Context, execution: ExecutionRow, ticket: TicketRow, link: LinkRow) -> str:
    """A recurrence comment (gateway/decide/recurrence.py): edits the window's comment where the tracker can."""
    params, number, remote = execution.params, ctx.rt.number(ticket.id), remote_ticket(link)
    previous = ctx.mirror.latest_comment(
        ticket.id, execution.target, RECURRENCE_FLOW, before=execution.seq, status="succeeded"
    )
    same_window = previous is not None and previous.params.get("since") == params["since"]
    earlier = previous.result if same_window and previous and isinstance(previous.result, dict) else {}
    comment_id = str(earlier.get("comment_id") or "")
    short = CommentRequest(
        number=number, link=remote, text=params["text"], first_try=_first_try(ctx, execution), since=_since(execution)
    )
    tries = _tries(short)  # a retry looks for the comment before posting it

    def send(connector: Connector) -> tuple[str, bool]:
        this_try = tries()
        if not isinstance(connector, EditsComments):
            connector.comment(this_try)
            return "", False
        full = msgspec.structs.replace(this_try, text=params["full_text"])
        if comment_id:
            try:
                connector.edit_comment(full, comment_id)
                return comment_id, True
            except PermanentError as gone:
                if gone.http_status != 404:  # deleted in the tracker meanwhile: say it all in a new one
                    raise
        return connector.post_comment(full), False

    posted, edited = ctx.on_target(execution, send, unanswered_waits=True)
    said: dict[str, object] = {"occurrences": params["occurrences"] if posted else params["new"]}
    return _succeed(ctx, execution, remote, extra={**said, "comment_id": posted, "edited": edited} if posted else said)


def assign(ctx: Context, execution: ExecutionRow) -> str:
    link = _linked(ctx, execution)
    _skip_if_superseded(ctx, execution, "assignee")
    request = AssignRequest(
        number=ctx.rt.number(link.ticket_id), link=remote_ticket(link), assignee=execution.params["assignee"]
    )
    remote = ctx.on_target(execution, lambda connector: connector.assign(request))
    return _succeed(ctx, execution, remote)


def _skip_if_superseded(ctx: Context, execution: ExecutionRow, field: str) -> None:
    """An old failed move or assignment retried after a newer one reached the tracker: sending it would undo
    the newer one there (actions keep their order only among those not yet finished)."""
    newer = ctx.mirror.superseded_by(execution)
    if newer is not None:
        value = newer.params.get(field, "")
        raise Done("skipped", f"superseded: a later change set {field} {value!r} at {execution.target} already")


def _wait_for_earlier(ctx: Context, execution: ExecutionRow) -> None:
    """Ticket actions on one ticket and target apply in the order they were planned (the claim looked)."""
    if ctx.waits_for is not None:
        raise Done("queued", f"waiting for {ctx.waits_for}", retry_in=wait_step(execution))


def _linked(ctx: Context, execution: ExecutionRow) -> LinkRow:
    """The ticket's link on this target, once every earlier action (its create first) is done."""
    _wait_for_earlier(ctx, execution)
    link = ctx.mirror.link(execution.ticket_id, execution.target)
    if link is not None:
        return link
    create = ctx.mirror.latest_create(execution.ticket_id, execution.target)
    if create is None:
        raise Done("skipped", f"the ticket has no {execution.target} link and no create for it")
    if create.status in ("queued", "running"):
        raise Done("queued", "waiting for the ticket's create", retry_in=wait_step(execution))
    raise Done("skipped", f"the create for {execution.target} failed: {create.error or create.status}")


def _replan(ctx: Context, execution: ExecutionRow) -> ExecutionRow:
    """Render a create whose templates failed when it was planned, with the mappings loaded now."""
    stored = ctx.mirror.get_event(execution.event_id) if execution.event_id else None
    if stored is None:
        raise Done("failed", execution.error or "the execution has no rendered fields and no event")
    try:
        with ctx.mirror.transaction() as tx:
            Planner(ctx.rt, tx, time.time()).replan_create(execution, msgspec.convert(stored.payload, Event))
    except RenderError as exc:
        raise Done("failed", f"render: {exc}") from None
    return ctx.mirror.execution(execution.id) or execution


def _succeed(
    ctx: Context, execution: ExecutionRow, remote: RemoteTicket, *, created_as: str | None = None,
    extra: dict[str, object] | None = None,
) -> str:  # fmt: skip
    """Record the tracker's answer on the link, and what a finished create sets off."""
    now = time.time()
    with ctx.mirror.transaction(pipelined=True) as tx:  # the attempt, timeline and finish go with the commit
        if execution.action != "comment":
            # a create reads its ticket with the link's save (one round trip): did it move meanwhile?
            catch_up = created_as is not None and execution.ticket_id is not None
            then = [ctx.mirror.ticket_read(ctx.ticket_id(execution))] if catch_up else []
            first, answers = _save_link(ctx, tx, execution, remote, now, then)
            if created_as is not None:
                _catch_up(ctx, tx, execution, created_as, now, answers[0] if answers else None)
                if first:
                    plan_link_back(ctx, tx, execution, remote, now)
        result: dict[str, object] = {
            "external_key": remote.external_key,
            "url": remote.url,
            "remote_status": remote.remote_status,
        }
        if remote.notes:
            result["notes"] = remote.notes
        result.update(extra or {})
        ctx.result = result
        ctx.flush_attempt(tx)
        ctx.mirror.finish(tx, execution, "succeeded", now, result=result)
    return "succeeded"


def _save_link(
    ctx: Context, tx: Tx, execution: ExecutionRow, remote: RemoteTicket, now: float, then: list[Query[Any]]
) -> tuple[bool, list[Any]]:
    """Store the link; True (and a `linked` timeline entry) when the ticket had none for this target; and the
    answers of `then` (asked with it)."""
    ticket_id, target = ctx.ticket_id(execution), execution.target
    changes = _CHANGES.get(execution.action, ())
    moved = execution.action == "update_ticket_status"
    asked = [*then, Query(_DRIFTING, (ticket_id,), every_row)] if moved else then
    was, answers = ctx.mirror.save_link(tx, ticket_id, target, msgspec.to_builtins(remote), now, changes, then=asked)
    linked, key_before = was is not None, was.external_key if was else ""
    if moved:  # this tracker now says what the mirror says: a drift ends when the others do too
        drifting, answers = answers[-1], answers[:-1]
        if drifting and in_step(ctx.rt, drifting[0]["state"], {r["target"]: r["remote_status"] for r in drifting}):
            ctx.mirror.set_drift(tx, ticket_id, False)
    entry = {"target": target, "key": remote.external_key, "url": remote.url}
    if not linked:
        ctx.mirror.add_timeline(tx, ticket_id, "linked", "gateway", entry, now)
    elif key_before and remote.external_key and key_before != remote.external_key:
        # the issue moved (a Jira project move changes the key, not the id): say where it is now
        ctx.mirror.add_timeline(tx, ticket_id, "linked", "gateway", {**entry, "was": key_before}, now)
    return not linked, answers


def _catch_up(
    ctx: Context, tx: Tx, execution: ExecutionRow, created_as: str, now: float, ticket: TicketRow | None
) -> None:
    """The ticket (as read now, held) moved while its create was pending and nothing queued will move it:
    queue that move."""
    if ticket is None or ticket.state == created_as:
        return
    if ctx.mirror.pending_action(tx, ticket.id, execution.target, "update_ticket_status"):
        return
    ctx.mirror.create_execution(
        tx,
        event_id=execution.event_id,
        ticket_id=ticket.id,
        flow="catch-up",
        action="update_ticket_status",
        target=execution.target,
        now=now,
        due_at=now,
        params={"status": ticket.state, "note": "", "actor": "gateway"},
    )
