"""Tickets people open (API, chat, console): from a catalog item or ad hoc, through one function.

A catalog item's fields are templates over `form` (what the person typed, who they are, the
item); an open field whose template does not use `form` takes the person's text as it is.
Ad-hoc fields are taken as typed.
Person text is never rendered as a template. The ticket then lives like any other: a DQ number,
a timeline, one create execution per target, the same lifecycle.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

import msgspec

from gateway.core.errors import InvalidPayload, NotFound
from gateway.core.models import TICKET_FIELDS, Origin, TicketFields
from gateway.decide.planner import Outcome, Planner
from gateway.dispatch.queue import Dispatcher
from gateway.record.rows import TicketRow
from gateway.record.runtime import Runtime
from gateway.rules.lifecycle import STATES, canonical_state
from gateway.rules.schema import OPEN_ALIASES, USER_SOURCE, CatalogItem, CreateTicket
from gateway.rules.sla import sla_seconds
from gateway.rules.templates import RenderError, render_fields

_USES_FORM = re.compile(r"\{[{%].*\bform\b", re.DOTALL)
AD_HOC_FLOW = "ad-hoc"
MAX_REQUESTER = 200


def catalog_view(rt: Runtime) -> list[dict[str, Any]]:
    """The catalog as a person chooses from it: name, label, the fields they may fill in, where it goes."""
    return [
        {"name": name, "label": item.label or name, "open": item.open_fields, "targets": item.targets}
        for name, item in sorted(rt.mappings.catalog.items())
    ]


def open_ticket(
    rt: Runtime,
    dispatcher: Dispatcher | None,
    *,
    requester: str,
    fields: Mapping[str, str],
    catalog: str | None = None,
    targets: list[str] | None = None,
    origin: Origin = "api",
    chat_id: str = "",
) -> tuple[TicketRow, list[str]]:
    """Open a ticket for `requester` (422 naming what is wrong, nothing written); the ticket and its creates.
    `chat_id`: the chat user opening it, on the `opened` entry (their id, not a name, makes them its requester)."""
    who = " ".join(requester.split())[:MAX_REQUESTER] or "api"
    values = _named(fields)
    if catalog is not None:
        item = _item(rt, catalog)
        if targets is not None:
            raise InvalidPayload(f"catalog item {catalog!r} chooses its own targets", code="targets_not_open")
        refused = [name for name in values if name not in item.open_fields]
        if refused:
            raise InvalidPayload(
                f"catalog item {catalog!r} does not open {', '.join(refused)} to change;"
                f" it opens {', '.join(item.open_fields) or 'nothing'}",
                code="field_not_open",
            )
        base, per_target = _from_item(rt, catalog, item, values, who)
        chosen, flow = item.targets, f"catalog:{catalog}"
    else:
        chosen = list(rt.mappings.targets) if targets is None else list(dict.fromkeys(targets))
        unknown = [t for t in chosen if t not in rt.mappings.targets]
        if unknown or not chosen:
            known = ", ".join(rt.mappings.targets) or "none configured"
            raise InvalidPayload(f"unknown target(s) {', '.join(unknown)}; targets: {known}", code="unknown_target")
        base = msgspec.convert({"status": "New", **values}, TicketFields)
        per_target, flow = dict.fromkeys(chosen, base), AD_HOC_FLOW
    state = _checked(base)
    now = time.time()
    outcome = Outcome(event_id=None)
    with rt.mirror.transaction() as tx:
        ticket_id = rt.mirror.create_ticket(
            tx,
            correlation_key=f"{USER_SOURCE}:{uuid.uuid4()}",
            generation=1,
            state=state,
            source=USER_SOURCE,
            fields=msgspec.to_builtins(base),
            targets=chosen,
            anomaly_id=None,
            now=now,
            requester=who,
            opened=({"catalog": catalog} if catalog else {"ad_hoc": True}) | ({"chat_id": chat_id} if chat_id else {}),
        ).id
        outcome.ticket_id = ticket_id
        timers = sla_seconds(base.priority, rt.mappings.lifecycle.sla)
        if timers is not None:  # the lifecycle's SLA for the priority, as for any ticket
            rt.mirror.start_sla(tx, ticket_id, *timers, now)
        planner = Planner(rt, tx, now)
        for target in chosen:
            target_fields = msgspec.to_builtins(per_target[target])
            target_fields["status"] = state
            planner.execution(
                outcome,
                flow=flow,
                action="create_ticket",
                target=target,
                params={"fields": target_fields},
                ticket_id=ticket_id,
            )
        planner.fire(ticket_id, "ticket_opened", {"origin": origin, "actor": who}, outcome)  # as an anomaly's does
    if dispatcher is not None and outcome.queued:
        dispatcher.enqueue(outcome.queued)
    ticket = rt.mirror.ticket(ticket_id)
    assert ticket is not None
    return ticket, outcome.executions


def _named(fields: Mapping[str, str]) -> dict[str, str]:
    """Field names as the Create Ticket fields (`title` is short_description); unknown ones refused."""
    values: dict[str, str] = {}
    unknown = []
    for name, value in fields.items():
        field = OPEN_ALIASES.get(name, name)
        if field not in TICKET_FIELDS:
            unknown.append(name)
        else:
            values[field] = value.strip()
    if unknown:
        raise InvalidPayload(
            f"unknown field(s) {', '.join(unknown)}; fields: title, {', '.join(TICKET_FIELDS)}", code="unknown_field"
        )
    return values


def _item(rt: Runtime, name: str) -> CatalogItem:
    item = rt.mappings.catalog.get(name)
    if item is None:
        known = ", ".join(sorted(rt.mappings.catalog)) or "none defined"
        raise NotFound(f"no catalog item {name!r}; items: {known}", code="unknown_catalog_item")
    return item


def _from_item(
    rt: Runtime, name: str, item: CatalogItem, values: dict[str, str], requester: str
) -> tuple[TicketFields, dict[str, TicketFields]]:
    """The item's defaults rendered over the form, then the person's own text in the fields it opens."""
    form = {**dict.fromkeys(TICKET_FIELDS, ""), **values, "requester": requester, "item": name}
    form["title"] = form["short_description"]
    action = CreateTicket(targets=item.targets, per_target=item.per_target, **msgspec.to_builtins(item.fields))
    context = {"form": form}

    def rendered(target: str | None) -> TicketFields:
        try:
            fields = render_fields(rt.mappings.templates, action, None, target, context=context)
        except RenderError as exc:
            raise InvalidPayload(f"catalog item {name!r}: {exc}", code="catalog_render_failed") from None
        overrides = item.per_target.get(target, {}) if target else {}
        typed = {k: v for k, v in values.items() if not _USES_FORM.search(overrides.get(k, getattr(item.fields, k)))}
        return msgspec.structs.replace(fields, **typed)

    return rendered(None), {target: rendered(target) for target in item.targets}


def _checked(fields: TicketFields) -> str:
    """The ticket's initial state; a ticket needs a title."""
    if not fields.short_description:
        raise InvalidPayload("a ticket needs a title (short_description)", code="missing_title")
    state = canonical_state(fields.status)
    if state is None:
        raise InvalidPayload(
            f"status {fields.status!r} is not a state; states: {', '.join(STATES)}", code="unknown_status"
        )
    fields.status = state
    return state
