"""Load-time checks shared by flows' create_ticket actions and catalog items; each problem is reported
through `fail(file, where, problem)` so a load lists them all."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import msgspec

from gateway.core.models import ORIGINS, TICKET_FIELDS
from gateway.rules.lifecycle import STATES, canonical_state
from gateway.rules.schema import (
    OPEN_ALIASES,
    TERMINAL_ACTIONS,
    TICKET_TRIGGERS,
    TICKETING_TRIGGERS,
    Action,
    CatalogItem,
    Mappings,
    Trigger,
)
from gateway.rules.templates import TemplateProblem

Fail = Callable[[str, str, str], None]


def check_template(fail: Fail, mappings: Mappings, file: str, where: str, source: str, names: tuple[str, ...]) -> None:
    try:
        mappings.templates.check(source, names)
    except TemplateProblem as exc:
        fail(file, where, str(exc))


def check_state_template(fail: Fail, mappings: Mappings, file: str, where: str, source: str) -> None:
    """A template that gives a ticket's state: a static value must be a state, and so must every output of a
    value map it prints (else the first event that hits that key fails at run time, not here)."""
    if "{" not in source and canonical_state(source) is None:
        fail(file, where, f"{source!r} is not a state; states: {', '.join(STATES)}")
    for name in dict.fromkeys(mappings.templates.printed_lookups(source)):
        for key, value in mappings.value_maps.get(name, {}).items():
            if canonical_state(value) is None:
                problem = f"value map {name!r} maps {key!r} to {value!r}, which is not a state"
                fail(file, where, f"{problem}; states: {', '.join(STATES)}")


def check_ticket_fields(
    fail: Fail,
    mappings: Mappings,
    file: str,
    where: str,
    action: Any,
    *,
    fields: Any = None,
    names: tuple[str, ...] = ("event", "ticket"),
    fields_at: str = "",
    owner: str = "create_ticket",
    defined: Collection[str] | None = None,
) -> None:
    """Targets defined and present, the ten templates compile, a static status is a state, per_target sane.

    `action` has `targets` and `per_target`; the ten fields are its own unless `fields` holds them.
    `defined`: every target name the mappings define, those that failed to load too (their own problem
    says what is wrong; "not defined" here would send the reader looking for a missing definition).
    """
    targets: list[str] = action.targets
    per_target: dict[str, dict[str, str]] = action.per_target
    fields = action if fields is None else fields
    if not targets:
        fail(file, f"{where}.targets", f"{owner} needs at least one target")
    for target in targets:
        if target not in (mappings.targets if defined is None else defined):
            fail(file, f"{where}.targets", f"target {target!r} is not defined under targets:")
    for name in TICKET_FIELDS:
        check_template(fail, mappings, file, f"{where}.{fields_at}{name}", getattr(fields, name), names)
    check_state_template(fail, mappings, file, f"{where}.{fields_at}status", fields.status)
    whose = "action" if owner == "create_ticket" else owner
    for target, overrides in per_target.items():
        if target not in targets:
            fail(file, f"{where}.per_target.{target}", f"not one of this {whose}'s targets")
        for name, template in overrides.items():
            if name not in TICKET_FIELDS:
                fail(file, f"{where}.per_target.{target}.{name}", "not a Create Ticket field")
            else:
                check_template(fail, mappings, file, f"{where}.per_target.{target}.{name}", template, names)
                if name == "status":
                    check_state_template(fail, mappings, file, f"{where}.per_target.{target}.status", template)


def check_catalog_item(
    fail: Fail, mappings: Mappings, file: str, where: str, item: CatalogItem, defined: Collection[str] | None = None
) -> None:
    """A catalog item: its fields as templates over `form`, its targets, and open fields that exist."""
    check_ticket_fields(
        fail,
        mappings,
        file,
        where,
        item,
        fields=item.fields,
        names=("form",),
        fields_at="fields.",
        owner="catalog item",
        defined=defined,
    )
    known = (*OPEN_ALIASES, *TICKET_FIELDS)
    for name in item.open:
        if name not in known:
            fail(file, f"{where}: field open", f"{name!r} is not a Create Ticket field; fields: {', '.join(known)}")


def check_flow_rules(fail: Fail, file: str, where: str, trigger: Trigger, actions: list[tuple[str, Action]]) -> None:
    """Which actions may follow which trigger (no loops), terminal actions last, the trigger's filters."""
    ticket_event = trigger.type in TICKET_TRIGGERS
    for i, (kind, _) in enumerate(actions):
        field = f"{where}: field actions[{i}].{kind}"
        if kind not in TERMINAL_ACTIONS and ticket_event:
            fail(file, field, f"only notify and webhook may follow a {trigger.type} trigger (no loops)")
        elif kind not in TERMINAL_ACTIONS and trigger.type not in TICKETING_TRIGGERS:
            fail(
                file,
                field,
                f"ticketing actions run only under anomaly or anomaly_status_change triggers, not {trigger.type}",
            )
        if kind in TERMINAL_ACTIONS and any(k not in TERMINAL_ACTIONS for k, _ in actions[i + 1 :]):
            fail(file, field, f"{kind} must be the last action of its flow (after its ticket actions)")
    used = {k for k, v in msgspec.structs.asdict(trigger.where).items() if v is not None}
    allowed = {"status", "origin"} if ticket_event else used - {"origin"}
    for key in sorted(used - allowed):
        fail(file, f"{where}: field trigger.where.{key}", f"not a filter of {trigger.type} triggers")
    if ticket_event:  # matched without case against these names: anything else is a flow that never fires
        for key, what, known in (("status", "a ticket state", STATES), ("origin", "an origin", ORIGINS)):
            for value in getattr(trigger.where, key) or []:
                if value.lower() not in {name.lower() for name in known}:
                    problem = f"{value!r} is not {what}; one of {', '.join(known)}"
                    fail(file, f"{where}: field trigger.where.{key}", problem)
