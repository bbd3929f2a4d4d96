"""Static checks of the mappings against the trackers' status tables, with no network: every state a
ticket can reach must have a status in each target, or a move there fails for good at 3 a.m."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gateway.core.errors import ConfigError
from gateway.core.models import TICKET_FIELDS
from gateway.rules.lifecycle import STATES, canonical_state
from gateway.rules.schema import EVERY_TARGET, CreateTicket, Mappings


def reachable_states(mappings: Mappings) -> list[str]:
    """States a ticket can be in: where creates put it, and every move the lifecycle allows from there
    (the anomaly policy, value maps, chat and the API all move along the lifecycle)."""
    starts: set[str] = set()
    for flow in mappings.flows:
        for _, action in flow.actions:
            if isinstance(action, CreateTicket) and "{" in action.status:
                starts.update(STATES)  # a templated status may render to any state
            elif isinstance(action, CreateTicket):  # a static one that is no state is reported as such
                starts.update(filter(None, [canonical_state(action.status)]))
    seen: set[str] = set()
    todo = sorted(starts or {"New"})
    while todo:
        state = todo.pop()
        if state not in seen:
            seen.add(state)
            todo.extend(mappings.lifecycle.allowed(state))
    return [s for s in STATES if s in seen]


def unmapped_states(mappings: Mappings, origins: Mapping[str, str]) -> list[ConfigError]:
    """One error per target and state it has no status for (targets whose kind maps states explicitly)."""
    errors: list[ConfigError] = []
    states = reachable_states(mappings)
    for name, target in mappings.targets.items():
        missing_states = getattr(target.config, "missing_states", None)
        if missing_states is None:
            continue
        missing: Iterable[str] = missing_states(states)
        for state in missing:
            errors.append(
                ConfigError(
                    origins.get(name, "mappings"),
                    f"targets.{name}: field {target.config.STATUS_TABLE}",
                    f"tickets can reach {state!r} (lifecycle) but this target has no status for it",
                )
            )
    return errors


def unbounded_summaries(mappings: Mappings, origins: Mapping[str, str]) -> list[str]:
    """Warnings for summaries a target's limit may cut: they still go out, cut with an ellipsis."""
    warnings: list[str] = []
    for flow in mappings.flows:
        for index, (_, action) in enumerate(flow.actions):
            if not isinstance(action, CreateTicket):
                continue
            for name in action.targets:
                target = mappings.targets.get(name)
                limit: int | None = getattr(target.config, "SUMMARY_LIMIT", None) if target else None
                if limit is None:
                    continue
                source = action.per_target.get(name, {}).get("short_description", action.short_description)
                longest = mappings.templates.max_length(source)
                if longest is None or longest > limit:
                    found = "cannot be bounded" if longest is None else f"can render {longest} characters"
                    warnings.append(
                        f"{flow.file}: flows.{flow.name}: actions[{index}].short_description for target {name} "
                        f"{found}; {name} allows {limit} ({origins.get(name, 'mappings')}), so longer summaries are "
                        f"cut with an ellipsis (bound it with `| truncate({limit - 5})` or `[:{limit - 5}]`)"
                    )
    return warnings


def field_values(mappings: Mappings, target: str) -> dict[str, set[str]]:
    """Ticket field -> the values the mappings can send `target`, where the templates say (for the live check):
    the flows' creates, the catalog's items (fields people may not change) and the chat-ops people."""
    found: dict[str, set[str]] = {}

    def add(name: str, source: str) -> None:
        values = mappings.templates.possible_values(source)
        found.setdefault(name, set()).update(v for v in values or () if v)

    for flow in mappings.flows:
        for _, action in flow.actions:
            if isinstance(action, CreateTicket) and target in action.targets:
                for name in TICKET_FIELDS:
                    add(name, action.per_target.get(target, {}).get(name, getattr(action, name)))
    for item in mappings.catalog.values():
        if target in item.targets:
            for name in TICKET_FIELDS:
                if name not in item.open_fields:  # what people type is theirs to get right
                    add(name, item.per_target.get(target, {}).get(name, getattr(item.fields, name)))
    chatops = mappings.chatops
    people = [by_target.get(target) or by_target.get(EVERY_TARGET) for by_target in chatops.users.values()]
    found.setdefault("assigned_to", set()).update(p for p in [*people, *chatops.slack_users.values()] if p)
    return found


def never_fired(mappings: Mappings) -> list[str]:
    """Flows under a `manual` or `scheduled` trigger load (the contract names the types) but nothing runs them."""
    return [
        f"{flow.file}: flows.{flow.name}: trigger {flow.trigger.type} never fires: the gateway runs no manual or"
        " scheduled flows yet, only anomaly, anomaly_status_change and ticket-event triggers"
        for flow in mappings.flows
        if flow.trigger.type in ("manual", "scheduled")
    ]


def static_checks(mappings: Mappings, origins: dict[str, str]) -> list[ConfigError]:
    """The load's last checks: errors returned; summary warnings and target origins kept on `mappings`."""
    mappings.origins = origins
    mappings.warnings = unbounded_summaries(mappings, origins) + never_fired(mappings)
    return unmapped_states(mappings, origins)
