"""PagerDuty follows the mirror: a ticket that paged someone is resolved there when it is over,
whichever path moved it (an anomaly, a person in chat or the API, a tracker)."""

from __future__ import annotations

from gateway.record.runtime import Runtime
from gateway.rules.channels import PagerDutyChannel
from gateway.rules.schema import Notify

RESOLVING_STATES = ("Resolved", "Closed", "Canceled")


def pages_to_resolve(rt: Runtime, ticket_id: int, state: str, flow: str) -> list[str]:
    """PagerDuty channels this ticket was sent to, when it moves to `state`, that `flow` will not notify itself."""
    if state not in RESOLVING_STATES:
        return []
    paging = {name for name, channel in rt.mappings.channels.items() if isinstance(channel, PagerDutyChannel)}
    if not paging:
        return []
    found = rt.mappings.flow(flow)
    own = {c for _, a in found.actions if isinstance(a, Notify) for c in a.channels} if found else set()
    sent = {e.target for e in rt.mirror.list_executions(ticket_id=ticket_id, action="notify", limit=10_000)}
    return sorted((sent & paging) - own)
