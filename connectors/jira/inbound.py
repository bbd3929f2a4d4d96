"""Jira's webhooks for two-way sync: verified on the raw bytes, then read into RemoteChanges.

Cloud signs admin webhooks with `X-Hub-Signature: sha256=<hex HMAC-SHA256(body)>`; Data Center
signs nothing, so the URL carries `?token=`. `X-Atlassian-Webhook-Identifier` stays the same
across Jira's retries of one delivery, so it is the dedupe key.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from connectors.base import Inbound, RemoteChange, RemoteTicket, verify_proof
from connectors.jira.config import JiraTarget

CANCELED_RESOLUTION = "Won't Do"  # Jira's own resolution for work not done, when `resolutions:` names none


class _User(msgspec.Struct, kw_only=True):
    name: str = ""
    accountId: str = ""
    displayName: str = ""


class _Item(msgspec.Struct, kw_only=True):
    field: str = ""
    to: str | None = None
    toString: str | None = None


class _Changelog(msgspec.Struct, kw_only=True):
    items: list[_Item] = msgspec.field(default_factory=list)


class _Named(msgspec.Struct, kw_only=True):
    name: str = ""


class _IssueFields(msgspec.Struct, kw_only=True):
    resolution: _Named | None = None


class _Issue(msgspec.Struct, kw_only=True):
    id: str
    key: str = ""
    fields: _IssueFields | None = None


class _Comment(msgspec.Struct, kw_only=True):
    id: str = ""
    body: Any = ""
    author: _User | None = None


class _Delivery(msgspec.Struct, kw_only=True):
    webhookEvent: str
    timestamp: float | None = None
    user: _User | None = None
    issue: _Issue | None = None
    changelog: _Changelog | None = None
    comment: _Comment | None = None


class JiraInbound:
    def verify(self, config: JiraTarget, headers: Mapping[str, str], query: Mapping[str, str], body: bytes) -> None:
        verify_proof(config.sync, headers, query, body, "X-Hub-Signature")

    def parse(self, config: JiraTarget, headers: Mapping[str, str], body: bytes) -> Inbound:
        try:
            delivery = msgspec.json.decode(body, type=_Delivery)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ValueError(f"not a Jira webhook: {exc}") from None
        inbound = Inbound(delivery_id=headers.get("x-atlassian-webhook-identifier", ""))
        if delivery.issue is None:
            return inbound
        at = (delivery.timestamp or 0.0) / 1000.0
        who = delivery.user
        change = RemoteChange(
            external_id=delivery.issue.id,
            external_key=delivery.issue.key,
            at=at,
            actor=_name(who),
            actor_id=_user_id(who),
        )
        event = delivery.webhookEvent
        if event == "jira:issue_deleted":
            change.deleted = True
        elif event == "comment_created" and delivery.comment is not None:
            author = delivery.comment.author or who
            change.actor, change.actor_id = _name(author), _user_id(author)
            change.comment = _text(delivery.comment.body)
        elif event == "jira:issue_updated" and delivery.changelog is not None:
            for item in delivery.changelog.items:
                if item.field == "status":
                    change.status = item.toString or ""
                elif item.field == "resolution":
                    change.resolution = item.toString or ""
                elif item.field == "assignee":
                    change.assignee = item.to or ""
                elif item.field == "priority":
                    change.priority = item.toString or ""
            if change.status is not None and change.resolution is None:  # no item: the issue says it
                fields = delivery.issue.fields
                change.resolution = fields.resolution.name if fields and fields.resolution else ""
        else:
            return inbound
        if change.deleted or change.comment or (change.status, change.assignee, change.priority) != (None,) * 3:
            inbound.changes.append(change)
        return inbound

    def states_for(self, config: JiraTarget, status: str, resolution: str = "") -> list[str]:
        """Canonical states a Jira status stands for: `inbound_statuses`, else the inverse of `statuses:`.
        Where several share the status (Done), a resolution that `resolutions:` gives one of them (Canceled:
        "Won't Do" unless configured) picks it: an issue done as Won't Do is canceled, not resolved."""
        wanted = status.casefold()
        explicit = config.sync.inbound_statuses if config.sync else {}
        found = [state for name, state in explicit.items() if name.casefold() == wanted]
        found = found or [state for state, name in config.statuses.items() if name.casefold() == wanted]
        named = {"Canceled": CANCELED_RESOLUTION, **config.resolutions}
        picked = [state for state in found if resolution and named.get(state, "").casefold() == resolution.casefold()]
        return picked or found

    def priority_for(self, config: JiraTarget, priority: str) -> str:
        return next((name for name, jira in config.priorities.items() if jira == priority), "")

    def own_user(self, config: JiraTarget) -> str:
        return (config.sync.gateway_user if config.sync else "") or config.user


def read_state(issue: dict[str, Any], link: RemoteTicket) -> RemoteChange:
    """An issue as it is now (the reconcile pass), as a change of everything at the issue's update time."""
    fields = issue.get("fields") or {}
    assignee = fields.get("assignee") or {}
    return RemoteChange(
        external_id=str(issue.get("id", link.external_id)),
        external_key=str(issue.get("key", link.external_key)),
        at=_jira_time(fields.get("updated")),
        precision=1.0,
        status=str((fields.get("status") or {}).get("name", "")),
        resolution=str((fields.get("resolution") or {}).get("name", "")),
        assignee=str(assignee.get("accountId") or assignee.get("name") or ""),
        priority=str((fields.get("priority") or {}).get("name", "")) or None,
        current=True,
    )


def _jira_time(value: Any) -> float:
    """Jira's `2026-01-25T12:00:00.000+0000`; 0 when absent (then the reading counts as current)."""
    if not value:
        return 0.0
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    except ValueError:
        return 0.0


def _name(user: _User | None) -> str:
    return "" if user is None else user.displayName or user.name or user.accountId


def _user_id(user: _User | None) -> str:
    return "" if user is None else user.name or user.accountId


def _text(body: Any) -> str:
    """Comment bodies are text on api/2 and Atlassian Document Format on api/3: the text nodes, joined."""
    if isinstance(body, str):
        return body.strip()
    parts: list[str] = []
    todo = [body]  # a stack, not recursion: a document nested thousands deep is still text
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            if node.get("type") == "text":
                parts.append(str(node.get("text", "")))
            content = node.get("content")
            if isinstance(content, list):
                todo.extend(reversed(content))
    return " ".join(parts).strip()


ADAPTER = JiraInbound()
