"""Render flow templates (sandboxed Jinja2) for one event and one target; pure."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from contextlib import suppress
from functools import lru_cache
from typing import Any

import msgspec
from jinja2 import Template, TemplateError, nodes

from gateway.core.models import TICKET_FIELDS, Event, TicketFields
from gateway.core.templating import sandbox

_EVENT_FIELDS = frozenset(Event.__struct_fields__) | {"correlation_key"}
_TICKET_CONTEXT = frozenset(
    {"number", "state", "status", "note", "fields", "id", "anomaly_ids", "correlation_key", "source", "drift", "links"}
)
# What a catalog item's templates see: what the person typed (`title` is short_description), who, which item.
FORM_FIELDS = frozenset(TICKET_FIELDS) | {"title", "requester", "item"}
_KNOWN_ATTRS = {"event": _EVENT_FIELDS, "ticket": _TICKET_CONTEXT, "form": FORM_FIELDS}


# A template of text and `{{ name.field }}` outputs (each optionally `| lookup('map')`), as its parts:
# the text, or (name, field, value map or None).
Substitutions = tuple[str | tuple[str, str, str | None], ...]


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
        self._compiled = lru_cache(maxsize=1024)(self._compile)
        self._substitutions = lru_cache(maxsize=1024)(self._substitutions_of)

    def _compile(self, source: str) -> Template:
        template = self.env.from_string(source)
        # a plain dict, not Jinja's ChainMap: every render copies the globals into its context, and walking
        # the ChainMap was close to half the time of a one-line template's render
        template.globals = dict(template.globals)
        return template

    def _substitutions_of(self, source: str) -> Substitutions | None:
        """`source` as `Substitutions`, or None when it holds anything else (Jinja renders it)."""
        body = self.env.parse(source).body
        if len(body) != 1 or not isinstance(body[0], nodes.Output):
            return None
        parts: list[str | tuple[str, str, str | None]] = []
        for node in body[0].nodes:
            if isinstance(node, nodes.TemplateData):
                parts.append(node.data)
                continue
            value_map = None
            if (
                isinstance(node, nodes.Filter)
                and node.name == "lookup"
                and node.node is not None
                and len(node.args) == 1
                and isinstance(node.args[0], nodes.Const)
                and isinstance(node.args[0].value, str)
                and not (node.kwargs or node.dyn_args or node.dyn_kwargs)
            ):
                value_map, node = node.args[0].value, node.node
            # a dict's own attributes (`items`, `keys`) are what Jinja finds first: not a field
            if not (
                isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) and not hasattr(dict, node.attr)
            ):
                return None
            parts.append((node.node.name, node.attr, value_map))
        return tuple(parts)

    def _substitute(self, parts: Substitutions, context: Mapping[str, Any]) -> str:
        """What Jinja renders for `parts` (each value through `str`, as it outputs one); LookupError where a value
        is not there, which Jinja reports in its own words."""
        out: list[str] = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
                continue
            name, field, value_map = part
            holder = context[name]
            if type(holder) is not dict:
                raise LookupError(name)
            value = holder[field]
            out.append(str(value) if value_map is None else self.lookup(value, value_map))
        return "".join(out)

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

    def check(
        self,
        source: str,
        names: tuple[str, ...] = ("event", "ticket"),
        *,
        ticket: Collection[str] | None = None,
        lookups: bool = True,
    ) -> None:
        """Compile now, and resolve every value map, filter, test and event/ticket/form field the template names
        (Jinja compiles an unknown filter or test inside an `if` and fails only when it renders).

        `ticket`: the fields `ticket` holds where the template renders, when fewer than in flows; `lookups`:
        whether `lookup` is there (tracker note templates have no value maps)."""
        if "{" not in source:
            return
        try:
            tree = self.env.parse(source)
            self.env.compile(tree)
        except TemplateError as exc:
            raise TemplateProblem(f"template does not compile: {exc}") from None
        for node in tree.find_all(nodes.Filter):
            if node.name == "lookup" and not lookups:
                raise TemplateProblem("lookup reads value maps in flows and catalog items; it is not available here")
            if node.name == "lookup":
                if len(node.args) != 1 or not isinstance(node.args[0], nodes.Const) or node.kwargs or node.dyn_args:
                    raise TemplateProblem("lookup takes one argument, the value map's name as a quoted string")
                if node.args[0].value not in self.value_maps:
                    raise TemplateProblem(f"value map {node.args[0].value!r} does not exist")
            elif node.name not in self.env.filters:
                raise TemplateProblem(f"no filter named {node.name!r}")
        for test in tree.find_all(nodes.Test):
            if test.name not in self.env.tests:
                raise TemplateProblem(f"no test named {test.name!r}")
        known = {**_KNOWN_ATTRS, "ticket": frozenset(ticket)} if ticket is not None else _KNOWN_ATTRS
        for item in [*tree.find_all(nodes.Getattr), *tree.find_all(nodes.Getitem)]:
            path = _field_path(item)
            if path is None:
                continue
            (base, field), rest = path[:2], path[2:]
            if field not in known.get(base, {field}):
                raise TemplateProblem(f"{base} has no field {field!r}")
            if base == "ticket" and field == "fields" and rest and rest[0] not in TICKET_FIELDS:
                raise TemplateProblem(f"ticket.fields has no field {rest[0]!r}; fields: {', '.join(TICKET_FIELDS)}")
        for name in tree.find_all(nodes.Name):
            if name.ctx == "load" and name.name not in names:
                raise TemplateProblem(f"unknown name {name.name!r}; templates see {' and '.join(names)}")

    def max_length(self, source: str) -> int | None:
        """The longest text `source` can render, or None when an output is unbounded (not a constant,
        a `lookup`, a `truncate(n)` or a `[:n]` slice). Call after `check`."""
        if "{" not in source:
            return len(source)
        total = 0
        for node in self.env.parse(source).body:
            if isinstance(node, nodes.FilterBlock):  # {% filter truncate(250) %}...{% endfilter %}
                block = self._bound(node.filter)
                if block is None:
                    return None
                total += block
                continue
            if not isinstance(node, nodes.Output):
                return None
            for part in node.nodes:
                bound = self._bound(part)
                if bound is None:
                    return None
                total += bound
        return total

    def possible_values(self, source: str) -> set[str] | None:
        """Every text `source` can render when that is known: a constant, or one `lookup` of a value map."""
        if "{" not in source:
            return {source.strip()}
        body = self.env.parse(source).body
        if len(body) == 1 and isinstance(body[0], nodes.Output) and len(body[0].nodes) == 1:
            node = body[0].nodes[0]
            if isinstance(node, nodes.Filter) and node.name == "lookup" and node.args:
                return set(self.value_maps.get(str(getattr(node.args[0], "value", "")), {}).values())
        return None

    def printed_lookups(self, source: str) -> list[str]:
        """Value maps whose `lookup` is the whole of an output (`{{ x | lookup('m') }}`, in any branch): what
        the template renders there is one of the map's values. [] for a template that does not compile."""
        try:
            tree = self.env.parse(source) if "{" in source else None
        except TemplateError:
            return []  # `check` reports it
        names: list[str] = []
        for output in tree.find_all(nodes.Output) if tree else []:
            parts = [n for n in output.nodes if not (isinstance(n, nodes.TemplateData) and not n.data.strip())]
            node = parts[0] if len(parts) == 1 else None
            if isinstance(node, nodes.Filter) and node.name == "lookup" and node.args:
                names.append(str(getattr(node.args[0], "value", "")))
        return names

    def _bound(self, node: nodes.Node) -> int | None:
        if isinstance(node, nodes.TemplateData):
            return len(node.data)
        if isinstance(node, nodes.Const):
            return len(str(node.value))
        if isinstance(node, nodes.Filter) and node.name == "lookup" and node.args:
            table = self.value_maps.get(str(getattr(node.args[0], "value", "")), {})
            return max((len(v) for v in table.values()), default=0)
        if isinstance(node, nodes.Filter) and node.name == "truncate":
            length = node.args[0] if node.args else next((k.value for k in node.kwargs if k.key == "length"), None)
            if isinstance(length, nodes.Const) and isinstance(length.value, int):
                return length.value + int(self.env.policies["truncate.leeway"])
            return 255 + int(self.env.policies["truncate.leeway"]) if length is None else None
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Slice):
            stop = node.arg.stop
            if node.arg.start is None and isinstance(stop, nodes.Const) and isinstance(stop.value, int):
                return int(stop.value) if stop.value >= 0 else None  # [:-5] is as long as its input
        return None

    def render(self, source: str, context: Mapping[str, Any]) -> str:
        if "{" not in source:
            return source
        try:
            parts = self._substitutions(source)
            if parts is not None:  # a quarter of Jinja's time; rendering was an eighth of planning a new anomaly
                with suppress(LookupError):
                    return self._substitute(parts, context).strip()
            return str(self._compiled(source).render(**context)).strip()
        except RenderError:
            raise
        except TemplateError as exc:
            raise RenderError(f"template failed: {exc}") from None


