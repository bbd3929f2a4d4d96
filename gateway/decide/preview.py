"""Dry run: what a payload would become, flow by flow and target by target. No side effects."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import msgspec

from connectors.base import CreateRequest
from connectors.registry import KINDS
from gateway.core.models import Event
from gateway.core.outbound import ConnectorError
from gateway.core.redact import Redactor
from gateway.decide.fields import create_fields, target_status
from gateway.decide.ingest import check_event_count, check_ids, source_config
from gateway.receive.sources import ADAPTERS, Delivery
from gateway.record.runtime import Runtime
from gateway.rules.matching import matching_flows
from gateway.rules.schema import Action, CreateTicket, Flow, Notify, UpdateTicketStatus, Webhook
from gateway.rules.templates import RenderError, ticket_context

PREVIEW_NUMBER = "(new)"


def preview(rt: Runtime, source: str, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    config = source_config(rt, source)
    delivery = Delivery(source=source, headers=headers, body=body, received_at=time.time())
    parsed = ADAPTERS[config.kind].parse(config, delivery)
    check_event_count(parsed, rt.settings.max_events_per_delivery)
    check_ids(parsed)
    redactor = rt.redactor()
    matches: list[dict[str, Any]] = []
    ignored: list[dict[str, Any]] = [{"reason": i.reason} for i in parsed.ignored]
    for event in parsed.events:
        flows = matching_flows(rt.mappings, event)
        if not flows:
            ignored.append({"event_id": event.event_id, "reason": f"no flow matches this {event.event_type} event"})
        for flow in flows:
            actions = [_action(rt, redactor, flow, kind, action, event) for kind, action in flow.actions]
            matches.append({"event_id": event.event_id, "flow": flow.name, "actions": actions})
    return {"events": [msgspec.to_builtins(e) for e in parsed.events], "matches": matches, "ignored": ignored}


def _action(rt: Runtime, redactor: Redactor, flow: Flow, kind: str, action: Action, event: Event) -> dict[str, Any]:
    if isinstance(action, CreateTicket):
        targets = {name: _create(rt, redactor, action, event, name) for name in action.targets}
    elif isinstance(action, UpdateTicketStatus):
        outcome = _status(rt, action, event)
        names = action.targets or _create_targets(rt, event)
        targets = {name: outcome for name in names}
    elif isinstance(action, Notify):
        targets = {name: {"fields": {"kind": rt.mappings.channels[name].kind}} for name in action.channels}
    else:  # its URL and body render at run time, with the ticket: say where it goes (its headers may hold secrets)
        assert isinstance(action, Webhook)
        scheme, host = action.origin
        where = {"method": action.method, "url": f"{scheme}://{host}", "signed": bool(action.secret)}
        targets = {"webhook": {"fields": where}}
    return {"action": kind, "targets": targets}


def _create(rt: Runtime, redactor: Redactor, action: CreateTicket, event: Event, target: str) -> dict[str, Any]:
    entry = rt.mappings.targets[target]
    try:
        fields = create_fields(rt, action, event, target)
        request = CreateRequest(
            number=PREVIEW_NUMBER, correlation_key=event.correlation_key, fields=fields, event=event.template_context()
        )
        connector = KINDS[entry.kind].build(entry.config)
        try:
            return {"fields": connector.preview(request)}
        finally:
            connector.close()
    except RenderError as exc:
        return {"error": f"render: {exc}"}
    except ConnectorError as exc:
        return {"error": redactor(exc.message)}


def _status(rt: Runtime, action: UpdateTicketStatus, event: Event) -> dict[str, Any]:
    context = {"event": event.template_context(), "ticket": ticket_context(PREVIEW_NUMBER)}
    try:
        state, _ = target_status(rt, action, event, context)
    except RenderError as exc:
        return {"error": str(exc)}
    return {"fields": {"status": state}}


def _create_targets(rt: Runtime, event: Event) -> list[str]:
    """The targets a status change would reach: those of the flows that create this event's tickets."""
    names = [t for flow in rt.mappings.flows for _, a in flow.actions if isinstance(a, CreateTicket) for t in a.targets]
    return list(dict.fromkeys(names)) or ["*"]
