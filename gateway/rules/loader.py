"""Load and check the YAML mappings: strict keys, ${VAR} substitution, compiled templates.

Every problem is reported with its file, its flow (or source/target/channel) and its field,
and all problems of a load are reported together.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import yaml

from connectors.registry import KINDS as TARGET_KINDS
from gateway.core.errors import ConfigError
from gateway.core.models import SEVERITIES
from gateway.receive.sources import ADAPTERS, SourceAdapter, SourceConfig
from gateway.receive.sources.base import template_parts
from gateway.rules import strict_yaml
from gateway.rules.channels import ChannelConfig
from gateway.rules.checks import (
    check_catalog_item,
    check_flow_rules,
    check_state_template,
    check_template,
    check_ticket_fields,
)
from gateway.rules.coverage import static_checks
from gateway.rules.lifecycle import STATES, Lifecycle, LifecycleConfig
from gateway.rules.schema import (
    ACTION_TYPES,
    TICKET_TRIGGERS,
    USER_SOURCE,
    Action,
    CatalogItem,
    ChatOpsConfig,
    CreateTicket,
    Flow,
    Mappings,
    Notify,
    Target,
    Trigger,
    Webhook,
)
from gateway.rules.sla import SlaTarget, sla_problems
from gateway.rules.templates import TemplateProblem, Templates

_TRACKER_TEMPLATES = Templates({})
_SECTIONS = ("sources", "targets", "channels", "value_maps", "flows", "lifecycle", "chatops", "catalog")
_FLOW_NAMES = ("event", "ticket")
# Far above any real mappings file (the examples are a few KiB): a data dump saved as .yaml would take the
# pure-Python YAML reader minutes at start-up; refused before it is read.
MAX_FILE_BYTES = 1024 * 1024
# `$${` first (a literal `${`), then a reference, then any other `${`: a typo (`${QS`, `${1QS}`) that was kept as
# text, so a secret silently became the string `${QS`.
_VAR = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}|\$\{")


class MappingErrors(Exception):
    """Every problem found in one load."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


def substitute(
    value: Any, env: Mapping[str, str], missing: list[str], malformed: list[tuple[str, str]] | None = None
) -> Any:
    """${VAR} and ${VAR:-default} in every string (as in a shell, the default also stands for an empty
    variable), `$${` for a literal `${`; names of unset variables without a default go to `missing`, and
    each `${` that is no reference to `malformed` as (field path, the text written)."""
    return _substitute(value, env, missing, [] if malformed is None else malformed, "")


