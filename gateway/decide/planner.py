"""Turn a recorded event into ticket decisions and queued executions, inside one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from gateway.core.models import (
    OWN_ORIGINS,
    ActionName,
    Event,
    ExecutionStatus,
    Origin,
    TicketEventKind,
    TicketFields,
)
from gateway.decide import anomalies, recurrence
from gateway.decide.fields import create_fields, target_fields
from gateway.decide.paging import pages_to_resolve
from gateway.decide.terminal import terminal_actions
from gateway.decide.ticket_events import fire_ticket_event
from gateway.record.anomalies import Unread
from gateway.record.rows import AnomalyRow, ExecutionRow, TicketRow
from gateway.record.runtime import Runtime
from gateway.record.store import Query, Tx, new_id
from gateway.rules.lifecycle import ANOMALY_ROLES
from gateway.rules.matching import matching_flows
from gateway.rules.schema import EVERY_TARGET, CreateTicket, Flow
from gateway.rules.sla import SlaTarget, sla_seconds
from gateway.rules.templates import RenderError

People = Mapping[str, str] | None  # a person's user per target (EVERY_TARGET: in all)


@dataclass
class Outcome:
    """What one event became."""

    event_id: str | None
    duplicate: bool = False
    ignored: str | None = None
    ticket_id: int | None = None
    executions: list[str] = field(default_factory=list)
    queued: list[str] = field(default_factory=list)


@dataclass
class FirstReads:
    """What planning an event asks first: whether it was seen before and, for an anomaly, its look-ahead reads."""

    flows: list[Flow]
    ahead: anomalies.Ahead | None
    queries: list[Query[Any]]
    answers: list[Any] | None = None  # set once asked

    def opens_ticket(self, event: Event) -> bool:
        """Answered: the anomaly will open a ticket (no ticket of its own, none of its group to join)."""
        ahead = self.ahead
        if ahead is None or ahead.error is not None or not ahead.creates or self.answers is None:
            return False
        seen, anomaly, latest = self.answers
        return seen is None and anomaly is None and (ahead.key == event.correlation_key or latest is None)


class Planner:
    def __init__(self, runtime: Runtime, tx: Tx, now: float, *, enqueue: bool = False) -> None:
        """`enqueue`: the caller sends the queued executions' jobs once `tx` commits (the ingress writer),
        so they are written marked as enqueued."""
        self.rt = runtime
        self.mirror = runtime.mirror
        self.tx = tx
        self.now = now
        self.enqueued_at = now if enqueue else None
        self.ticket_ids: list[int] = []  # taken ahead for the tickets this batch opens (`read_ahead`)

    # -- entry ----------------------------------------------------------------------------
    def first_reads(self, event: Event) -> FirstReads:
        """What planning `event` asks first (its keys' locks are sent now, ahead of the reads)."""
        flows = matching_flows(self.rt.mappings, event)
        is_anomaly = bool(flows) and event.event_type == "anomaly"
        ahead, reads = anomalies.look_ahead(self, event, flows) if is_anomaly else (None, [])
        return FirstReads(flows, ahead, [self.mirror.event_seen(event.source, event.event_id), *reads])

    def plan(self, event: Event, first: FirstReads | None = None) -> Outcome:
        """`first`: its first reads, already answered when `read_ahead` asked them with others'."""
        first = first or self.first_reads(event)
        seen, *answers = first.answers or self.mirror.ask_together(self.tx, first.queries)
        if seen is not None:
            return Outcome(event_id=seen, duplicate=True)
        flows, ahead = first.flows, first.ahead
        event_id = new_id()
        outcome = Outcome(event_id=event_id)
        if not flows:
            outcome.ignored = f"no flow matches this {event.event_type} event"
        elif ahead is not None:
            if answers:
                ahead.anomaly, ahead.latest = answers
            self.plan_anomaly(event, ahead, flows, outcome)
        else:
            anomalies.plan_status_change(self, event, flows, outcome)
        self.mirror.add_event(
            self.tx,
            event_id,
            source=event.source,
            source_event_id=event.event_id,
            event_type=event.event_type,
            anomaly_id=event.anomaly_id,
            correlation_key=event.correlation_key,
            payload=msgspec.to_builtins(event),
            now=self.now,
            ticket_id=outcome.ticket_id,
            ignored=outcome.ignored,
        )
        return outcome

    def read_ahead(self, events: list[Event]) -> list[FirstReads | None]:
        """PostgreSQL: the first reads of many events asked in one round trip, and the ids of the tickets they
        will open taken in a second, instead of two round trips an event. An event that shares a key with an
        earlier one, or follows a status change, asks its reads when it is planned: they may depend on what
        the earlier one writes. None: an event left to read everything in its turn."""
        firsts: list[FirstReads | None] = []
        asked: list[tuple[Event, FirstReads]] = []
        seen: set[str] = set()
        with self.mirror.locks_together(self.tx):
            for index, event in enumerate(events):
                first = self.first_reads(event)
                firsts.append(first)
                keys = {event.correlation_key, f"{event.source}\0{event.anomaly_id}"}
                keys |= {first.ahead.key} if first.ahead else set()
                if first.flows and first.ahead is None:  # a status change: what follows it waits its turn
                    firsts.extend(None for _ in events[index + 1 :])
                    break
                if not keys & seen:
                    asked.append((event, first))
                seen |= keys
        if not asked:
            return firsts
        answers = self.mirror.ask_many(self.tx, [query for _, first in asked for query in first.queries])
        for _, first in asked:
            first.answers, answers = answers[: len(first.queries)], answers[len(first.queries) :]
        opening = sum(first.opens_ticket(event) for event, first in asked)
        self.ticket_ids = self.mirror.take_ticket_ids(self.tx, opening) if opening else []
        return firsts

    def execution(
        self,
        outcome: Outcome,
        *,
        flow: str,
        action: ActionName,
        target: str,
        params: dict[str, Any],
        ticket_id: int | None,
        status: ExecutionStatus = "queued",
        error: str | None = None,
    ) -> str:
        execution_id = self.mirror.create_execution(
            self.tx,
            event_id=outcome.event_id,
            ticket_id=ticket_id,
            flow=flow,
            action=action,
            target=target,
            params=params,
            now=self.now,
            status=status,
            error=error,
            error_kind="permanent" if status == "failed" else None,
            enqueued_at=self.enqueued_at if status == "queued" else None,
        )
        outcome.executions.append(execution_id)
        if status == "queued":
            outcome.queued.append(execution_id)
        return execution_id

    def on_targets(
        self,
        outcome: Outcome,
        ticket: TicketRow,
        *,
        flow: str,
        action: ActionName,
        params: dict[str, Any],
        only: list[str] | None = None,
    ) -> None:
        """The same action queued for each of the ticket's targets (or those of `only`)."""
        for target in ticket.targets:
            if only is None or target in only:
                self.execution(outcome, flow=flow, action=action, target=target, params=params, ticket_id=ticket.id)

    # -- anomalies ------------------------------------------------------------------------
    def plan_anomaly(self, event: Event, ahead: anomalies.Ahead, flows: list[Flow], outcome: Outcome) -> None:
        creates, key = ahead.creates, ahead.key
        if ahead.error is not None:
            for create_flow, action in creates:
                for target in action.targets:
                    self.failed_create(outcome, create_flow, target, None, ahead.error)
            return
        ticket = anomalies.ticket_to_join(self, event, ahead)
        known: recurrence.Known | None = None
        if ticket is not None:
            occurrence = anomalies.join(self, ticket, event, ahead, outcome)
            if self.rt.mappings.lifecycle.is_open(ticket.state):
                known = recurrence.Known(ticket, occurrence, f"{event.source}:{event.anomaly_id}")
            else:  # reopened: that is news, so the channels are told as usual
                current = self.mirror.ticket(ticket.id, self.tx) or ticket
                self.move(
                    current,
                    "In Progress",
                    actor=event.source,
                    note="the anomaly recurred",
                    flow=flows[0].name,
                    outcome=outcome,
                )
        elif creates:
            generation = 1 if ahead.latest is None else ahead.latest.generation + 1
            self.open_ticket(event, creates, key, generation, outcome, ahead.anomaly)
        else:
            outcome.ignored = "matching flows have no create_ticket action and the anomaly has no open ticket"
        self.plan_notifications(flows, outcome, known)

    def reopens(self, ticket: TicketRow) -> bool:
        lifecycle = self.rt.mappings.lifecycle
        resolved_at = ticket.resolved_at or ticket.updated_at
        return (
            ticket.state == "Resolved"
            and "In Progress" in lifecycle.allowed("Resolved")
            and self.now - resolved_at <= lifecycle.reopen_window_s
        )

    def recur(self, ticket: TicketRow, event: Event, outcome: Outcome) -> int:
        """The anomaly occurred again on its ticket; returns its occurrence number."""
        occurrences = ticket.occurrences + 1
        self.mirror.update_ticket(self.tx, ticket.id, self.now, occurrences=occurrences)
        self.mirror.add_timeline(
            self.tx,
            ticket.id,
            "recurred",
            event.source,
            {"occurrence": occurrences, "event_id": outcome.event_id, "title": event.title},
            self.now,
        )
        recurrence.plan(self, ticket, event, occurrences, outcome)  # coalesced per target within a minute
        outcome.ticket_id = ticket.id
        return occurrences

    def open_ticket(
        self,
        event: Event,
        creates: list[tuple[Flow, CreateTicket]],
        key: str,
        generation: int,
        outcome: Outcome,
        anomaly: AnomalyRow | None,
    ) -> None:
        """`anomaly`: the anomaly's active row, as read in this transaction."""
        try:
            fields = self.base_fields(creates[0][1], event)
        except RenderError as exc:
            for create_flow, action in creates:
                for target in action.targets:
                    self.failed_create(outcome, create_flow, target, None, exc)
            return
        targets = list(dict.fromkeys(t for _, action in creates for t in action.targets))
        grouped = key != event.correlation_key
        resolve_when = (creates[0][1].resolve_when or "all") if grouped else creates[0][1].resolve_when
        ticket_id = self.new_ticket(
            event,
            fields,
            targets,
            generation,
            key=key,
            resolve_when=resolve_when,
            sla=creates[0][0].sla,
            outcome=outcome,
            anomaly=anomaly,
        )
        outcome.ticket_id = ticket_id
        seen: set[str] = set()
        for create_flow, action in creates:
            for target in (t for t in action.targets if t not in seen):
                seen.add(target)
                try:
                    base = fields if action is creates[0][1] else None  # the ticket's own: rendered above
                    params = {"fields": target_fields(self.rt, action, event, target, fields.status, base)}
                except RenderError as exc:
                    self.failed_create(outcome, create_flow, target, ticket_id, exc)
                    continue
                self.execution(
                    outcome,
                    flow=create_flow.name,
                    action="create_ticket",
                    target=target,
                    params=params,
                    ticket_id=ticket_id,
                )

    def failed_create(
        self, outcome: Outcome, flow: Flow, target: str, ticket_id: int | None, error: RenderError
    ) -> None:
        """A create whose templates failed: failed at once with the reason, retryable after a fix."""
        self.execution(
            outcome,
            flow=flow.name,
            action="create_ticket",
            target=target,
            params={},
            ticket_id=ticket_id,
            status="failed",
            error=f"render: {error}",
        )

    def base_fields(self, action: CreateTicket, event: Event) -> TicketFields:
        """The mirror ticket's fields."""
        return create_fields(self.rt, action, event)

    def new_ticket(
        self,
        event: Event,
        fields: TicketFields,
        targets: list[str],
        generation: int,
        *,
        key: str | None = None,
        resolve_when: str | None = None,
        sla: dict[str, SlaTarget] | None = None,
        outcome: Outcome | None = None,
        anomaly: AnomalyRow | Unread | None = Unread.ROW,
    ) -> int:
        """`anomaly`: the anomaly's active row, when the caller read it in this transaction."""
        ticket = self.mirror.create_ticket(
            self.tx,
            correlation_key=key or event.correlation_key,
            generation=generation,
            state=fields.status,
            source=event.source,
            fields=msgspec.to_builtins(fields),
            targets=targets,
            anomaly_id=event.anomaly_id,
            now=self.now,
            resolve_when=resolve_when,
            ticket_id=self.ticket_ids.pop(0) if self.ticket_ids else None,
        )
        ticket_id = ticket.id
        self.mirror.link_anomaly(
            self.tx,
            ticket_id,
            event.source,
            event.anomaly_id,
            status=event.status or "",
            title=event.title,
            now=self.now,
            previous=anomaly,
        )
        timers = sla_seconds(fields.priority, self.rt.mappings.lifecycle.sla, sla)
        if timers is not None:
            self.mirror.start_sla(self.tx, ticket_id, *timers, self.now)
        self.fire(ticket_id, "ticket_opened", {"origin": "anomaly", "actor": event.source}, outcome, ticket)
        return ticket_id

    def fire(
        self,
        ticket_id: int,
        kind: TicketEventKind,
        data: dict[str, Any],
        outcome: Outcome | None,
        ticket: TicketRow | None = None,
    ) -> None:
        """`ticket`: the row as it is now when the caller has it (a new ticket), else read under lock."""
        ticket = ticket or self.mirror.ticket(ticket_id, self.tx)
        queued = fire_ticket_event(self.rt, self.tx, ticket, kind, data, self.now, self.enqueued_at) if ticket else []
        if outcome is not None:
            outcome.executions, outcome.queued = outcome.executions + queued, outcome.queued + queued

    def skip(
        self, outcome: Outcome, flow: str, ticket_id: int, params: dict[str, Any], reason: str,
        status: ExecutionStatus = "skipped",
    ) -> None:  # fmt: skip
        """A status change that is not made, with the reason in the execution log."""
        action: ActionName = "update_ticket_status"
        self.execution(outcome, flow=flow, action=action, target="*", params=params, ticket_id=ticket_id,
                       status=status, error=reason)  # fmt: skip

    def replan_create(self, execution: ExecutionRow, event: Event) -> None:
        """A create that failed to render, retried (after the mappings were fixed): render it again now."""
        flow = self.rt.mappings.flow(execution.flow)
        actions = [a for _, a in flow.actions if isinstance(a, CreateTicket)] if flow else []
        action = next((a for a in actions if execution.target in a.targets), None)
        if action is None:
            raise RenderError(f"flow {execution.flow!r} no longer creates tickets in {execution.target!r}")
        ticket = (
            self.mirror.ticket(execution.ticket_id, self.tx)
            if execution.ticket_id
            else self.mirror.current_ticket(self.tx, event.correlation_key)
        )
        if ticket is None or (not execution.ticket_id and not self.rt.mappings.lifecycle.is_open(ticket.state)):
            fields = self.base_fields(action, event)
            generation = 1 if ticket is None else ticket.generation + 1
            ticket_id, state = self.new_ticket(event, fields, list(action.targets), generation), fields.status
        else:
            ticket_id, state = ticket.id, self.base_fields(action, event).status
            if execution.target not in ticket.targets:
                self.mirror.update_ticket(self.tx, ticket_id, self.now, targets=[*ticket.targets, execution.target])
        params = {"fields": target_fields(self.rt, action, event, execution.target, state)}
        self.tx.execute(
            "UPDATE executions SET ticket_id = ?, params = ? WHERE id = ?",
            (ticket_id, msgspec.json.encode(params).decode(), execution.id),
        )
        if execution.event_id:
            self.mirror.set_event_outcome(self.tx, execution.event_id, ticket_id=ticket_id)

    # -- status changes -------------------------------------------------------------------
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
        roles: frozenset[str] = ANOMALY_ROLES,
        origin: str = "anomaly",
    ) -> None:
        """Change the mirror's state now and queue the change for every linked target (`roles`: the mover's;
        `origin`: where the move came from, for ticket-event flows)."""
        current = ticket.state
        if current == state:
            self.execution(
                outcome,
                flow=flow,
                action="update_ticket_status",
                target="*",
                params={"status": state},
                ticket_id=ticket.id,
                status="skipped",
                error=f"the ticket is already {state}",
            )
            return
        self.rt.mappings.lifecycle.check_move(current, state, roles)
        changes: dict[str, Any] = {"state": state, "fields": {**ticket.fields, "status": state}}
        if state == "Resolved":
            changes["resolved_at"] = self.now
        self.mirror.update_ticket(self.tx, ticket.id, self.now, **changes)
        self.mirror.sla_moved(self.tx, ticket.id, current, state, self.now)
        shown = "" if origin in OWN_ORIGINS else origin
        data = {k: v for k, v in {"from": current, "to": state, "note": note, "origin": shown}.items() if v}
        self.mirror.add_timeline(self.tx, ticket.id, "status_changed", actor, data, self.now)
        params = {"status": state, "note": note, "actor": actor}
        self.fire(ticket.id, "ticket_status_changed", {**data, **params, "origin": origin}, outcome)
        self.on_targets(outcome, ticket, flow=flow, action="update_ticket_status", params=params, only=targets)
        for channel in pages_to_resolve(self.rt, ticket.id, state, flow):
            due = {"wait_until": self.now}
            self.execution(outcome, flow=flow, action="notify", target=channel, params=due, ticket_id=ticket.id)
        outcome.ticket_id = ticket.id

    def assign(
        self,
        ticket: TicketRow,
        assignee: str,
        *,
        actor: str,
        flow: str,
        outcome: Outcome,
        people: People = None,
        origin: Origin = "api",
        chat_id: str = "",
    ) -> bool:
        """Give the ticket to someone, in the mirror now and in every linked tracker; False when already theirs.

        `people`: their user per target (EVERY_TARGET for all); a linked target without one is not assigned.
        `chat_id`: the chat user taking it, recorded so that their id, not a display name, proves them its assignee."""
        previous = ticket.fields.get("assigned_to", "")
        if previous == assignee:
            return False
        self.mirror.update_ticket(self.tx, ticket.id, self.now, fields={**ticket.fields, "assigned_to": assignee})
        self.mirror.sla_responded(self.tx, ticket.id, self.now)
        change = {"field": "assigned_to", "from": previous, "to": assignee, **({"chat_id": chat_id} if chat_id else {})}
        self.mirror.add_timeline(self.tx, ticket.id, "field_changed", actor, change, self.now)
        event = {**change, "assignee": assignee, "origin": origin, "actor": actor}
        self.fire(ticket.id, "ticket_assigned", event, outcome)
        for target in ticket.targets:
            user = assignee if people is None else people.get(target, people.get(EVERY_TARGET))
            if user:
                params = {"assignee": user}
                self.execution(outcome, flow=flow, action="assign", target=target, params=params, ticket_id=ticket.id)
        return True

    def comment(
        self,
        ticket: TicketRow,
        text: str,
        *,
        actor: str,
        flow: str,
        outcome: Outcome,
        origin: str = "api",
        targets: list[str] | None = None,
    ) -> None:
        """On the timeline now, and to every linked target (`targets`: only these, for a tracker's comment)."""
        shown = "" if origin in OWN_ORIGINS else origin
        data = {k: v for k, v in {"text": text, "origin": shown}.items() if v}
        self.mirror.add_timeline(self.tx, ticket.id, "comment", actor, data, self.now)
        event = {**data, "origin": origin, "actor": actor}
        self.fire(ticket.id, "ticket_comment_added", event, outcome)
        params = {"text": f"{actor}: {text}"}
        self.on_targets(outcome, ticket, flow=flow, action="comment", params=params, only=targets)

    def plan_notifications(self, flows: list[Flow], outcome: Outcome, known: recurrence.Known | None = None) -> None:
        """The flows' notify and webhook actions; `known` when the anomaly occurred again on its open ticket or
        joined it: a channel told about that ticket within the hour is not told again."""
        for flow, name, target, params in terminal_actions(flows, self.now, self.rt.settings.notify_wait_seconds):
            status: ExecutionStatus = "queued"
            reason = None
            if known is not None and name == "notify":
                params = {**params, **known.params()}
                since = self.now - recurrence.NOTICE_INTERVAL_S
                if self.mirror.notified_since(self.tx, known.ticket.id, target, since):
                    status, reason = "skipped", known.quiet_reason(self.rt.number(known.ticket.id), target)
            self.execution(
                outcome, flow=flow, action=name, target=target, params=params, ticket_id=outcome.ticket_id,
                status=status, error=reason,
            )  # fmt: skip
