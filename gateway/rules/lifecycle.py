"""The ticket state machine and the anomaly-status -> ticket-status policy."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

import msgspec

from gateway.core.errors import ForbiddenRole, ForbiddenTransition
from gateway.core.models import TICKET_STATES
from gateway.rules.sla import DEFAULT_SLA, SlaTarget, parse_duration

Role = Literal["assignee", "requester", "any"]
ANOMALY_ROLES = frozenset({"requester"})  # moves an anomaly asks for act as the ticket's requester

STATES = TICKET_STATES  # the one list, from core.models
OPEN_STATES = frozenset({"New", "In Progress", "On Hold"})

DEFAULT_TRANSITIONS: dict[str, list[str]] = {
    "New": ["In Progress", "On Hold", "Resolved", "Canceled"],
    "In Progress": ["On Hold", "Resolved", "Canceled"],
    "On Hold": ["In Progress", "Resolved", "Canceled"],
    "Resolved": ["Closed", "In Progress"],
    "Closed": [],
    "Canceled": [],
}

DEFAULT_ANOMALY_POLICY: dict[str, str] = {
    "Active": "New",
    "Acknowledged": "In Progress",
    "Resolved": "Resolved",
    "Invalid": "Canceled",
    "Duplicate": "Canceled",
}

_ALIASES = {"cancelled": "Canceled", "done": "Resolved", "onhold": "On Hold", "inprogress": "In Progress"}


@lru_cache(maxsize=512)  # names come from a few templates and commands: each delivery asked it twice or more
def canonical_state(name: str) -> str | None:
    """Forgiving state names: 'in progress', 'in_progress', 'IN-PROGRESS' -> 'In Progress'."""
    key = re.sub(r"[\s_\-]+", "", name.strip().lower())
    for state in STATES:
        if state.replace(" ", "").lower() == key:
            return state
    return _ALIASES.get(key)


class TransitionRule(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`{from: Resolved, to: Closed, role: requester}`: one allowed move and who may make it."""

    from_: str = msgspec.field(name="from")
    to: str
    role: Role = "any"


class LifecycleConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The `lifecycle:` block of the mappings (transitions as a map, or as a list of rules with roles)."""

    transitions: dict[str, list[str]] | list[TransitionRule] | None = None
    reopen_window: str = "24h"
    anomaly_status: dict[str, str] | None = None
    sla: dict[str, SlaTarget] | None = None  # per priority; merged over DEFAULT_SLA


class Lifecycle:
    """Which moves are allowed, and what an anomaly's status asks of its ticket."""

    def __init__(self, config: LifecycleConfig | None = None) -> None:
        config = config or LifecycleConfig()
        self.roles: dict[tuple[str, str], set[str]] = {}
        self.transitions: dict[str, list[str]]
        if isinstance(config.transitions, list):
            self.transitions = {state: [] for state in STATES}
            for rule in config.transitions:
                if rule.to not in self.transitions.setdefault(rule.from_, []):
                    self.transitions[rule.from_].append(rule.to)
                self.roles.setdefault((rule.from_, rule.to), set()).add(rule.role)
        else:
            self.transitions = {k: list(v) for k, v in (config.transitions or DEFAULT_TRANSITIONS).items()}
        self.reopen_window_s = parse_duration(config.reopen_window)
        self.anomaly_policy = dict(DEFAULT_ANOMALY_POLICY)
        self.anomaly_policy.update(config.anomaly_status or {})
        self.sla = {**DEFAULT_SLA, **(config.sla or {})}

    def allowed(self, current: str) -> list[str]:
        return self.transitions.get(current, [])

    def movable(self) -> tuple[str, ...]:
        """States a ticket can still leave (a Resolved ticket may be reopened or closed): what sync watches."""
        return tuple(state for state in STATES if self.allowed(state))

    def check_move(self, current: str, target: str, roles: frozenset[str] = ANOMALY_ROLES) -> None:
        """409 when the move is not declared; 403 naming the role when `roles` (the mover's) lack it."""
        if target not in self.allowed(current):
            allowed = ", ".join(self.allowed(current)) or "nothing (final state)"
            raise ForbiddenTransition(f"a ticket in {current} cannot move to {target}; allowed: {allowed}")
        needed = self.roles.get((current, target), {"any"})
        if "any" not in needed and not needed & roles:
            who = " or the ".join(sorted(needed))
            raise ForbiddenRole(f"only the {who} may move a ticket from {current} to {target} (role: {who})")

    def status_for_anomaly(self, anomaly_status: str | None) -> str | None:
        if anomaly_status is None:
            return None
        for name, state in self.anomaly_policy.items():
            if name.lower() == anomaly_status.strip().lower():
                return state
        return None

    @staticmethod
    def is_open(state: str) -> bool:
        return state in OPEN_STATES
