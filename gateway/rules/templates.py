"""Render flow templates (sandboxed Jinja2) for one event and one target; pure."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import msgspec
from jinja2 import TemplateError, nodes

from gateway.core.models import TICKET_FIELDS, Event, TicketFields
from gateway.core.templating import sandbox

_EVENT_FIELDS = frozenset(Event.__struct_fields__) | {"correlation_key"}
_TICKET_CONTEXT = frozenset({"number", "state", "status", "note", "fields"})
# What a catalog item's templates see: what the person typed (`title` is short_description), who, which item.
FORM_FIELDS = frozenset(TICKET_FIELDS) | {"title", "requester", "item"}
_KNOWN_ATTRS = {"event": _EVENT_FIELDS, "ticket": _TICKET_CONTEXT, "form": FORM_FIELDS}


class TemplateProblem(Exception):
    """A template that cannot compile, or names a value map or event field that does not exist."""


class RenderError(Exception):
    """A template that failed for this event (a value missing from its value map, say)."""


class Templates:
    """Compiled templates over one set of value maps; `lookup('map')` reads a value map."""

    def __init__(self, value_maps: Mapping[str, Mapping[str, str]]) -> None:
        self.value_maps = value_maps
        self.env = sandbox()
        self.env.filters["lookup"] = self.lookup
        self._compiled = lru_cache(maxsize=1024)(self.env.from_string)

    def lookup(self, value: Any, name: str) -> str:
        table = self.value_maps.get(name)
        if table is None:
            raise RenderError(f"value map {name!r} does not exist")
        key = "" if value is None else str(value)
        if key in table:
            return table[key]
        if "default" in table:
            return table["default"]
        raise RenderError(f"value {key!r} is not in value map {name!r}, and the map has no default")

    def check(self, source: str, names: tuple[str, ...] = ("event", "ticket")) -> None:
        """Compile now, and resolve every value map and event/ticket/form field the template names."""
        if "{" not in source:
            return
        try:
            tree = self.env.parse(source)
            self.env.compile(tree)
        except TemplateError as exc:
            raise TemplateProblem(f"template does not compile: {exc}") from None
        for node in tree.find_all(nodes.Filter):
            if node.name == "lookup":
                if not node.args or not isinstance(node.args[0], nodes.Const):
                    raise TemplateProblem("lookup needs the value map's name as a quoted string")
                if node.args[0].value not in self.value_maps:
                    raise TemplateProblem(f"value map {node.args[0].value!r} does not exist")
        for attr in tree.find_all(nodes.Getattr):
            if isinstance(attr.node, nodes.Name) and attr.attr not in _KNOWN_ATTRS.get(attr.node.name, {attr.attr}):
                raise TemplateProblem(f"{attr.node.name} has no field {attr.attr!r}")
        for name in tree.find_all(nodes.Name):
            if name.ctx == "load" and name.name not in names:
                raise TemplateProblem(f"unknown name {name.name!r}; templates see {' and '.join(names)}")

    def render(self, source: str, context: Mapping[str, Any]) -> str:
        if "{" not in source:
            return source
        try:
            return str(self._compiled(source).render(**context)).strip()
        except RenderError:
            raise
        except TemplateError as exc:
            raise RenderError(f"template failed: {exc}") from None


def ticket_context(number: str = "", state: str = "", note: str = "", fields: Any = None) -> dict[str, Any]:
    return {"number": number, "state": state, "status": state, "note": note, "fields": fields or {}}


def render_fields(
    templates: Templates,
    action: Any,
    event: Event | None,
    target: str | None = None,
    *,
    context: Mapping[str, Any] | None = None,
) -> TicketFields:
    """The ten Create Ticket fields for `event` (or a catalog item's `form` context); with `target`,
    its per_target overrides applied."""
    if context is None:
        context = {"event": event.template_context() if event else {}, "ticket": ticket_context()}
    overrides: Mapping[str, str] = action.per_target.get(target, {}) if target else {}
    values: dict[str, str] = {}
    for name in TICKET_FIELDS:
        source = overrides.get(name, getattr(action, name))
        try:
            values[name] = templates.render(source, context)
        except RenderError as exc:
            where = f"per_target.{target}.{name}" if name in overrides else name
            raise RenderError(f"{where}: {exc}") from None
    return msgspec.convert(values, TicketFields)
