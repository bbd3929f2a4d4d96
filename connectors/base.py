"""The narrow interface every tracker connector implements, and what crosses it."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import msgspec

from gateway.core.errors import Unauthorized
from gateway.core.models import TICKET_STATES, TicketFields
from gateway.core.redact import Secret
from gateway.receive.security import hmac_hex, same


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
    # True only for an execution's first ever attempt: nothing can exist yet, so the search that keeps
    # retries and re-runs idempotent is skipped (one tracker call less per new ticket)
    first_try: bool = False


class StatusRequest(msgspec.Struct, kw_only=True):
    """Move a linked ticket to a canonical status (New, In Progress, On Hold, Resolved, ...)."""

    number: str
    correlation_key: str
    status: str
    link: RemoteTicket
    note: str = ""
    event: dict[str, Any] = msgspec.field(default_factory=dict)
    # the note is a comment of its own: as CommentRequest's
    first_try: bool = False
    since: float = 0.0


class CommentRequest(msgspec.Struct, kw_only=True):
    """Add a note to a linked ticket.

    A try after the execution's first (a retry, a re-run) may follow one whose comment landed while its
    answer was lost: it first looks for the same text among the record's recent comments, dated `since`
    or later, and takes one it finds as posted. The first try posts at once (nothing can be there yet).
    """

    number: str
    link: RemoteTicket
    text: str
    first_try: bool = False
    # the earliest tracker time this execution's comment can carry: its creation, less CLOCK_ALLOWANCE_S
    # (the gateway's and the tracker's clocks differ); an equal comment dated earlier is another one's
    since: float = 0.0


CLOCK_ALLOWANCE_S = 300.0  # how far the tracker's clock may be behind the gateway's, for `since`


class AssignRequest(msgspec.Struct, kw_only=True):
    """Give a linked ticket to a tracker user (a user name, or an account id on Jira Cloud)."""

    number: str
    link: RemoteTicket
    assignee: str


class Connector(Protocol):
    """A tracker. Calls raise RetryableError or PermanentError, nothing else.

    `create` is idempotent: it first looks for a ticket carrying the correlation key and
    returns that one instead of making a second. `comment` (and `set_status`'s note) on a retry
    first looks for the same text on the record and does not post it twice.
    """

    def create(self, request: CreateRequest) -> RemoteTicket: ...

    def preview(self, request: CreateRequest) -> dict[str, Any]:
        """The create payload exactly as `create` would send it; sends nothing that changes the tracker."""
        ...

    def set_status(self, request: StatusRequest) -> RemoteTicket: ...

    def comment(self, request: CommentRequest) -> None: ...

    def assign(self, request: AssignRequest) -> RemoteTicket: ...

    def close(self) -> None: ...


@runtime_checkable
class EditsComments(Protocol):
    """A tracker whose comments can be edited (Jira): posting gives the comment's id, edits go by it."""

    def post_comment(self, request: CommentRequest) -> str: ...

    def edit_comment(self, request: CommentRequest, comment_id: str) -> None: ...


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


# -- two-way sync: what comes back from a tracker ------------------------------------------


class SyncConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A target's `sync:` block (DESIGN.md, 'Two-way sync'); trackers extend it in their config module."""

    webhook_secret: Secret = ""
    webhook_token: Secret = ""
    reconcile_interval: float = 900.0
    propagate: bool = True
    inbound_statuses: dict[str, str] = msgspec.field(default_factory=dict)
    gateway_user: str = ""  # the gateway's own tracker user, when `user` does not name it (a token)

    def __post_init__(self) -> None:
        if self.reconcile_interval < 0:
            raise ValueError("sync.reconcile_interval: seconds, 0 (off) or more")
        for status, state in self.inbound_statuses.items():
            if state not in TICKET_STATES:
                raise ValueError(f"sync.inbound_statuses.{status}: {state!r} is not a ticket state")


def verify_proof(
    sync: SyncConfig | None, headers: Mapping[str, str], query: Mapping[str, str], body: bytes, header: str
) -> None:
    """A tracker's delivery: `header` carries `sha256=<HMAC of the body>` under `webhook_secret`, or the
    URL carries `?token=` equal to `webhook_token` (for senders that cannot sign); compared in constant time."""
    if sync is None or not (sync.webhook_secret or sync.webhook_token):
        raise Unauthorized("this target has no sync.webhook_secret or sync.webhook_token", code="sync_not_armed")
    signature = headers.get(header.lower(), "")
    if sync.webhook_secret and signature:
        if not same(signature.strip(), "sha256=" + hmac_hex(sync.webhook_secret, body)):
            raise Unauthorized(f"{header} does not match the body", code="bad_signature")
        return
    token = query.get("token", "")
    if sync.webhook_token and token:
        if not same(token, sync.webhook_token):
            raise Unauthorized("?token= does not match", code="bad_signature")
        return
    raise Unauthorized(f"missing {header if sync.webhook_secret else '?token='}", code="missing_signature")


class RemoteChange(msgspec.Struct, kw_only=True):
    """One change a tracker reports on one record, as the gateway reads it (None: that field did not change)."""

    external_id: str
    external_key: str = ""
    at: float  # the tracker's time of the change, epoch seconds
    precision: float = 0.0  # the tracker clock's resolution (ServiceNow keeps whole seconds)
    seq: int | None = None  # the record's revision (ServiceNow's sys_mod_count): orders changes within one tick
    actor: str = ""  # display name
    actor_id: str = ""  # the tracker's user name or account id, to recognise the gateway's own user
    status: str | None = None
    resolution: str | None = None  # Jira: the resolution with its status (which of Done's states)
    assignee: str | None = None
    priority: str | None = None
    comment: str | None = None
    deleted: bool = False
    current: bool = False  # read from the record itself (poll, reconcile), not a delivered event
    # `status` is the record's state at `at`, sent whether it changed or not (a ServiceNow push): a move
    # only where it differs from what the link knows, so a comment's push with a stale state moves nothing
    snapshot: bool = False


class Inbound(msgspec.Struct, kw_only=True):
    """A tracker delivery, verified and parsed: its dedupe id (if the tracker gives one) and its changes."""

    delivery_id: str = ""
    changes: list[RemoteChange] = msgspec.field(default_factory=list)


class InboundAdapter(Protocol):
    """A tracker's webhook: verify the raw bytes (raise Unauthorized), then parse (raise ValueError)."""

    def verify(self, config: Any, headers: Mapping[str, str], query: Mapping[str, str], body: bytes) -> None: ...

    def parse(self, config: Any, headers: Mapping[str, str], body: bytes) -> Inbound: ...

    def states_for(self, config: Any, status: str, resolution: str = "") -> list[str]:
        """The canonical states a tracker status stands for (several when they share one), in map order;
        a `resolution` that names one of them (Jira's `resolutions:`) narrows them to it."""
        ...

    def priority_for(self, config: Any, priority: str) -> str:
        """The canonical priority of a tracker priority ('' when none maps)."""
        ...

    def own_user(self, config: Any) -> str:
        """The gateway's own tracker user: what it does there never comes back."""
        ...


class Readable(Protocol):
    """A connector the reconcile pass (and a poller) can ask for a record's current state."""

    def read_state(self, link: RemoteTicket) -> RemoteChange: ...


_JOINER = "\u200d"  # zero-width joiner: the characters either side of it are one emoji


def _joins_previous(char: str) -> bool:
    """Is this character part of the one before it (a combining accent, a variation selector, a skin tone)?"""
    return unicodedata.category(char).startswith("M") or char == _JOINER or "\U0001f3fb" <= char <= "\U0001f3ff"


def cut(text: str, limit: int) -> str:
    """`text` in at most `limit` characters: a longer one ends with an ellipsis after a whole character (a letter
    keeps its accent, an emoji sequence is kept or left out whole) and no trailing blank."""
    if len(text) <= limit:
        return text
    end = limit - 1
    while end > 0 and (_joins_previous(text[end]) or text[end - 1] == _JOINER):
        end -= 1
    return text[:end].rstrip() + "\u2026"
