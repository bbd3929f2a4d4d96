"""The narrow interface every tracker connector implements, and what crosses it."""

from __future__ import annotations

from typing import Any, Protocol

import msgspec

from gateway.core.models import TicketFields


class RemoteTicket(msgspec.Struct, kw_only=True):
    """A ticket as the tracker knows it; stored on the mirror ticket's link."""

    external_id: str
    external_key: str = ""
    url: str = ""
    remote_status: str = ""
    remote_priority: str = ""
    notes: list[str] = msgspec.field(default_factory=list)  # what the tracker's limits changed (a cut summary)


class CreateRequest(msgspec.Struct, kw_only=True):
    """Create one ticket; `fields` are already rendered for this target."""

    number: str
    correlation_key: str
    fields: TicketFields
    event: dict[str, Any] = msgspec.field(default_factory=dict)


class StatusRequest(msgspec.Struct, kw_only=True):
    """Move a linked ticket to a canonical status (New, In Progress, On Hold, Resolved, ...)."""

    number: str
    correlation_key: str
    status: str
    link: RemoteTicket
    note: str = ""
    event: dict[str, Any] = msgspec.field(default_factory=dict)


class CommentRequest(msgspec.Struct, kw_only=True):
    """Add a note to a linked ticket."""

    number: str
    link: RemoteTicket
    text: str


class AssignRequest(msgspec.Struct, kw_only=True):
    """Give a linked ticket to a tracker user (a user name, or an account id on Jira Cloud)."""

    number: str
    link: RemoteTicket
    assignee: str


class Connector(Protocol):
    """A tracker. Calls raise RetryableError or PermanentError, nothing else.

    `create` is idempotent: it first looks for a ticket carrying the correlation key and
    returns that one instead of making a second.
    """

    def create(self, request: CreateRequest) -> RemoteTicket: ...

    def preview(self, request: CreateRequest) -> dict[str, Any]:
        """The create payload exactly as `create` would send it; sends nothing that changes the tracker."""
        ...

    def set_status(self, request: StatusRequest) -> RemoteTicket: ...

    def comment(self, request: CommentRequest) -> None: ...

    def assign(self, request: AssignRequest) -> RemoteTicket: ...

    def close(self) -> None: ...


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """One way a target's mapping does not fit the live tracker (`gateway check --live`)."""

    field: str  # the mapping's key, e.g. "priorities.Critical" or "fields.urgency"
    given: str  # what the mapping says
    offers: str  # what the tracker has instead ("" when there is nothing to list)
    problem: str


class LiveReport(msgspec.Struct, kw_only=True):
    """What a tracker's doctor found: problems, and a one-line summary when there are none."""

    findings: list[Finding] = msgspec.field(default_factory=list)
    summary: str = ""


FieldValues = dict[str, set[str]]  # ticket field -> every value the flows can render for a target (when known)
