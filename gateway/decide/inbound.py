"""What people do in a tracker, into the mirror: one transaction from tracker changes to timeline
entries and queued executions (DESIGN.md, 'Two-way sync').

Rules kept here: a change older than what the link already knows (per field, by the tracker's
clock) is dropped; the gateway's own user, its own comments and a status the link already has
make nothing; a move the lifecycle forbids is `remote_changed` and sets `drift`; an allowed move
goes through the planner like any other, to the ticket's other targets when `propagate` is on.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.base import Inbound, InboundAdapter, RemoteChange
from connectors.registry import KINDS
from gateway.core.errors import ForbiddenRole, ForbiddenTransition, MalformedJson, NotFound
from gateway.core.jsonbody import nesting_error
from gateway.decide.planner import Outcome, Planner
from gateway.dispatch.queue import Dispatcher
from gateway.record.rows import LinkRow, TicketRow
from gateway.record.runtime import Runtime
from gateway.record.store import Tx
from gateway.rules.schema import Target

SHARED_ORDER = ("Resolved", "Closed", "Canceled")  # several states on one tracker status: the first allowed wins
TRACKER_ROLES = frozenset({"assignee", "requester"})  # the tracker already decided who may move its record


@dataclass
class Applied:
    """What a batch of tracker changes did."""

    duplicate: bool = False
    linked: list[int] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)
    outcome: Outcome = field(default_factory=lambda: Outcome(event_id=None))


def sync_target(rt: Runtime, name: str) -> tuple[Target, InboundAdapter]:
    """A target that takes tracker changes back; 404 for an unknown one or one without `sync:`."""
    target = rt.mappings.targets.get(name)
    if target is None:
        raise NotFound(f"no target named {name!r} is configured", code="unknown_target")
    adapter = KINDS[target.kind].inbound_adapter()
    if adapter is None or getattr(target.config, "sync", None) is None:
        raise NotFound(f"target {name!r} has no sync: block, so it takes no tracker webhooks", code="sync_off")
    return target, adapter


def in_step(rt: Runtime, state: str, statuses: Mapping[str, str]) -> bool:
    """Does every synced tracker's status (target -> status, as its link knows it) stand for `state`? A record
    whose status is not known, or that was deleted, holds nothing back; targets without `sync:` never drift."""
    for name, status in statuses.items():
        target = rt.mappings.targets.get(name)
        if target is None or status in ("", "(deleted)") or getattr(target.config, "sync", None) is None:
            continue
        adapter = KINDS[target.kind].inbound_adapter()
        if adapter is not None and state not in adapter.states_for(target.config, status):
            return False
    return True


def receive(
    rt: Runtime,
    dispatcher: Dispatcher | None,
    name: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    body: bytes,
) -> tuple[dict[str, Any], int]:
    """A tracker's webhook: verify the raw bytes, parse, apply; 202 when it touched a linked ticket, else 200."""
    target, adapter = sync_target(rt, name)
    adapter.verify(target.config, headers, query, body)
    try:
        inbound = adapter.parse(target.config, headers, body)
    except ValueError as exc:
        raise MalformedJson(str(exc), code="bad_tracker_payload") from None
    except RecursionError:  # msgspec gives up on a document nested thousands deep
        raise nesting_error() from None
    applied = apply_changes(rt, target, adapter, inbound)
    enqueue(dispatcher, applied)
    result = {
        "duplicate": applied.duplicate,
        "tickets": [rt.number(t) for t in applied.linked],
        "changes": applied.notes,
        "executions": applied.outcome.executions,
    }
    return result, 202 if applied.linked or applied.duplicate else 200


def enqueue(dispatcher: Dispatcher | None, applied: Applied) -> None:
    if dispatcher is not None and applied.outcome.queued:
        dispatcher.enqueue(applied.outcome.queued)


def apply_changes(
    rt: Runtime, target: Target, adapter: InboundAdapter, inbound: Inbound, read_at: float | None = None
) -> Applied:
    """Every change of one delivery (or one poll), oldest first, in one transaction. `read_at`: when the
    gateway asked for records read as they are now (poll, reconcile), by its own clock."""
    now = time.time()
    applied = Applied()
    with rt.mirror.transaction() as tx:
        if inbound.delivery_id and not rt.mirror.first_delivery(tx, target.name, inbound.delivery_id, now):
            applied.duplicate = True
            return applied
        for change in sorted(inbound.changes, key=lambda c: c.at):
            _Change(rt, tx, target, adapter, now, applied, read_at).apply(change)
    return applied


