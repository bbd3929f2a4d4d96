"""Notification channels by kind: Slack, Teams, e-mail (SMTP) and PagerDuty (Events API v2).

`kind:` picks the Struct (a tagged union), so each kind's fields are checked at load and its
credentials are typed `Secret` (redacted everywhere).
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar

import msgspec

from gateway.core.redact import Secret
from gateway.core.retry_config import CHANNEL_RETRY, RetryConfig

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+")


class _Channel(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, tag_field="kind"):
    kind: ClassVar[str]
    timeout: float = 10.0
    retry: RetryConfig = msgspec.field(default_factory=lambda: CHANNEL_RETRY)


class SlackChannel(_Channel, tag="slack"):
    """An incoming webhook, or a bot token posting chat.postMessage to `channel`."""

    kind: ClassVar[str] = "slack"
    webhook_url: Secret = ""
    bot_token: Secret = ""
    channel: str = ""

    def __post_init__(self) -> None:
        if not (self.webhook_url or (self.bot_token and self.channel)):
            raise ValueError("a slack channel needs webhook_url, or bot_token and channel")


class TeamsChannel(_Channel, tag="teams"):
    kind: ClassVar[str] = "teams"
    webhook_url: Secret = ""

    def __post_init__(self) -> None:
        if not self.webhook_url:
            raise ValueError("a teams channel needs webhook_url")


class SmtpServer(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    host: Annotated[str, msgspec.Meta(min_length=1)]
    port: int = 587
    starttls: bool = True
    user: str = ""
    password: Secret = ""


class EmailChannel(_Channel, tag="email"):
    """A plain-text and HTML mail per notification, sent with the standard library's SMTP client."""

    kind: ClassVar[str] = "email"
    smtp: SmtpServer
    sender: str = msgspec.field(name="from")
    to: list[str]

    def __post_init__(self) -> None:
        for address in [self.sender, *self.to]:
            if not _ADDRESS.fullmatch(address.strip()):
                raise ValueError(f"{address!r} is not an e-mail address")
        if not self.to:
            raise ValueError("an email channel needs at least one address under to")


class PagerDutyChannel(_Channel, tag="pagerduty"):
    """Events API v2: trigger with the ticket's correlation key as dedup_key, resolve with it later."""

    kind: ClassVar[str] = "pagerduty"
    routing_key: Secret
    url: str = PAGERDUTY_EVENTS_URL

    def __post_init__(self) -> None:
        if len(self.routing_key) != 32:
            raise ValueError("routing_key must be the 32-character integration key of an Events API v2 integration")


ChannelConfig = SlackChannel | TeamsChannel | EmailChannel | PagerDutyChannel
