"""msgspec Structs that cross the gateway's boundaries."""

from __future__ import annotations

import typing
from typing import Annotated, Any, Literal

import msgspec

EVENT_TYPES = ("anomaly", "anomaly_status_change")
SEVERITIES = ("critical", "high", "medium", "low", "info")

EventType = Literal["anomaly", "anomaly_status_change"]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
Severity = Literal["critical", "high", "medium", "low", "info"]

# The one list of each: tracker state tables, the lifecycle and the mirror's rows all import these.
TicketState = Literal["New", "In Progress", "On Hold", "Resolved", "Closed", "Canceled"]
TICKET_STATES: tuple[TicketState, ...] = typing.get_args(TicketState)
ExecutionStatus = Literal["queued", "running", "succeeded", "failed", "skipped"]
EXECUTION_STATUSES: tuple[ExecutionStatus, ...] = typing.get_args(ExecutionStatus)
UNFINISHED: tuple[ExecutionStatus, ...] = ("queued", "running")
FINISHED: tuple[ExecutionStatus, ...] = ("succeeded", "failed", "skipped")
ActionName = Literal["create_ticket", "update_ticket_status", "comment", "assign", "notify", "link_back", "webhook"]
# What a notification waits for and reports on ("Needs attention"): actions on the tickets themselves. A link-back
# to the source tool, a webhook or a notification failing is no ticket problem (the execution log names it).
TICKET_ACTIONS: tuple[ActionName, ...] = ("create_ticket", "update_ticket_status", "comment", "assign")
# Ticket events: flow triggers fired by what happens to a mirror ticket (two-way sync, SLA timers).
TicketEventKind = Literal[
    "ticket_opened", "ticket_status_changed", "ticket_comment_added", "ticket_assigned", "sla_breached"
]
TICKET_EVENT_KINDS: tuple[TicketEventKind, ...] = typing.get_args(TicketEventKind)
Origin = Literal["jira", "servicenow", "api", "chat", "console", "anomaly", "gateway"]
ORIGINS: tuple[Origin, ...] = typing.get_args(Origin)
# where a change came from inside the gateway; the timeline names only a tracker origin (the actor says the rest)
OWN_ORIGINS: tuple[Origin, ...] = ("api", "chat", "console", "anomaly", "gateway")


class Event(msgspec.Struct, kw_only=True, omit_defaults=False):
    """The canonical event every source adapter produces (docs/sources.md says what each tool's become)."""

    event_id: NonEmpty
    event_type: EventType
    anomaly_id: NonEmpty
    source: str = ""
    status: str | None = None
    previous_status: str | None = None
    severity: Severity = "medium"
    raw_severity: str | None = None
    title: str = ""
    description: str = ""
    url: str = ""
    datastore: str = ""
    container: str = ""
    field: str = ""
    check: str = ""
    weight: float | None = None
    occurred_at: str | None = None
    tags: list[str] = msgspec.field(default_factory=list)
    attributes: dict[str, Any] = msgspec.field(default_factory=dict)
    raw: Any = None

    @property
    def correlation_key(self) -> str:
        return f"{self.source}:{self.anomaly_id}"

    def template_context(self) -> dict[str, Any]:
        """The event as templates see it (`{{ event.check }}`), without the raw payload."""
        data: dict[str, Any] = msgspec.to_builtins(self)
        data.pop("raw", None)
        data["correlation_key"] = self.correlation_key
        return data


class Ignored(msgspec.Struct, kw_only=True):
    """A part of a delivery that makes no event: a ping, an unknown type, a passing check."""

    reason: str
    event_id: str | None = None
    ping: bool = False  # a connectivity check: answered 200 and not recorded


class Parsed(msgspec.Struct, kw_only=True):
    """What a source adapter makes of one delivery."""

    events: list[Event] = msgspec.field(default_factory=list)
    ignored: list[Ignored] = msgspec.field(default_factory=list)


class TicketFields(msgspec.Struct, kw_only=True):
    """The ten Create Ticket fields, rendered; an empty string means 'not set'."""

    short_description: str = ""
    description: str = ""
    status: str = "New"
    priority: str = ""
    urgency: str = ""
    impact: str = ""
    category: str = ""
    subcategory: str = ""
    assignment_group: str = ""
    assigned_to: str = ""


TICKET_FIELDS: tuple[str, ...] = TicketFields.__struct_fields__
