"""`gateway check --live` for a Jira target: read-only calls that compare the mapping with the server.

Each problem names the mapping key, the value given and what Jira offers. Reachability walks the
workflow graph Jira exposes (workflow search) from the create status, at most MAX_HOPS transitions.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from jira import JIRAError

from connectors.base import FieldValues, Finding, LiveReport
from connectors.jira.api import Api, classify
from connectors.jira.config import MAPPABLE, MAX_HOPS, JiraTarget
from gateway.core.outbound import ConnectorError
from gateway.core.redact import Redactor, secret_values

RESOLVING = ("Resolved", "Closed", "Canceled")  # the states whose Jira status needs a resolution
FILLED = {"project", "issuetype", "summary", "labels", "description", "priority", "reporter"}
# Field types a ticket field's text can fill (the connector shapes each); a date or a cascade cannot.
FILLABLE = frozenset({"string", "option", "array", "user", "priority", "component", "group", "version", "number"})


class Unavailable(Exception):
    """The server has no such endpoint (an older Jira): that check is skipped, and said so."""


def check(config: JiraTarget, values: FieldValues) -> LiveReport:
    """`values`: what the flows can render per ticket field, checked against select options."""
    api = Api(config)
    try:
        return _Doctor(config, api, values).run()
    except Exception as exc:
        problem = str(Redactor(secret_values(config)).error(classify(exc, "live check")))
        return LiveReport(findings=[Finding(field="url", given=config.url, offers="", problem=problem)])
    finally:
        api.close()


class _Doctor:
    def __init__(self, config: JiraTarget, api: Api, values: FieldValues) -> None:
        self.config, self.api, self.values = config, api, values
        self.findings: list[Finding] = []
        self.skipped: list[str] = []
        self.workflows: list[dict[str, Any]] = []  # the project's workflow, once _graph has read it
        self.project: dict[str, Any] = {}  # `project/{key}`: its id and issue types

    def get(self, path: str, **params: Any) -> Any:
        try:
            return self.api.json("GET", self.api.url(path), params=params or None)
        except JIRAError as exc:
            if exc.status_code == 404:
                raise Unavailable(path) from None
            raise classify(exc, f"GET {path}") from None

    def _check_own_user(self, me: dict[str, Any]) -> None:
        """Two-way sync knows the gateway's own changes by the user Jira names in webhooks (an accountId on
        Cloud): a user that is not it makes every gateway move come back as a person's."""
        sync = self.config.sync
        if sync is None:
            return
        own = sync.gateway_user or self.config.user
        names = [str(me[key]) for key in ("accountId", "name", "key") if me.get(key)]
        if names and own not in names:
            problem = (
                f"Jira names this user {names[0]} in webhooks: set sync.gateway_user to it, else the gateway's own"
                " changes come back as a person's"
            )
            self.find("sync.gateway_user", own or "(empty)", names[:1], problem)

    def find(self, field: str, given: str, offers: list[str] | str, problem: str) -> None:
        listed = offers if isinstance(offers, str) else ", ".join(offers) or "nothing"
        self.findings.append(Finding(field=field, given=given, offers=listed, problem=problem))

    def run(self) -> LiveReport:
        try:
            me = self.get("myself") or {}
        except Exception as exc:
            error = classify(exc, "who am I")
            if error.kind == "auth":
                self.find("user/token", self.config.user or "(token)", "", f"credentials refused: {error}")
            else:  # down, unreachable, timing out: the credentials were never tried
                self.find("url", self.config.url, "", f"Jira did not answer: {error}")
            return LiveReport(findings=self.findings)
        self._check_own_user(me)
        project = self.config.project
        try:
            self.project = self.get(f"project/{project}") or {}
        except Unavailable:
            keys = [str(p.get("key")) for p in self.get("project")]
            self.find("project", project, keys, "no such project (or this user cannot see it)")
            return LiveReport(findings=self.findings)
        meta = self._create_meta()
        if meta is not None:
            self._check_screen(meta)
        self._check_priorities(meta or {})
        self._check_components()
        self._check_statuses()
        self._check_resolution_screens()
        self._check_resolutions()
        summary = f"{project}/{self.config.issue_type}: {len(meta or {})} create fields, statuses and values match"
        if self.skipped:
            summary += f" (not checked: {', '.join(self.skipped)})"
        return LiveReport(findings=self.findings, summary=summary)

    # -- create screen -----------------------------------------------------------------
    def _create_meta(self) -> dict[str, dict[str, Any]] | None:
        project, wanted = self.config.project, self.config.issue_type.casefold()
        try:
            types = self.api.paged(f"issue/createmeta/{project}/issuetypes", "issueTypes")
        except JIRAError as exc:
            if exc.status_code != 404:
                raise classify(exc, "read create metadata") from None
            return self._old_create_meta()
        match = next((t for t in types if str(t.get("name", "")).casefold() == wanted), None)
        if match is None:
            self.find("issue_type", self.config.issue_type, [str(t.get("name")) for t in types], "not in the project")
            return None
        fields = self.api.paged(f"issue/createmeta/{project}/issuetypes/{match['id']}", "fields")
        return {str(f.get("fieldId") or f.get("key")): f for f in fields}

    def _old_create_meta(self) -> dict[str, dict[str, Any]] | None:
        """Servers before 8.4 only have the one createmeta resource."""
        found = self.get("issue/createmeta", projectKeys=self.config.project, expand="projects.issuetypes.fields")
        types = [t for p in found.get("projects") or [] for t in p.get("issuetypes") or []]
        match = next((t for t in types if str(t.get("name", "")).casefold() == self.config.issue_type.casefold()), None)
        if match is None:
            self.find("issue_type", self.config.issue_type, [str(t.get("name")) for t in types], "not in the project")
            return None
        return {str(k): dict(v, fieldId=k) for k, v in (match.get("fields") or {}).items()}

    def _check_screen(self, meta: dict[str, dict[str, Any]]) -> None:
        mapped = {**{"assigned_to": "assignee"}, **self.config.fields}
        filled = FILLED | set(mapped.values()) | ({"components"} if self.config.components else set())
        on_screen = [f"{k} ({v.get('name', k)})" for k, v in meta.items()]
        for required, spec in meta.items():
            if spec.get("required") and not spec.get("hasDefaultValue") and required not in filled:
                self.find(
                    "fields",
                    required,
                    "",
                    f"the create screen requires this field ({spec.get('name', required)})"
                    " and no ticket field is mapped to it",
                )
        for name in MAPPABLE:
            field_id = mapped.get(name)
            if not field_id or (name == "assigned_to" and name not in self.config.fields):
                continue
            found = meta.get(field_id)
            if found is None:
                self.find(f"fields.{name}", field_id, on_screen, "not on the create screen of this issue type")
                continue
            allowed = _allowed(found)
            kind = str((found.get("schema") or {}).get("type", ""))
            if kind not in FILLABLE:
                problem = f"{field_id} ({found.get('name')}) is a {kind} field; a ticket field is text"
                self.find(f"fields.{name}", field_id, ", ".join(sorted(FILLABLE)), problem)
                continue
            for value in sorted(self.values.get(name, set())):
                if allowed and value not in allowed:
                    self.find(
                        f"fields.{name}", value, allowed, f"not an allowed value of {field_id} ({found.get('name')})"
                    )
                elif kind == "number" and not _is_number(value):
                    self.find(f"fields.{name}", value, "a number", f"{field_id} ({found.get('name')}) takes numbers")
        components = meta.get("components")
        if self.config.components and components is None:
            self.find(
                "components", ", ".join(self.config.components), on_screen, "components are not on the create screen"
            )

    def _check_priorities(self, meta: dict[str, dict[str, Any]]) -> None:
        allowed = _allowed(meta["priority"]) if "priority" in meta else []
        if not allowed:
            allowed = [str(p.get("name")) for p in self.get("priority")]
        for name, value in self.config.priorities.items():
            if value not in allowed:
                self.find(f"priorities.{name}", value, allowed, "no such priority")
        # A value priorities: does not map goes to Jira as written (the connector's fallback): it must exist there.
        for value in sorted(self.values.get("priority", set()) - set(self.config.priorities)):
            if value not in allowed:
                problem = "no such priority (a flow or catalog item sends it and priorities: does not map it)"
                self.find("priority", value, allowed, problem)

    def _check_components(self) -> None:
        wanted = list(self.config.components)
        if self.config.fields.get("category") == "components":
            wanted += sorted(self.values.get("category", set()))
        if not wanted:
            return
        offered = [str(c.get("name")) for c in self.get(f"project/{self.config.project}/components")]
        for name in dict.fromkeys(wanted):
            if name not in offered:
                self.find("components", name, offered, "no such component in the project")

    # -- workflow ----------------------------------------------------------------------
    def _check_statuses(self) -> None:
        project, wanted = self.config.project, self.config.issue_type.casefold()
        per_type = self.get(f"project/{project}/statuses")
        statuses = next((t.get("statuses") or [] for t in per_type if str(t.get("name", "")).casefold() == wanted), [])
        names = [str(s.get("name")) for s in statuses]
        known = {n.casefold() for n in names}
        for state, status in self.config.statuses.items():
            if status.casefold() not in known:
                self.find(f"statuses.{state}", status, names, f"not a status of {self.config.issue_type} in {project}")
        try:
            graph, start = self._graph()
        except Unavailable:
            self.skipped.append("workflow reachability (no workflow search on this server)")
            return
        hops = _hops(graph, start.casefold())
        for state, status in self.config.statuses.items():
            if status.casefold() in known and hops.get(status.casefold(), MAX_HOPS + 1) > MAX_HOPS:
                reach = [n for n in names if n.casefold() in hops]
                self.find(
                    f"statuses.{state}",
                    status,
                    reach,
                    f"not reachable from {start!r} within {MAX_HOPS} transitions",
                )

    def _graph(self) -> tuple[dict[str, set[str]], str]:
        """status -> statuses one transition away (names, casefolded), and the create status."""
        name = self._workflow_name()
        found = self.get("workflow/search", expand="transitions,statuses", **({"workflowName": name} if name else {}))
        listed = list(found.get("values") or [])
        # other teams' workflows have other create statuses and transitions: never merge them in
        self.workflows = [f for f in listed if str((f.get("id") or {}).get("name", "")) == name] or listed
        graph: dict[str, set[str]] = {}
        start = ""
        for flow in self.workflows:
            name_of = {str(s.get("id")): str(s.get("name")).casefold() for s in flow.get("statuses") or []}
            every = set(name_of.values())
            for t in flow.get("transitions") or []:
                to = name_of.get(str(t.get("to")), "")
                if t.get("type") == "initial":
                    start = start or next(
                        str(s.get("name")) for s in flow["statuses"] if name_of[str(s.get("id"))] == to
                    )
                sources = [name_of.get(str(f), "") for f in t.get("from") or []] or every
                for source in sources if t.get("type") != "initial" else []:
                    graph.setdefault(source, set()).add(to)
        return graph, start

    def _workflow_name(self) -> str:
        """The workflow the project's workflow scheme gives this issue type; "" when the server does not say."""
        project_id = str(self.project.get("id", ""))
        wanted = self.config.issue_type.casefold()
        types = self.project.get("issueTypes") or []
        type_id = next((str(t.get("id")) for t in types if str(t.get("name", "")).casefold() == wanted), "")
        try:
            found = self.get("workflowscheme/project", projectId=project_id)
        except Unavailable:
            return ""
        for entry in found.get("values") or []:
            if project_id in [str(p) for p in entry.get("projectIds") or []]:
                scheme = entry.get("workflowScheme") or {}
                mapped = (scheme.get("issueTypeMappings") or {}).get(type_id)
                return str(mapped or scheme.get("defaultWorkflow") or "")
        return ""

    def _check_resolution_screens(self) -> None:
        """Each transition into a status that Resolved/Closed/Canceled map to must have `resolution` on
        its screen: without it the issue reaches the status unresolved (Jira's reports count it open)."""
        states: dict[str, list[str]] = {}
        for state in RESOLVING:
            if state in self.config.statuses:
                states.setdefault(self.config.statuses[state].casefold(), []).append(state)
        screens: dict[str, dict[str, str] | None] = {}
        for flow in self.workflows:
            name_of = {str(s.get("id")): str(s.get("name")) for s in flow.get("statuses") or []}
            for t in flow.get("transitions") or []:
                status = name_of.get(str(t.get("to")), "")
                first, *also = states.get(status.casefold()) or [""]
                if not first or t.get("type") == "initial":
                    continue
                screen = str((t.get("screen") or {}).get("id", ""))
                if screen and screen not in screens:
                    screens[screen] = self._screen_fields(screen)
                offered = screens.get(screen, {}) if screen else {}
                if offered is None:  # the screen could not be read: said once in the summary
                    continue
                if "resolution" not in offered:
                    where = f"its screen {screen}" if screen else "it (no screen)"
                    others = f" (also {', '.join(f'statuses.{o}' for o in also)})" if also else ""
                    self.find(
                        f"statuses.{first}",
                        status,
                        [f"{k} ({v})" for k, v in offered.items()] if screen else "no screen",
                        f"transition {t.get('name')!r} into {status!r} has no resolution field on {where}:"
                        f" the issue would be {status} unresolved{others}",
                    )

    def _screen_fields(self, screen: str) -> dict[str, str] | None:
        """id -> name of every field on the screen's tabs; None when this user may not read screens."""
        path, project = f"screens/{screen}/tabs", self.config.project
        try:
            tabs = self.get(path, projectKey=project)
            fields = [f for tab in tabs for f in self.get(f"{path}/{tab['id']}/fields", projectKey=project)]
        except (Unavailable, ConnectorError):
            note = "transition screens (reading screens needs Jira's admin permission)"
            self.skipped += [note] if note not in self.skipped else []
            return None
        return {str(f.get("id")): str(f.get("name", f.get("id"))) for f in fields}

    def _check_resolutions(self) -> None:
        offered = [str(r.get("name")) for r in self.get("resolution")]
        for field, value in [("resolution", self.config.resolution)] + [
            (f"resolutions.{k}", v) for k, v in self.config.resolutions.items()
        ]:
            if value not in offered:
                self.find(field, value, offered, "no such resolution")


def _allowed(spec: dict[str, Any]) -> list[str]:
    return [str(v.get("value", v.get("name"))) for v in spec.get("allowedValues") or [] if isinstance(v, dict)]


def _hops(graph: dict[str, set[str]], start: str) -> dict[str, int]:
    hops = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in graph.get(node, set()):
            if nxt not in hops:
                hops[nxt] = hops[node] + 1
                queue.append(nxt)
    return hops


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
