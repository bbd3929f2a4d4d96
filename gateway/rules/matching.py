"""Which flows an event fires; pure."""

from __future__ import annotations

from gateway.core.models import Event
from gateway.rules.schema import Flow, Mappings, Where


def _one_of(value: str | None, allowed: list[str] | None) -> bool:
    if allowed is None:
        return True
    wanted = {a.lower() for a in allowed}
    return value is not None and value.lower() in wanted


def where_holds(where: Where, event: Event) -> bool:
    """Every key of `where:` must hold (the filters Qualytics' own anomaly triggers offer)."""
    if where.min_weight is not None and (event.weight is None or event.weight < where.min_weight):
        return False
    if where.tags is not None and not set(where.tags) <= set(event.tags):
        return False
    return (
        _one_of(event.severity, where.severity)
        and _one_of(event.datastore, where.datastore)
        and _one_of(event.container, where.container)
        and _one_of(event.check, where.check)
        and _one_of(event.status, where.status)
    )


def matching_flows(mappings: Mappings, event: Event) -> list[Flow]:
    return [
        flow
        for flow in mappings.flows
        if flow.trigger.type == event.event_type
        and (flow.sources is None or event.source in flow.sources)
        and where_holds(flow.trigger.where, event)
    ]


def ticket_event_flows(
    mappings: Mappings, kind: str, status: str | None, origin: str | None, source: str
) -> list[Flow]:
    """Flows a ticket event fires: its kind, `where: {status, origin}` (the new status, who changed it) and the
    flow's `source:` (the ticket's source: a flow about Qualytics tickets is not fired by a catalog ticket)."""
    return [
        flow
        for flow in mappings.flows
        if flow.trigger.type == kind
        and (flow.sources is None or source in flow.sources)
        and _one_of(status, flow.trigger.where.status)
        and _one_of(origin, flow.trigger.where.origin)
    ]
