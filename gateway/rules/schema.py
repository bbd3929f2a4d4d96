"""The shape of the mappings once loaded: flows, actions, channels, targets, catalog, chat-ops."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import msgspec

from gateway.core.models import TICKET_EVENT_KINDS, TicketEventKind, TicketFields
from gateway.core.redact import Secret, secret_values
from gateway.core.retry_config import RetryConfig
from gateway.receive.sources import SourceConfig
from gateway.rules.channels import ChannelConfig
from gateway.rules.lifecycle import Lifecycle
from gateway.rules.sla import SlaTarget
from gateway.rules.templates import Templates

TriggerType = Literal["anomaly", "anomaly_status_change", "manual", "scheduled"] | TicketEventKind
TICKETING_TRIGGERS = ("anomaly", "anomaly_status_change")
TICKET_TRIGGERS: tuple[str, ...] = TICKET_EVENT_KINDS
TERMINAL_ACTIONS = ("notify", "webhook")  # what may follow a ticket event: nothing that changes a ticket


class Where(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    severity: list[str] | None = None
    datastore: list[str] | None = None
    container: list[str] | None = None
    check: list[str] | None = None
    status: list[str] | None = None
    tags: list[str] | None = None
    min_weight: float | None = None
    origin: list[str] | None = None  # ticket events: who made the change (jira, servicenow, api, chat, anomaly)


class Trigger(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    type: TriggerType
    where: Where = msgspec.field(default_factory=Where)


ResolveWhen = Literal["all", "any"]


class CreateTicket(TicketFields, forbid_unknown_fields=True, kw_only=True):
    """The ten Create Ticket fields as templates, the targets, per-target overrides, and grouping."""

    targets: list[str]
    per_target: dict[str, dict[str, str]] = msgspec.field(default_factory=dict)
    group_by: str = ""  # a template: anomalies whose key renders the same share the group's open ticket
    resolve_when: ResolveWhen | None = None  # default `all` for grouped tickets


class UpdateTicketStatus(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    target_status: str = ""
    targets: list[str] | None = None
    note: str = ""


class Notify(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    channels: list[str]
    wait: float | None = None


class Webhook(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An HTTP call to a URL the mappings name, signed per Standard Webhooks when `secret` is set."""

    url: str
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    headers: dict[str, Secret] = msgspec.field(default_factory=dict)
    body: str = ""  # a template; empty sends the ticket and the change as JSON
    secret: Secret = ""
    timeout: float = 10.0

    def __post_init__(self) -> None:
        static = urlsplit(self.url.split("{", 1)[0])
        if static.scheme not in ("http", "https") or not static.netloc or "{" in self.url.split("/")[2]:
            raise ValueError("url: must be an http(s) URL whose scheme and host are written out (no template there)")
        if static.username is not None or static.password is not None:  # they would show in records and pages
            raise ValueError("url: no credentials in the URL; send them as a header (headers: {Authorization: ...})")
        if self.timeout <= 0:
            raise ValueError("timeout: must be positive seconds")

    @property
    def origin(self) -> tuple[str, str]:
        parts = urlsplit(self.url)
        return parts.scheme, parts.netloc

    def keeps_to(self, rendered: str) -> bool:
        """A rendered URL stays where the mappings point: same scheme and host, the written-out start of
        the URL kept, and no `.`/`..` segment (a payload's `../../admin` would climb out of the path)."""
        parts, static = urlsplit(rendered), self.url.split("{", 1)[0]
        segments = unquote(parts.path).replace("\\", "/").split("/")
        climbs = any(segment in (".", "..") for segment in segments)
        return (parts.scheme, parts.netloc) == self.origin and rendered.startswith(static) and not climbs


Action = CreateTicket | UpdateTicketStatus | Notify | Webhook
ACTION_TYPES: dict[str, type[CreateTicket] | type[UpdateTicketStatus] | type[Notify] | type[Webhook]] = {
    "create_ticket": CreateTicket,
    "update_ticket_status": UpdateTicketStatus,
    "notify": Notify,
    "webhook": Webhook,
}