def _substitute(
    value: Any, env: Mapping[str, str], missing: list[str], malformed: list[tuple[str, str]], at: str
) -> Any:
    if isinstance(value, str):

        def replace(found: re.Match[str]) -> str:
            name, default = found.group(1), found.group(2)
            if found.group(0) == "$${":
                return "${"
            if name is None:
                head, brace, _ = value[found.start() :].partition("}")
                malformed.append((at, head + brace if len(head) <= 30 else head[:30] + "..."))
                return found.group(0)
            if default is not None and not env.get(name):
                return default
            if name in env:
                return env[name]
            missing.append(name)
            return ""

        return _VAR.sub(replace, value)
    if isinstance(value, list):
        return [_substitute(v, env, missing, malformed, f"{at}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _substitute(v, env, missing, malformed, f"{at}.{k}".lstrip(".")) for k, v in value.items()}
    return value


def _msgspec_problem(exc: msgspec.ValidationError) -> tuple[str, str]:
    """Split msgspec's 'message - at `$.a.b`' into (field path, message); an unknown key is its own field."""
    text = str(exc)
    message, _, at = text.rpartition(" - at `")
    if not message:
        message, at = text, ""
    path = at.rstrip("`").removeprefix("$").lstrip(".")
    unknown = re.search(r"unknown field `([^`]+)`", message)
    if unknown:
        path = f"{path}.{unknown.group(1)}" if path else unknown.group(1)
        message = "unknown field"
    return path, message


def _entry(section: str, name: Any) -> str:
    """How problems name one definition of a section: `source 'q'`, `value map 'm'`, `catalog item 'i'`."""
    return f"{'catalog item' if section == 'catalog' else section[:-1].replace('_', ' ')} {name!r}"


def _not_a_name(name: Any) -> str:
    if isinstance(name, bool):
        return f"{name!r} is not a name: YAML reads a bare yes/no/on/off as a boolean; quote the name"
    if isinstance(name, int | float):
        return f"{name!r} is not a name: names are text; quote it ('{name}') if that is the name"
    return f"{name!r} is not a name"


def _not_text(value: Any, what: str) -> str:
    """A value map's key or value YAML did not read as text: what it became, and what to write instead."""
    if isinstance(value, bool):
        read = "YAML reads a bare yes/no/on/off/true/false as a boolean"
    elif value is None:
        read = "YAML reads a bare ~ or null as nothing"
    else:
        read = f"YAML reads it as a {type(value).__name__}"
    return f"{value!r} is not text: {read} (looked up as {str(value)!r}); quote the {what} as written"


def _where(found: strict_yaml.YamlProblem) -> str:
    """A place in a file as the loader's other problems name it: `flow 'f1': field actions[0].notify`."""
    if not found.path:
        return "document"
    section, rest = found.path[0], found.path[1:]
    head = str(section)
    if section == "flows" and rest and isinstance(rest[0], int):
        head, rest = (f"flow {found.item!r}" if found.item else f"flows[{rest[0]}]"), rest[1:]
    elif section in ("sources", "targets", "channels", "value_maps", "catalog") and rest:
        head, rest = _entry(section, rest[0]), rest[1:]
    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in rest).lstrip(".")
    return f"{head}: field {field}" if field else head


class _Loader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.errors: list[ConfigError] = []
        self.unset_at: set[tuple[str, str]] = set()  # where an environment variable was missing
        self.raw_flows: list[tuple[str, int, Any]] = []
        self.raw_catalog: list[tuple[str, str, str, Any]] = []
        self.mappings = Mappings()
        self.origin: dict[tuple[str, str], str] = {}
        self.lifecycle_raw: tuple[str, Any] | None = None
        self.chatops_file: str | None = None
        self.names: tuple[str, ...] = ("event", "ticket")  # what templates of the flow being read may name
        self.flows_whole = True  # every flow and action was built: the states tickets can reach are known

    def defined(self, section: str) -> list[str]:
        """Names the files define under `section` in file order, those whose definition failed to load too: a
        reference to one is no second problem (its definition's problem says what is wrong)."""
        return [name for (kind, name) in self.origin if kind == section]

    def fail(self, file: str, where: str, problem: str) -> None:
        if (file, where) in self.unset_at:
            return  # an unset variable left a value empty: "must not be empty" after it says nothing new
        self.errors.append(ConfigError(file, where, problem))

    def expand(self, file: str, where: str, value: Any) -> Any:
        missing: list[str] = []
        malformed: list[tuple[str, str]] = []
        result = substitute(value, self.env, missing, malformed)
        for name in dict.fromkeys(missing):
            self.fail(file, where, f"environment variable {name} is not set and has no default (${{{name}:-...}})")
        for field, written in malformed:
            self.fail(
                file,
                f"{where}: field {field}" if field else where,
                f"{written!r} is not a variable reference: write ${{NAME}} or ${{NAME:-default}} (NAME: letters, digits"
                " and _, not starting with a digit); for a literal ${ write $${",
            )
        if missing:
            self.unset_at.add((file, where))
        return result

    def read_file(self, path: Path) -> None:
        file = str(path)
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                self.fail(
                    file, "document", f"{size} bytes; a mappings file may hold {MAX_FILE_BYTES} (1 MiB): split it"
                )
                return
            raw = path.read_bytes()
        except OSError as exc:
            self.fail(file, "document", f"cannot be read: {exc.strerror or exc}")
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:  # a file saved as Latin-1 or UTF-16: say where, not a traceback
            line = raw[: exc.start].count(b"\n") + 1
            self.fail(file, "document", f"not UTF-8 text: byte 0x{raw[exc.start]:02x} on line {line}; save it as UTF-8")
            return
        try:
            document, problems = strict_yaml.read(text)
        except strict_yaml.Refused as exc:
            self.fail(file, "document", str(exc))
            return
        except yaml.YAMLError as exc:
            self.fail(file, "document", f"not valid YAML: {exc}")
            return
        if document is None:  # a file emptied by a bad merge would otherwise take its flows away without a word
            self.fail(file, "document", f"empty: no section ({', '.join(_SECTIONS)}); fill the file or remove it")
            return
        for found in problems:
            self.fail(file, _where(found), found.problem)
        if not isinstance(document, dict):
            self.fail(file, "document", "the top level must be a mapping of sections")
            return
        for section, body in document.items():
            if section not in _SECTIONS:
                self.fail(file, "document", f"unknown section {section!r}; known: {', '.join(_SECTIONS)}")
            elif section == "flows":
                if not isinstance(body, list):
                    self.fail(file, "flows", "must be a list of flows")
                    continue
                self.raw_flows.extend((file, i, item) for i, item in enumerate(body))
            elif section == "lifecycle":
                if self.lifecycle_raw is not None:
                    self.fail(file, "lifecycle", f"already defined in {self.lifecycle_raw[0]}")
                self.lifecycle_raw = (file, body)
            elif section == "chatops":
                self.read_chatops(file, body)
            else:
                self.read_named(file, section, body)

    def read_named(self, file: str, section: str, body: Any) -> None:
        if not isinstance(body, dict):
            self.fail(file, section, "must be a mapping of names to definitions")
            return
        for name, value in body.items():
            where = _entry(section, name)
            if not isinstance(name, str) or not name:  # `1:` or `yes:`: no URL, flow or chat command could name it
                self.fail(file, where, _not_a_name(name))
                continue
            if (section, name) in self.origin:
                self.fail(file, where, f"defined twice (also in {self.origin[(section, name)]})")
                continue
            self.origin[(section, name)] = file
            value = self.expand(file, where, value)
            if section == "sources":
                self.read_source(file, where, name, value)
            elif section == "targets":
                self.read_target(file, where, name, value)
            elif section == "channels":
                self.read_channel(file, where, name, value)
            elif section == "catalog":  # checked once targets and value maps are all read
                self.raw_catalog.append((file, where, str(name), value))
            else:
                self.read_value_map(file, where, name, value)

    def convert(self, file: str, where: str, value: Any, shape: Any) -> Any:
        try:
            return msgspec.convert(value, type=shape)
        except msgspec.ValidationError as exc:
            path, message = _msgspec_problem(exc)
            self.fail(file, f"{where}: field {path}" if path else where, message)
            return None

    def read_source(self, file: str, where: str, name: str, value: Any) -> None:
        if name == USER_SOURCE:
            return self.fail(file, where, f"the source name {USER_SOURCE!r} is reserved for tickets people open")
        kind = value.get("kind") if isinstance(value, dict) else None
        adapter = ADAPTERS.get(str(kind))
        if adapter is None:
            self.fail(file, f"{where}: field kind", f"unknown source kind {kind!r}; known: {', '.join(ADAPTERS)}")
            return
        config = self.convert(file, where, value, SourceConfig)
        if config is None:
            return
        self.check_identity(file, where, kind, adapter, config)
        auth = ("secret", "hmac_secret", "token", "basic")
        for key in auth:
            if getattr(config, key) and key not in adapter.auth_keys:
                self.fail(
                    file,
                    f"{where}: field {key}",
                    f"{kind} sources do not use {key}; they take {', '.join(adapter.auth_keys)}",
                )
        if not any(getattr(config, key) for key in adapter.auth_keys) and not config.allow_unauthenticated:
            self.fail(
                file,
                where,
                f"no authentication configured: set one of {', '.join(adapter.auth_keys)} "
                "(or allow_unauthenticated: true)",
            )
        self.mappings.sources[name] = config

    def check_identity(self, file: str, where: str, kind: Any, adapter: SourceAdapter, config: SourceConfig) -> None:
        if config.anomaly_id is None:
            return
        if not adapter.identity_parts:
            self.fail(file, f"{where}: field anomaly_id", f"{kind} sources take the tool's own anomaly ids")
            return
        try:
            parts = template_parts(config.anomaly_id)
        except ValueError as exc:
            self.fail(file, f"{where}: field anomaly_id", f"not a template: {exc}")
            return
        unknown = [part for part in parts if part not in adapter.identity_parts]
        choices = ", ".join("{" + part + "}" for part in adapter.identity_parts)
        if unknown or not parts:
            problem = f"unknown part(s) {', '.join(map(repr, unknown))}" if unknown else "names no part"
            self.fail(file, f"{where}: field anomaly_id", f"{problem}; use {choices}")

    def read_target(self, file: str, where: str, name: str, value: Any) -> None:
        kind = value.get("kind") if isinstance(value, dict) else None
        target_kind = TARGET_KINDS.get(str(kind))
        if target_kind is None:
            self.fail(file, f"{where}: field kind", f"unknown target kind {kind!r}; known: {', '.join(TARGET_KINDS)}")
            return
        config = self.convert(file, where, value, target_kind.config_type)
        if config is None:
            return
        # a tracker's own templates (ServiceNow close_notes) render with no value maps and a smaller `ticket`:
        # a misspelt field there rendered empty in every closed record
        for field, ticket in getattr(config, "TICKET_TEMPLATES", {}).items():
            try:
                _TRACKER_TEMPLATES.check(getattr(config, field), ("event", "ticket"), ticket=ticket, lookups=False)
            except TemplateProblem as exc:
                self.fail(file, f"{where}: field {field}", str(exc))
        self.mappings.targets[name] = Target(name=name, kind=str(kind), config=config)

    def read_channel(self, file: str, where: str, name: str, value: Any) -> None:
        config = self.convert(file, where, value, ChannelConfig)
        if config is not None:
            self.mappings.channels[name] = config

    def read_value_map(self, file: str, where: str, name: str, value: Any) -> None:
        if not isinstance(value, dict) or not all(isinstance(v, str | int | float) for v in value.values()):
            self.fail(file, where, "a value map is a mapping of values to values")
            return
        for key, mapped in value.items():  # YAML reads a bare on/yes/~ as True/None: looked up as "True"/"None"
            if not isinstance(key, str | int) or isinstance(key, bool):  # `1:` looks up "1": as written
                self.fail(file, f"{where}: field {key!r}", _not_text(key, "key"))
            elif isinstance(mapped, bool):
                self.fail(file, f"{where}: field {key}", _not_text(mapped, "value"))
        self.mappings.value_maps[name] = {str(k): str(v) for k, v in value.items()}

    def read_chatops(self, file: str, body: Any) -> None:
        if self.chatops_file is not None:
            self.fail(file, "chatops", f"already defined in {self.chatops_file}")
            return
        self.chatops_file = file
        config = self.convert(file, "chatops", self.expand(file, "chatops", body or {}), ChatOpsConfig)
        if config is not None:
            self.mappings.chatops = config

    def read_lifecycle(self) -> None:
        if self.lifecycle_raw is None:
            return
        file, body = self.lifecycle_raw
        config = self.convert(file, "lifecycle", self.expand(file, "lifecycle", body), LifecycleConfig)
        if config is None:
            return
        transitions = config.transitions or {}
        pairs = [(r.from_, [r.to]) for r in transitions] if isinstance(transitions, list) else list(transitions.items())
        for state, targets in pairs:
            for name in [state, *targets]:
                if name not in STATES:
                    self.fail(
                        file, "lifecycle: field transitions", f"{name!r} is not a state; states: {', '.join(STATES)}"
                    )
        for field, problem in sla_problems(config.sla or {}):
            self.fail(file, f"lifecycle: field sla.{field}", problem)
        for anomaly_status, state in (config.anomaly_status or {}).items():
            if state not in STATES:
                self.fail(file, f"lifecycle: field anomaly_status.{anomaly_status}", f"{state!r} is not a state")
        try:
            self.mappings.lifecycle = Lifecycle(config)
        except ValueError as exc:
            self.fail(file, "lifecycle: field reopen_window", str(exc))

    def read_flows(self) -> None:
        names: dict[str, str] = {}
        for file, index, raw in self.raw_flows:
            if not isinstance(raw, dict):
                self.fail(file, f"flows[{index}]", "a flow is a mapping with name, trigger and actions")
                self.flows_whole = False
                continue
            given = raw.get("name")
            name = str(given) if isinstance(given, str | int | float) and str(given) else f"flows[{index}]"
            where = f"flow {name!r}"
            if "name" not in raw:
                self.fail(file, where, "field name is missing")
            elif name == f"flows[{index}]":  # empty, a list or a mapping: executions and the log name flows by it
                self.fail(file, f"{where}: field name", f"{given!r} is not a flow name")
            elif name in names:
                self.fail(file, where, f"defined twice (also in {names[name]})")
                self.flows_whole = False
                continue
            names[name] = file
            flow = self.read_flow(file, where, name, self.expand(file, where, raw))
            if flow is not None:
                self.mappings.flows.append(flow)
            else:
                self.flows_whole = False

    def read_flow(self, file: str, where: str, name: str, raw: dict[str, Any]) -> Flow | None:
        unknown = set(raw) - {"name", "source", "trigger", "actions", "sla"}
        for key in sorted(unknown, key=str):
            problem = "unknown field; a flow has name, source, trigger, actions, sla"
            if isinstance(key, bool):  # YAML 1.1 reads a bare `on:` (or yes/no/off) as a boolean
                key = f"on ({key}: YAML reads a bare on/off/yes/no as a boolean)"
                problem += "; what fires a flow goes under trigger:"
            self.fail(file, f"{where}: field {key}", problem)
        sla = self.convert(file, f"{where}: field sla", raw.get("sla") or {}, dict[str, SlaTarget])
        for field, problem in sla_problems(sla or {}):
            self.fail(file, f"{where}: field sla.{field}", problem)
        sources = raw.get("source")
        if isinstance(sources, str):
            sources = [sources]
        if sources is not None and not (
            isinstance(sources, list) and sources and all(isinstance(s, str) for s in sources)
        ):
            # an empty list would match no event at all; a number or a nested list is no source's name
            problem = f"{sources!r} is not a source name or a list of them (leave source out for every source)"
            self.fail(file, f"{where}: field source", problem)
            sources = []
        for source in sources or []:
            if source not in self.defined("sources"):
                self.fail(file, f"{where}: field source", f"source {source!r} is not defined under sources:")
        if raw.get("trigger") is None:
            self.fail(file, f"{where}: field trigger", "missing: say what fires the flow, e.g. {type: anomaly}")
            trigger = None
        else:
            trigger = self.convert(file, f"{where}: field trigger", raw["trigger"], Trigger)
        actions_raw = raw.get("actions")
        if not isinstance(actions_raw, list) or not actions_raw:
            self.fail(file, f"{where}: field actions", "a flow needs a list of one or more actions")
            return None
        actions: list[tuple[str, Action]] = []
        self.names = ("ticket", "change") if trigger and trigger.type in TICKET_TRIGGERS else ("event", "ticket")
        for i, item in enumerate(actions_raw):
            action = self.read_action(file, f"{where}: field actions[{i}]", item)
            if action is not None:
                actions.append(action)
            else:
                self.flows_whole = False
        if trigger is None:
            return None
        check_flow_rules(self.fail, file, where, trigger, actions)
        for severity in trigger.where.severity or []:
            if severity not in SEVERITIES:
                self.fail(file, f"{where}: field trigger.where.severity", f"{severity!r} is not one of {SEVERITIES}")
        return Flow(name=name, file=file, sources=sources, trigger=trigger, actions=actions, sla=sla or None)

    def read_action(self, file: str, where: str, item: Any) -> tuple[str, Action] | None:
        if not isinstance(item, dict) or len(item) != 1:
            self.fail(file, where, f"an action is one of {', '.join(ACTION_TYPES)} with its settings")
            return None
        ((kind, body),) = item.items()
        shape = ACTION_TYPES.get(kind)
        if shape is None:
            self.fail(file, where, f"unknown action {kind!r}; known: {', '.join(ACTION_TYPES)}")
            return None
        action = self.convert(file, f"{where}.{kind}", body or {}, shape)
        if action is None:
            return None
        self.check_action(file, f"{where}.{kind}", action)
        return kind, action

    def check_action(self, file: str, where: str, action: Action) -> None:
        if isinstance(action, Webhook):
            for name, source in [("url", action.url), ("body", action.body), *action.headers.items()]:
                field = f"{where}.{'headers.' if name not in ('url', 'body') else ''}{name}"
                check_template(self.fail, self.mappings, file, field, source, self.names)
            return
        if isinstance(action, Notify):  # no channel or a wait before now: a notify that tells nobody, or at once
            if not action.channels:
                self.fail(file, f"{where}.channels", "notify needs at least one channel (or leave the action out)")
            if action.wait is not None and not (math.isfinite(action.wait) and action.wait >= 0):
                self.fail(file, f"{where}.wait", f"{action.wait!r} is not a wait: seconds, 0 (at once) or more")
            for channel in action.channels:
                if channel not in self.defined("channels"):
                    self.fail(file, f"{where}.channels", f"channel {channel!r} is not defined under channels:")
            return
        if isinstance(action, CreateTicket):
            check_ticket_fields(self.fail, self.mappings, file, where, action, defined=self.defined("targets"))
            check_template(self.fail, self.mappings, file, f"{where}.group_by", action.group_by, _FLOW_NAMES)
            if action.resolve_when is not None and not action.group_by:
                self.fail(file, f"{where}.resolve_when", "resolve_when applies to grouped tickets: set group_by too")
            return
        if action.targets == []:  # `targets: []` updates no tracker at all; left out, every linked one
            self.fail(
                file, f"{where}.targets", "update_ticket_status needs at least one target (leave targets out for all)"
            )
        for target in action.targets or []:
            if target not in self.defined("targets"):
                self.fail(file, f"{where}.targets", f"target {target!r} is not defined under targets:")
        check_template(self.fail, self.mappings, file, f"{where}.target_status", action.target_status, _FLOW_NAMES)
        check_template(self.fail, self.mappings, file, f"{where}.note", action.note, _FLOW_NAMES)
        if action.target_status:  # empty: the lifecycle's anomaly policy decides, checked with the lifecycle
            check_state_template(self.fail, self.mappings, file, f"{where}.target_status", action.target_status)

    def read_catalog(self) -> None:
        for file, where, name, raw in self.raw_catalog:
            item = self.convert(file, where, raw, CatalogItem)
            if item is not None:
                check_catalog_item(self.fail, self.mappings, file, where, item, self.defined("targets"))
                self.mappings.catalog[name] = item

    def finish(self) -> Mappings:
        self.read_lifecycle()
        maps = self.mappings.value_maps
        # a map that failed to load is reported where it is defined, not again as missing at each lookup
        broken: dict[str, dict[str, str]] = {name: {} for name in self.defined("value_maps") if name not in maps}
        self.mappings.templates = Templates({**broken, **maps} if broken else maps)
        self.read_flows()
        self.read_catalog()
        for where, problem in self.mappings.chat_user_problems(self.defined("targets")):
            self.fail(self.chatops_file or "chatops", where, problem)
        origins = {name: file for (section, name), file in self.origin.items() if section == "targets"}
        coverage = static_checks(self.mappings, origins)
        # The states tickets reach follow from the lifecycle and the flows' creates: when both loaded whole (a
        # template typo changes neither), the statuses missing for them are told now, not in a second round.
        lifecycle_whole = not any(error.where.startswith("lifecycle") for error in self.errors)
        if not self.errors or (lifecycle_whole and self.flows_whole):
            self.errors.extend(coverage)
        if self.errors:
            raise MappingErrors(self.errors)
        return self.mappings


def load_mappings(directory: Path, env: Mapping[str, str] | None = None) -> Mappings:
    """Read every *.yaml / *.yml file of `directory`, merged; raise MappingErrors on any problem."""
    loader = _Loader(os.environ if env is None else env)
    if not directory.is_dir():
        raise MappingErrors([ConfigError(str(directory), "directory", "no such mappings directory")])
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        raise MappingErrors([ConfigError(str(directory), "directory", "holds no *.yaml mapping files")])
    for path in files:
        loader.read_file(path)
    mappings = loader.finish()
    mappings.files = [str(p) for p in files]
    return mappings
