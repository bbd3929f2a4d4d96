"""A `kind: servicenow` target's YAML and its checks; imports no client library (no pysnow)."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from typing import ClassVar
from urllib.parse import urlsplit

import jinja2
import msgspec

from connectors.base import SyncConfig
from gateway.core.models import TICKET_STATES
from gateway.core.redact import Secret
from gateway.core.retry_config import RetryConfig
from gateway.core.templating import sandbox

STATES: dict[str, int] = dict(zip(TICKET_STATES, (1, 2, 3, 6, 7, 8), strict=True))  # incident state codes
CLOSING = ("Resolved", "Closed")
URGENCY_IMPACT: dict[str, int] = {"High": 1, "Medium": 2, "Low": 3}
# Chosen so the instance's default lookup derives back the same priority:
# 1/1 -> 1 Critical, 1/2 -> 2 High, 2/2 -> 3 Moderate, 3/3 -> 5 Planning (4 Low on newest releases).
PRIORITY_TO_URGENCY_IMPACT: dict[str, tuple[int, int]] = {
    "Critical": (1, 1),
    "High": (1, 2),
    "Medium": (2, 2),
    "Low": (3, 3),
}
DEFAULT_CLOSE_NOTES = "Resolved by the data-quality gateway ({{ ticket.number }})"
MAX_CORRELATION_ID = 100
# The incident's short_description column: a longer value is not refused, the instance keeps the first 160
# characters (mid-word, mid-character) and drops the rest, so the connector cuts it first.
SHORT_DESCRIPTION_LIMIT = 160
RECORD_FIELDS = ["sys_id", "number", "state", "priority"]
_TABLE = re.compile(r"^[A-Za-z0-9_.-]+$")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_RETRYABLE_STATUS = (408, 429)


@functools.lru_cache(maxsize=64)
def _template(source: str) -> jinja2.Template:
    """Compiled once per source text; config load and the connector share the result."""
    return sandbox(strict=False).from_string(source)


class ServiceNowSync(SyncConfig, forbid_unknown_fields=True, kw_only=True):
    """`sync:` for ServiceNow: polled every `poll_interval` seconds (0: off); a Business Rule may push too."""

    poll_interval: float = 60.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.poll_interval < 0:
            raise ValueError("sync.poll_interval: seconds, 0 (off) or more")


class ServiceNowTarget(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A `kind: servicenow` target; keys as in DESIGN.md's mapping example.

    `urgency_impact` turns the canonical High/Medium/Low into the instance's 1/2/3;
    `priority_to_urgency_impact` is used when a mapping gives only a priority. `close_codes`
    overrides `close_code` per canonical status; a `Canceled` entry makes cancelling send a
    close code and notes too (instances that want them on cancel).
    """

    # Templates the loader checks as flows' are: field -> what `ticket` holds when it renders (`event` too).
    TICKET_TEMPLATES: ClassVar[dict[str, tuple[str, ...]]] = {"close_notes": ("number", "status", "note")}
    SUMMARY_LIMIT: ClassVar[int] = SHORT_DESCRIPTION_LIMIT  # `gateway check` warns of a template that can pass it

    kind: str = "servicenow"
    url: str
    user: str
    password: Secret
    table: str = "incident"
    timeout: float = 10.0
    caller: str = ""
    close_code: str = "Solution provided"
    close_codes: dict[str, str] = msgspec.field(default_factory=dict)
    close_notes: str = DEFAULT_CLOSE_NOTES
    hold_reason: int | str = 1
    states: dict[str, int] = msgspec.field(default_factory=dict)
    urgency_impact: dict[str, int] = msgspec.field(default_factory=lambda: dict(URGENCY_IMPACT))
    priority_to_urgency_impact: dict[str, tuple[int, int]] = msgspec.field(
        default_factory=lambda: dict(PRIORITY_TO_URGENCY_IMPACT)
    )
    retry: RetryConfig = msgspec.field(default_factory=RetryConfig)
    sync: ServiceNowSync | None = None

    def status_label(self, remote: str) -> str:
        """ServiceNow reports state codes ("6"); people read names: `states:` over the defaults."""
        names = {str(code): name for name, code in {**STATES, **self.states}.items()}
        return names.get(remote, remote)

    def __post_init__(self) -> None:
        _check_url(self.url)
        for key in ("user", "password", "close_code"):
            if not str(getattr(self, key)).strip():
                raise ValueError(f"{key} must not be empty")
        if not _TABLE.match(self.table):
            raise ValueError(f"table: {self.table!r} is not a table name")
        if self.timeout <= 0:
            raise ValueError("timeout must be positive seconds")
        if not str(self.hold_reason).strip():
            raise ValueError("hold_reason must not be empty")
        _check_statuses("states", self.states)
        _check_statuses("close_codes", self.close_codes)
        _check_codes("states", self.states)
        _check_codes("urgency_impact", self.urgency_impact)
        for name, pair in self.priority_to_urgency_impact.items():
            _check_codes(f"priority_to_urgency_impact.{name}", dict(zip(("urgency", "impact"), pair, strict=True)))
        try:
            _template(self.close_notes)
        except jinja2.TemplateSyntaxError as exc:
            raise ValueError(f"close_notes: template does not compile: {exc.message}") from None

    @property
    def instance_url(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"url: {url!r} is not an https:// instance URL")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise ValueError("url: plain http is only for a loopback emulator; use https://")
    if parts.path not in ("", "/") or parts.query or parts.username:
        raise ValueError("url: give the instance's base URL only (no path, query or credentials)")


def _check_statuses(key: str, table: Mapping[str, object]) -> None:
    unknown = sorted(set(table) - set(STATES))
    if unknown:
        raise ValueError(f"{key}: unknown canonical status {unknown[0]!r} (known: {', '.join(STATES)})")


def _check_codes(key: str, table: Mapping[str, int]) -> None:
    for name, code in table.items():
        if isinstance(code, bool) or code < 1:
            raise ValueError(f"{key}.{name}: {code!r} is not a positive code")


def correlation_id(key: str) -> str:
    """The key as stored in `correlation_id`: kept when it fits, else a deterministic hash.

    Keys over 100 characters or holding `^` (the encoded-query separator) keep a readable
    prefix and end with the key's SHA-256, so the same key always finds the same incident.
    """
    if len(key) <= MAX_CORRELATION_ID and "^" not in key and "\n" not in key:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    prefix = re.sub(r"[\^\n]", "_", key)[: MAX_CORRELATION_ID - len(digest) - 1]
    return f"{prefix}#{digest}"
