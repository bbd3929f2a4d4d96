"""A Jira target's YAML and its checks; imports no client library, so loading mappings stays light."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import ClassVar, Literal
from urllib.parse import urlsplit

import msgspec

from connectors.base import SyncConfig
from gateway.core.models import TICKET_STATES
from gateway.core.redact import Secret
from gateway.core.retry_config import RetryConfig

CANONICAL_RANK: dict[str, int] = dict(zip(TICKET_STATES, (0, 1, 1, 2, 3, 3), strict=True))  # how far along a state is
OFF_ROUTE = ("On Hold", "Canceled")
DEFAULT_PRIORITIES = {"Critical": "Highest", "High": "High", "Medium": "Medium", "Low": "Low"}
DEFAULT_STATUSES = {
    "New": "To Do",
    "In Progress": "In Progress",
    "Resolved": "Done",
    "Closed": "Done",
    "Canceled": "Done",
}
MAPPABLE = ("urgency", "impact", "category", "subcategory", "assignment_group", "assigned_to")
MAX_HOPS = 6


class JiraSync(SyncConfig, forbid_unknown_fields=True, kw_only=True):
    """`sync:` for Jira: webhooks signed with `webhook_secret` (Cloud) or carrying `?token=` (Data Center)."""


class JiraTarget(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A Jira target's YAML (DESIGN.md, 'Jira targets, in detail').

    `priorities` and `statuses` entries override the defaults key by key.
    """

    kind: str = "jira"
    url: str
    user: str = ""
    token: Secret = ""
    project: str
    issue_type: str = "Bug"
    labels: list[str] = msgspec.field(default_factory=list)
    components: list[str] = msgspec.field(default_factory=list)
    fields: dict[str, str] = msgspec.field(default_factory=dict)
    priorities: dict[str, str] = msgspec.field(default_factory=dict)
    statuses: dict[str, str] = msgspec.field(default_factory=dict)
    resolution: str = "Done"
    resolutions: dict[str, str] = msgspec.field(default_factory=dict)
    paths: dict[str, list[str]] = msgspec.field(default_factory=dict)
    deployment: Literal["server", "cloud"] | None = None
    assignee_by: Literal["name", "accountId"] | None = None
    trusted_markup: list[Literal["description", "comment"]] = msgspec.field(default_factory=list)
    api: int = 2  # 3: Cloud's api/3, descriptions and comments as Atlassian Document Format
    issue_write_interval_ms: float = 200.0  # writes to one issue from one process at least this far apart
    timeout: float = 10.0
    retry: RetryConfig = msgspec.field(default_factory=RetryConfig)
    sync: JiraSync | None = None

    STATUS_TABLE: ClassVar[str] = "statuses"
    SUMMARY_LIMIT: ClassVar[int] = 255  # Jira refuses longer summaries; the connector cuts with an ellipsis

    def missing_states(self, states: Iterable[str]) -> list[str]:
        """Ticket states this target cannot move an issue to (no status under statuses:)."""
        return [state for state in states if state not in self.statuses]

    def __post_init__(self) -> None:
        self.priorities = {**DEFAULT_PRIORITIES, **self.priorities}
        self.statuses = {**DEFAULT_STATUSES, **self.statuses}
        for check in (_check_basics, _check_labels, _check_fields, _check_canonical_keys):
            check(self)


def _check_basics(config: JiraTarget) -> None:
    parts = urlsplit(config.url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("url: must be an http(s) URL such as https://example.atlassian.net")
    if parts.username is not None or parts.password is not None:  # they would show in every issue link
        raise ValueError("url: no credentials in the URL; give them as user and token")
    if not config.project.strip():
        raise ValueError("project: must name the Jira project key, e.g. DQ")
    if not config.issue_type.strip():
        raise ValueError("issue_type: must not be empty")
    if not config.token:
        raise ValueError("token: an API token (with user) or a personal access token (without) is required")
    if config.timeout <= 0:
        raise ValueError("timeout: must be a positive number of seconds")
    if not config.resolution.strip():
        raise ValueError("resolution: must not be empty")
    if not 0 <= config.issue_write_interval_ms <= 60_000:
        raise ValueError("issue_write_interval_ms: must be between 0 (no spacing) and 60000 milliseconds")
    if config.api not in (2, 3):
        raise ValueError(f"api: {config.api!r} is not a Jira REST API version the gateway speaks (2 or 3)")
    if config.api == 3 and config.deployment == "server":
        raise ValueError("api: 3 is Jira Cloud's REST API; Server/Data Center has only api 2 (remove api: 3)")
    if config.api == 3 and config.trusted_markup:
        raise ValueError("trusted_markup: api 3 sends Atlassian Document Format, not wiki markup; remove one of them")


def _check_labels(config: JiraTarget) -> None:
    for label in config.labels:
        if not label or " " in label or len(label) > 255:
            raise ValueError(f"labels: {label!r} is not a Jira label (1-255 characters, no spaces)")


def _check_fields(config: JiraTarget) -> None:
    seen: dict[str, str] = {}
    for name, field_id in config.fields.items():
        if name not in MAPPABLE:
            raise ValueError(f"fields.{name}: unknown ticket field (one of {', '.join(MAPPABLE)})")
        if not field_id or not field_id.replace("_", "").isalnum():
            raise ValueError(f"fields.{name}: {field_id!r} is not a Jira field id (e.g. customfield_10101)")
        if field_id in seen and field_id != "components":
            raise ValueError(f"fields.{name}: {field_id} is already used by fields.{seen[field_id]}")
        seen[field_id] = name


def _check_canonical_keys(config: JiraTarget) -> None:
    for key, table in (
        ("statuses", config.statuses),
        ("resolutions", config.resolutions),
        ("paths", config.paths),
    ):
        for status, value in table.items():
            if status not in CANONICAL_RANK:
                raise ValueError(f"{key}.{status}: not a ticket status (one of {', '.join(CANONICAL_RANK)})")
            if not value:
                raise ValueError(f"{key}.{status}: must not be empty")
    for status, route in config.paths.items():
        if len(route) > MAX_HOPS:
            raise ValueError(f"paths.{status}: at most {MAX_HOPS} statuses")
    for name, value in config.priorities.items():
        if not value.strip():
            raise ValueError(f"priorities.{name}: must name a Jira priority")


def correlation_label(correlation_key: str) -> str:
    """The label that finds an anomaly's issue again: short, stable, no spaces."""
    return "dqgw-" + hashlib.sha256(correlation_key.encode()).hexdigest()[:20]