class _Change:
    def __init__(
        self,
        rt: Runtime,
        tx: Tx,
        target: Target,
        adapter: InboundAdapter,
        now: float,
        applied: Applied,
        read_at: float | None = None,
    ) -> None:
        self.rt, self.tx, self.target, self.adapter, self.now, self.applied = rt, tx, target, adapter, now, applied
        self.read_at = read_at
        self.config = target.config
        self.origin = target.kind
        self.planner = Planner(rt, tx, now)
        self.flow = f"sync:{target.name}"

    def note(self, ticket: TicketRow, change: RemoteChange, what: str) -> None:
        key = change.external_key or change.external_id
        self.applied.notes.append({"ticket": self.rt.number(ticket.id), "record": key, "result": what})

    def apply(self, change: RemoteChange) -> None:
        mirror = self.rt.mirror
        link = mirror.link_by_external(self.tx, self.target.name, change.external_id)
        if link is not None and self.as_created(link, change):
            if link.ticket_id not in self.applied.linked:
                self.applied.linked.append(link.ticket_id)
            return
        ticket = mirror.ticket(link.ticket_id, self.tx) if link else None
        if link is None or ticket is None:
            return
        if ticket.id not in self.applied.linked:
            self.applied.linked.append(ticket.id)
        if change.current and self.read_at is not None and self.read_at < link.updated_at < self.now:
            # a webhook or the gateway's own action reached the link while the record was being read: what
            # the read says may be older (the tracker's and the gateway's clocks cannot be compared), so it
            # waits for the next read rather than undo that change
            self.note(ticket, change, "changed while it was read: left to the next read")
            return
        by_gateway = bool(change.actor_id) and change.actor_id == self.adapter.own_user(self.config)
        # a record read as it is now names only its last updater: what differs from the link was someone else
        own = by_gateway and not change.current
        name = "someone" if by_gateway else change.actor or change.actor_id or "someone"
        actor = f"{name} ({self.origin})"
        updates: dict[str, str] = {}
        clock: dict[str, float] = {}
        if change.external_key and change.external_key != link.external_key:  # the issue moved project
            updates["external_key"] = change.external_key
            updates["url"] = link.url.replace(link.external_key, change.external_key) if link.external_key else link.url
        if change.deleted:
            updates["remote_status"] = "(deleted)"
            if not own:
                entry = {"target": self.target.name, "key": link.external_key, "origin": self.origin}
                mirror.add_timeline(self.tx, ticket.id, "remote_deleted", actor, entry, self.now)
                self.note(ticket, change, "deleted")
        if change.status is not None and self.fresh(link, change, "status", clock):
            updates["remote_status"] = change.status
            if own:
                self.note(ticket, change, "own change")
            elif change.status != link.remote_status or not (change.current or change.snapshot):
                self.status(ticket, link, change, actor)
                ticket = mirror.ticket(ticket.id, self.tx) or ticket  # moved, or its drift set: read it again
        if change.assignee is not None and self.fresh(link, change, "assignee", clock) and not own:
            self.assignee(ticket, change, actor)
        if change.priority is not None and self.fresh(link, change, "priority", clock):
            updates["remote_priority"] = change.priority
            if not own:
                self.priority(mirror.ticket(ticket.id, self.tx) or ticket, change, actor)
        if change.comment:
            self.comment(mirror.ticket(ticket.id, self.tx) or ticket, change, actor, own)
        if updates or clock:
            mirror.update_link_remote(self.tx, link, self.now, clock, **updates)

    def as_created(self, link: LinkRow, change: RemoteChange) -> bool:
        """A record read as it is now that nobody changed since the gateway created it (revision 0, last
        updated by the gateway) and that says what the link holds: nothing to apply, and every later change
        is newer, so its clock need not be kept either (a poll wrote one per new incident: 5,000 a minute at
        100 anomalies a second, in the worker beside its jobs)."""
        return (
            change.current
            and change.seq == 0
            and not change.deleted
            and not change.comment
            and change.assignee is None
            and change.priority in (None, link.remote_priority)
            and change.status == link.remote_status
            and change.external_key in ("", link.external_key)
            and bool(change.actor_id)
            and change.actor_id == self.adapter.own_user(self.config)
        )

    def fresh(self, link: LinkRow, change: RemoteChange, name: str, clock: dict[str, float]) -> bool:
        """False for a change older than what the link knows of this field (an older one never wins): older by
        the tracker's clock, or within one tick of it by the record's revision (`seq`)."""
        known, known_seq = link.clock().get(name, 0.0), link.clock().get(f"{name}_seq")
        older = bool(change.at) and change.at + change.precision < known and not change.current
        if older or (change.seq is not None and known_seq is not None and change.seq < known_seq):
            self.applied.notes.append({"record": change.external_key, "result": f"older {name} change ignored"})
            return False
        clock[name] = max(change.at or self.now, known) if change.current else change.at or self.now
        if change.seq is not None:
            clock[f"{name}_seq"] = max(change.seq, known_seq or 0)
        return True

    def others(self, ticket: TicketRow) -> list[str]:
        propagate = bool(self.config.sync.propagate)
        return [t for t in ticket.targets if t != self.target.name] if propagate else []

    def status(self, ticket: TicketRow, link: LinkRow, change: RemoteChange, actor: str) -> None:
        remote = change.status or ""
        states = self.adapter.states_for(self.config, remote, change.resolution or "")
        if ticket.state in states:  # the mirror already says so: the states agree
            self.settle(ticket, ticket.state, remote)
            self.note(ticket, change, "in step")
            return
        allowed = self.rt.mappings.lifecycle.allowed(ticket.state)
        ordered = sorted(states, key=lambda s: SHARED_ORDER.index(s) if s in SHARED_ORDER else -1)
        chosen = next((s for s in ordered if s in allowed), None)
        reason = f"{self.target.name} status {remote!r} maps to no ticket state"
        if ordered:
            reason = f"a ticket in {ticket.state} cannot move to {ordered[0]}"
        if chosen is not None:
            try:
                self.planner.move(
                    ticket, chosen, actor=actor, note=f"{remote} in {self.target.name} by {actor}", flow=self.flow,
                    outcome=self.applied.outcome, targets=self.others(ticket), roles=TRACKER_ROLES,
                    origin=self.origin,
                )  # fmt: skip
                self.settle(ticket, chosen, remote)
                self.note(ticket, change, f"moved to {chosen}")
                return
            except (ForbiddenTransition, ForbiddenRole) as exc:
                reason = exc.detail
        data = {"from": ticket.state, "to": chosen or (ordered[0] if ordered else ""), "remote_status": remote}
        data.update(origin=self.origin, target=self.target.name, reason=reason)
        self.rt.mirror.add_timeline(self.tx, ticket.id, "remote_changed", actor, data, self.now)
        self.rt.mirror.set_drift(self.tx, ticket.id, True)
        self.note(ticket, change, "remote_changed")

    def settle(self, ticket: TicketRow, state: str, remote: str) -> None:
        """A drifting ticket stops drifting once every synced tracker agrees with `state`, this one by `remote`
        (its link is written after): one tracker in step leaves another tracker's drift."""
        if not ticket.drift:
            return
        statuses = {link.target: link.remote_status for link in self.rt.mirror.links(ticket.id, self.tx)}
        if in_step(self.rt, state, {**statuses, self.target.name: remote}):
            self.rt.mirror.set_drift(self.tx, ticket.id, False)

    def assignee(self, ticket: TicketRow, change: RemoteChange, actor: str) -> None:
        previous, assignee = ticket.fields.get("assigned_to", ""), change.assignee or ""
        if previous == assignee:
            return
        # a record read as it is now names no actor: the user the gateway put there is not a person's change
        if change.current and assignee == self.rt.mirror.gateway_assignee(
            self.tx, ticket.id, self.target.name, self.origin
        ):
            return
        self.rt.mirror.update_ticket(self.tx, ticket.id, self.now, fields={**ticket.fields, "assigned_to": assignee})
        if assignee:  # taken in the tracker: the response timer stops, as when taken through the gateway
            self.rt.mirror.sla_responded(self.tx, ticket.id, self.now)
        data = {"field": "assigned_to", "from": previous, "to": assignee, "origin": self.origin}
        self.rt.mirror.add_timeline(self.tx, ticket.id, "field_changed", actor, data, self.now)
        self.planner.fire(
            ticket.id, "ticket_assigned", {**data, "assignee": assignee, "actor": actor}, self.applied.outcome
        )
        self.note(ticket, change, f"assigned to {assignee or 'nobody'}")

    def priority(self, ticket: TicketRow, change: RemoteChange, actor: str) -> None:
        canonical = self.adapter.priority_for(self.config, change.priority or "")
        previous = ticket.fields.get("priority", "")
        if not canonical or canonical == previous:
            return
        self.rt.mirror.update_ticket(self.tx, ticket.id, self.now, fields={**ticket.fields, "priority": canonical})
        data = {"field": "priority", "from": previous, "to": canonical, "origin": self.origin}
        self.rt.mirror.add_timeline(self.tx, ticket.id, "field_changed", actor, data, self.now)
        self.note(ticket, change, f"priority {canonical}")

    def comment(self, ticket: TicketRow, change: RemoteChange, actor: str, own: bool) -> None:
        text = (change.comment or "").strip()
        record, author = change.external_id, change.actor_id or change.actor
        # first, so the second copy of a gateway note (pushed, then polled) is not taken for a person's words
        if not self.rt.mirror.first_comment(self.tx, self.target.name, record, author, text, change.at, self.now):
            self.note(ticket, change, "comment already in")  # pushed, then polled (or the other way round)
            return
        echo = self.rt.mirror.posted_comment(self.tx, ticket.id, self.target.name, text, self.now)  # even when own
        if own or echo:
            self.note(ticket, change, "own comment")
            return
        self.planner.comment(
            ticket, text, actor=actor, flow=self.flow, outcome=self.applied.outcome, targets=self.others(ticket),
            origin=self.origin,
        )  # fmt: skip
        self.note(ticket, change, "commented")
