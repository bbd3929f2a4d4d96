"""Rows as the mirror returns them: frozen, typed, decoded (JSON columns already parsed)."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from gateway.core.models import ActionName, ExecutionStatus, TicketState


class Row(msgspec.Struct, frozen=True, kw_only=True):
    pass


class EventRow(Row, frozen=True, kw_only=True):
    id: str
    source: str
    source_event_id: str
    event_type: str
    anomaly_id: str
    correlation_key: str
    received_at: float
    ticket_id: int | None
    ignored_reason: str | None
    payload: dict[str, Any]


class TicketRow(Row, frozen=True, kw_only=True):
    id: int
    correlation_key: str
    generation: int
    state: TicketState
    source: str
    fields: dict[str, str]
    targets: list[str]
    anomaly_ids: list[str]
    occurrences: int
    created_at: float
    updated_at: float
    resolved_at: float | None
    resolve_when: str | None = None  # grouped tickets: follow anomaly statuses when all (or any) agree
    requester: str = ""  # who opened it by hand (API, chat, console); empty for a tool's anomaly
    drift: bool = False

    @property
    def tracker_key(self) -> str:
        """What finds this ticket's record at a tracker again (Jira label, ServiceNow correlation_id).

        A recurrence after close is a new generation and a new record: from the second generation on
        the key names it, so a retried create never finds and links the closed generation's record.
        """
        return self.correlation_key if self.generation == 1 else f"{self.correlation_key}#{self.generation}"


class AnomalyRow(Row, frozen=True, kw_only=True):
    """One anomaly of a ticket; `active` while it belongs to that ticket (an anomaly has one open ticket)."""

    ticket_id: int
    source: str
    anomaly_id: str
    status: str
    title: str
    active: bool
    first_seen: float
    last_seen: float


class LinkRow(Row, frozen=True, kw_only=True):
    ticket_id: int
    target: str
    external_id: str
    external_key: str
    url: str
    remote_status: str
    remote_priority: str
    updated_at: float
    sync_clock: str = "{}"  # JSON {field: tracker time of the last change known}; decoded only by two-way sync

    def clock(self) -> dict[str, float]:
        known: dict[str, float] = json.loads(self.sync_clock)
        return known


class TimelineRow(Row, frozen=True, kw_only=True):
    at: float
    kind: str
    actor: str
    data: dict[str, Any]


class ExecutionRow(Row, frozen=True, kw_only=True):
    seq: int
    id: str
    event_id: str | None
    ticket_id: int | None
    flow: str
    action: ActionName
    target: str
    status: ExecutionStatus
    params: dict[str, Any]
    result: Any
    error: str | None
    error_kind: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    first_attempt_at: float | None
    lease_until: float | None
    next_attempt_at: float | None
    enqueued_at: float | None
    attempts_base: int
    lease_expiries: int = 0  # in a row, since a run last concluded it (finished or queued it again)


class Claim(msgspec.Struct, frozen=True, kw_only=True):
    """A claimed execution and what its run asks first, read by the claim itself (fewer round trips)."""

    execution: ExecutionRow
    attempts_logged: int
    waits_for: str | None  # "<action> <id>" of an earlier unfinished action on its ticket and target
    event_payload: str | None  # its event's JSON, as recorded (None: no event, or pruned)
    has_link: bool  # its ticket is linked at its target already
    auth_noticed: bool = False  # the channels were told its target refused the credentials, and not told since
    ticket: TicketRow | None = None  # its ticket, read in the claim's round trip


class AttemptRow(Row, frozen=True, kw_only=True):
    number: int
    started_at: float
    duration_ms: int
    outcome: str
    error_kind: str | None
    http_status: int | None
    message: str | None
