"""What a flow's actions render to for one event: a create's ten fields, a status change's target state."""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.core.models import Event, TicketFields
from gateway.record.runtime import Runtime
from gateway.rules.lifecycle import canonical_state
from gateway.rules.schema import CreateTicket, UpdateTicketStatus
from gateway.rules.templates import RenderError, render_fields


def create_fields(
    rt: Runtime, action: CreateTicket, event: Event, target: str | None = None, base: TicketFields | None = None
) -> TicketFields:
    """A create_ticket's ten fields for the event (and target); the status must name a ticket state.
    `base`: this action's fields without a target, rendered before (a target renders its overrides only)."""
    fields = render_fields(rt.mappings.templates, action, event, target, base=base)
    state = canonical_state(fields.status)
    if state is None:
        raise RenderError(f"status: {fields.status!r} is not a ticket state")
    fields.status = state
    return fields


def target_status(rt: Runtime, action: UpdateTicketStatus, event: Event, context: dict[str, Any]) -> tuple[str, str]:
    """The ticket state an update_ticket_status asks for (its template, else the anomaly policy) and its note."""
    templates = rt.mappings.templates
    try:
        wanted = (
            templates.render(action.target_status, context)
            if action.target_status
            else rt.mappings.lifecycle.status_for_anomaly(event.status) or ""
        )
        note = templates.render(action.note, context)
    except RenderError as exc:
        raise RenderError(f"render: {exc}") from None
    state = canonical_state(wanted)
    if state is None:
        raise RenderError(f"anomaly status {event.status!r} maps to {wanted!r}, which is no ticket state")
    return state, note


def target_fields(
    rt: Runtime, action: CreateTicket, event: Event, target: str, state: str, base: TicketFields | None = None
) -> dict[str, Any]:
    """One target's fields (per_target applied), created in the ticket's own initial state."""
    if base is not None and target not in action.per_target:
        fields = base  # nothing of its own to render: the ticket's fields
    else:
        fields = create_fields(rt, action, event, target, base)
    built: dict[str, Any] = msgspec.to_builtins(fields)
    built["status"] = state
    return built