def _field_path(node: nodes.Node) -> list[str] | None:
    """`event.check`, `event['check']`, `ticket.fields.x` as [name, field, ...]; None past a computed key."""
    keys: list[str] = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        if isinstance(node, nodes.Getattr):
            keys.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            keys.append(node.arg.value)
        else:
            keys.clear()  # `event.tags[0]`, `x[i]`: what lies past it is not a field the loader knows
        node = node.node
    if not isinstance(node, nodes.Name) or len(keys) < 1:
        return None
    return [node.name, *reversed(keys)]


def ticket_context(number: str = "", state: str = "", note: str = "", fields: Any = None) -> dict[str, Any]:
    return {"number": number, "state": state, "status": state, "note": note, "fields": fields or {}}


def render_fields(
    templates: Templates,
    action: Any,
    event: Event | None,
    target: str | None = None,
    *,
    context: Mapping[str, Any] | None = None,
    base: TicketFields | None = None,
) -> TicketFields:
    """The ten Create Ticket fields for `event` (or a catalog item's `form` context); with `target`,
    its per_target overrides applied. `base`: the same action's fields already rendered without a
    target (only the overrides are rendered again)."""
    overrides: Mapping[str, str] = action.per_target.get(target, {}) if target else {}
    values: dict[str, str] = {}
    names: Iterable[str] = TICKET_FIELDS
    if base is not None:
        values = {name: getattr(base, name) for name in TICKET_FIELDS}
        names = [name for name in TICKET_FIELDS if name in overrides]
    if names and context is None:
        context = {"event": event.template_context() if event else {}, "ticket": ticket_context()}
    for name in names:
        source = overrides.get(name, getattr(action, name))
        try:
            values[name] = templates.render(source, context or {})
        except RenderError as exc:
            where = f"per_target.{target}.{name}" if name in overrides else name
            raise RenderError(f"{where}: {exc}") from None
    return msgspec.convert(values, TicketFields)