@dataclass
class Flow:
    name: str
    file: str
    sources: list[str] | None
    trigger: Trigger
    actions: list[tuple[str, Action]]
    sla: dict[str, SlaTarget] | None = None  # this flow's tickets' SLA targets, over the lifecycle's


EVERY_TARGET = "*"


class ChatOpsConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The `chatops:` block: the slash command's name, who takes tickets, how long a reply waits.

    `users` maps a chat user id (Slack user id, Teams AAD object id) to their user in each target;
    the older `slack_users` gives one name used in every target."""

    command: str = "/ticket"
    users: dict[str, dict[str, str]] = msgspec.field(default_factory=dict)
    slack_users: dict[str, str] = msgspec.field(default_factory=dict)
    response_wait: float | None = None

    def people(self, chat_id: str) -> dict[str, str]:
        """A chat user's tracker users by target name (EVERY_TARGET: the same name everywhere); {} if unknown."""
        if chat_id in self.users:
            return dict(self.users[chat_id])
        name = self.slack_users.get(chat_id)
        return {EVERY_TARGET: name} if name else {}

    def __post_init__(self) -> None:
        if not re.fullmatch(r"/[a-z0-9_-]+", self.command):
            raise ValueError("command must be a slash command such as /ticket")
        if self.response_wait is not None and self.response_wait < 0:
            raise ValueError("response_wait must be seconds, 0 or more")
        for chat_id, people in self.users.items():
            for target, user in people.items():
                if not user.strip():
                    raise ValueError(f"users.{chat_id}.{target}: must name the user in that target")


OPEN_ALIASES = {"title": "short_description"}
USER_SOURCE = "user"  # the source of tickets people open; no tool may take the name


class CatalogItem(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A ticket people open by name: the ten fields as templates over `form.*`, its targets, what they may set."""

    fields: TicketFields = msgspec.field(default_factory=TicketFields)
    targets: list[str]
    per_target: dict[str, dict[str, str]] = msgspec.field(default_factory=dict)
    open: list[str] = msgspec.field(default_factory=lambda: ["title", "description"])
    label: str = ""

    @property
    def open_fields(self) -> list[str]:
        """The Create Ticket fields a person may set (`title` is short_description)."""
        return list(dict.fromkeys(OPEN_ALIASES.get(name, name) for name in self.open))


@dataclass
class Target:
    name: str
    kind: str
    config: Any

    @property
    def retry(self) -> RetryConfig:
        retry: RetryConfig = self.config.retry
        return retry


@dataclass
class Mappings:
    sources: dict[str, SourceConfig] = field(default_factory=dict)
    targets: dict[str, Target] = field(default_factory=dict)
    channels: dict[str, ChannelConfig] = field(default_factory=dict)
    catalog: dict[str, CatalogItem] = field(default_factory=dict)
    value_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    flows: list[Flow] = field(default_factory=list)
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    chatops: ChatOpsConfig = field(default_factory=ChatOpsConfig)
    templates: Templates = field(default_factory=lambda: Templates({}))
    files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # `gateway check` prints them; they fail nothing
    origins: dict[str, str] = field(default_factory=dict)  # target name -> the file that defines it

    def flow(self, name: str) -> Flow | None:
        return next((f for f in self.flows if f.name == name), None)

    def chat_user_problems(self, defined: Collection[str] | None = None) -> list[tuple[str, str]]:
        """(where, problem) for each target named under chatops.users that is not defined (`defined`: every
        target name the files define, loaded or not; default the loaded targets)."""
        names = self.targets if defined is None else defined
        known = ", ".join(names) or "none"
        return [
            (f"chatops: field users.{chat_id}.{target}", f"no target {target!r}; known: {known}")
            for chat_id, people in self.chatops.users.items()
            for target in people
            if target not in names
        ]

    def secrets(self) -> set[str]:
        """Every value of a config field typed `Secret` (sources, targets, channels, chat-ops), for redaction."""
        configs = [*self.sources.values(), *(t.config for t in self.targets.values()), *self.channels.values()]
        webhooks = [a for flow in self.flows for _, a in flow.actions if isinstance(a, Webhook)]
        return secret_values(*configs, *webhooks, self.chatops)
