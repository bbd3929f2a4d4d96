"""ServiceNow back to the gateway: a Business Rule's push (signed), and records the poller reads.

The push body is what docs/sync.md's Business Rule sends: the incident's sys_id, number, state,
sys_updated_on/by, sys_mod_count, and the newest journal entry when that is what changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import msgspec

from connectors.base import Inbound, RemoteChange, verify_proof
from connectors.servicenow.config import STATES, ServiceNowTarget


class _Push(msgspec.Struct, kw_only=True):
    sys_id: str
    number: str = ""
    state: str | None = None
    sys_updated_on: str = ""
    sys_updated_by: str = ""
    sys_mod_count: str = ""
    comment: str = ""
    comment_by: str = ""


class ServiceNowInbound:
    def verify(
        self, config: ServiceNowTarget, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> None:
        verify_proof(config.sync, headers, query, body, "X-Gateway-Signature")

    def parse(self, config: ServiceNowTarget, headers: Mapping[str, str], body: bytes) -> Inbound:
        try:
            push = msgspec.json.decode(body, type=_Push)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ValueError(f"not a ServiceNow push: {exc}") from None
        record = {**msgspec.structs.asdict(push)}
        change = record_change(record)
        change.snapshot = True  # the rule sends the state with every update, changed or not
        if push.comment:
            change.comment, change.actor_id = push.comment, push.comment_by or push.sys_updated_by
            change.actor = change.actor_id
        delivery = f"{push.sys_id}:{push.sys_mod_count}" if push.sys_mod_count else ""
        return Inbound(delivery_id=delivery, changes=[change])

    def states_for(self, config: ServiceNowTarget, status: str, resolution: str = "") -> list[str]:
        """Canonical states a state code stands for: `inbound_statuses`, else the inverse of `states:`."""
        explicit = config.sync.inbound_statuses if config.sync else {}
        if status in explicit:
            return [explicit[status]]
        codes = {**STATES, **config.states}
        return [state for state, code in codes.items() if str(code) == status]

    def priority_for(self, config: ServiceNowTarget, priority: str) -> str:
        return ""  # the instance derives priority; the mirror keeps its own

    def own_user(self, config: ServiceNowTarget) -> str:
        return (config.sync.gateway_user if config.sync else "") or config.user


def record_change(record: Mapping[str, Any], *, current: bool = False) -> RemoteChange:
    """An incident record (as read or pushed) as a change of its state at its update time."""
    state, revision = record.get("state"), str(record.get("sys_mod_count", ""))
    return RemoteChange(
        external_id=str(record.get("sys_id", "")),
        external_key=str(record.get("number", "")),
        at=snow_time(str(record.get("sys_updated_on", ""))),
        precision=1.0,
        seq=int(revision) if revision.isdigit() else None,
        actor=str(record.get("sys_updated_by", "")),
        actor_id=str(record.get("sys_updated_by", "")),
        status=None if state in (None, "") else str(state),
        current=current,
    )


def journal_change(entry: Mapping[str, Any]) -> RemoteChange:
    """A `sys_journal_field` row (work note or comment) as a comment change."""
    author = str(entry.get("sys_created_by", ""))
    return RemoteChange(
        external_id=str(entry.get("element_id", "")),
        at=snow_time(str(entry.get("sys_created_on", ""))),
        precision=1.0,
        actor=author,
        actor_id=author,
        comment=str(entry.get("value", "")),
    )


def snow_time(value: str) -> float:
    """ServiceNow's `2026-01-25 12:00:00` (UTC through the Table API); 0 when absent. fromisoformat, kept to
    that one shape: strptime took a fifth of a poll's time over thousands of records."""
    if len(value) != 19 or value[10] != " ":
        return 0.0
    try:
        return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC).timestamp()
    except ValueError:
        return 0.0


ADAPTER = ServiceNowInbound()
