"""`jira` targets: create, move and comment on issues through the `jira` package.

The client never retries (the job runner's tenacity policy is the one retry layer) and every
failure is turned into RetryableError / PermanentError by `classify`, at this module's edge.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import msgspec
import requests
from jira import JIRA, JIRAError

from connectors.base import AssignRequest, CommentRequest, CreateRequest, RemoteTicket, StatusRequest
from gateway.core.models import TicketFields
from gateway.core.outbound import ConnectorError, PermanentError, RetryableError, parse_retry_after
from gateway.core.retry_config import RetryConfig

CANONICAL_RANK = {"New": 0, "In Progress": 1, "On Hold": 1, "Resolved": 2, "Closed": 3, "Canceled": 3}
OFF_ROUTE = ("On Hold", "Canceled")
DEFAULT_PRIORITIES = {"Critical": "Highest", "High": "High", "Medium": "Medium", "Low": "Low"}
DEFAULT_STATUSES = {
    "New": "To Do",
    "In Progress": "In Progress",
    "Resolved": "Done",
    "Closed": "Done",
    "Canceled": "Done",
}
MAPPABLE = ("urgency", "impact", "category", "subcategory", "assignment_group", "assigned_to")
MAX_HOPS = 6
PAGE = 100
T = TypeVar("T")


class JiraTarget(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A Jira target's YAML (DESIGN.md, 'Jira targets, in detail').

    `priorities` and `statuses` entries override the defaults key by key.
    """

    kind: str = "jira"
    url: str
    user: str = ""
    token: str = ""
    project: str
    issue_type: str = "Bug"
    labels: list[str] = msgspec.field(default_factory=list)
    components: list[str] = msgspec.field(default_factory=list)
    fields: dict[str, str] = msgspec.field(default_factory=dict)
    priorities: dict[str, str] = msgspec.field(default_factory=dict)
    statuses: dict[str, str] = msgspec.field(default_factory=dict)
    resolution: str = "Done"
    resolutions: dict[str, str] = msgspec.field(default_factory=dict)
    paths: dict[str, list[str]] = msgspec.field(default_factory=dict)
    deployment: Literal["server", "cloud"] | None = None
    assignee_by: Literal["name", "accountId"] | None = None
    timeout: float = 10.0
    retry: RetryConfig = msgspec.field(default_factory=RetryConfig)

    def __post_init__(self) -> None:
        self.priorities = {**DEFAULT_PRIORITIES, **self.priorities}
        self.statuses = {**DEFAULT_STATUSES, **self.statuses}
        for check in (_check_basics, _check_labels, _check_fields, _check_canonical_keys):
            check(self)


def _check_basics(config: JiraTarget) -> None:
    if urlsplit(config.url).scheme not in ("http", "https") or not urlsplit(config.url).netloc:
        raise ValueError("url: must be an http(s) URL such as https://example.atlassian.net")
    if not config.project.strip():
        raise ValueError("project: must name the Jira project key, e.g. DQ")
    if not config.issue_type.strip():
        raise ValueError("issue_type: must not be empty")
    if not config.token:
        raise ValueError("token: an API token (with user) or a personal access token (without) is required")
    if config.timeout <= 0:
        raise ValueError("timeout: must be a positive number of seconds")
    if not config.resolution.strip():
        raise ValueError("resolution: must not be empty")


def _check_labels(config: JiraTarget) -> None:
    for label in config.labels:
        if not label or " " in label or len(label) > 255:
            raise ValueError(f"labels: {label!r} is not a Jira label (1-255 characters, no spaces)")


def _check_fields(config: JiraTarget) -> None:
    seen: dict[str, str] = {}
    for name, field_id in config.fields.items():
        if name not in MAPPABLE:
            raise ValueError(f"fields.{name}: unknown ticket field (one of {', '.join(MAPPABLE)})")
        if not field_id or not field_id.replace("_", "").isalnum():
            raise ValueError(f"fields.{name}: {field_id!r} is not a Jira field id (e.g. customfield_10101)")
        if field_id in seen and field_id != "components":
            raise ValueError(f"fields.{name}: {field_id} is already used by fields.{seen[field_id]}")
        seen[field_id] = name


def _check_canonical_keys(config: JiraTarget) -> None:
    for key, table in (
        ("statuses", config.statuses),
        ("resolutions", config.resolutions),
        ("paths", config.paths),
    ):
        for status, value in table.items():
            if status not in CANONICAL_RANK:
                raise ValueError(f"{key}.{status}: not a ticket status (one of {', '.join(CANONICAL_RANK)})")
            if not value:
                raise ValueError(f"{key}.{status}: must not be empty")
    for status, route in config.paths.items():
        if len(route) > MAX_HOPS:
            raise ValueError(f"paths.{status}: at most {MAX_HOPS} statuses")
    for name, value in config.priorities.items():
        if not value.strip():
            raise ValueError(f"priorities.{name}: must name a Jira priority")


def correlation_label(correlation_key: str) -> str:
    """The label that finds an anomaly's issue again: short, stable, no spaces."""
    return "dqgw-" + hashlib.sha256(correlation_key.encode()).hexdigest()[:20]


# -- the one classification of failures ---------------------------------------------------


def classify(exc: BaseException, action: str, secrets: tuple[str, ...] = ()) -> ConnectorError:
    """Turn whatever the client raised into Retryable/PermanentError; never uses str(JIRAError)."""
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, JIRAError):
        error = _from_http(exc.status_code, exc.response, action)
    elif isinstance(exc, requests.exceptions.JSONDecodeError):
        error = RetryableError(f"{action}: Jira answered with something that is not JSON")
    elif isinstance(exc, requests.Timeout):
        error = RetryableError(f"{action}: Jira did not answer in time")
    elif isinstance(exc, requests.ConnectionError):
        error = RetryableError(f"{action}: could not reach Jira (connection failed or was dropped)")
    elif isinstance(exc, requests.RequestException | ValueError):
        error = RetryableError(f"{action}: unreadable answer from Jira ({type(exc).__name__})")
    else:
        error = RetryableError(f"{action}: unexpected client failure ({type(exc).__name__})")
    return _scrubbed(error, secrets)


def _from_http(status: int | None, response: requests.Response | None, action: str) -> ConnectorError:
    detail = _describe_body(response)
    suffix = f": {detail}" if detail else ""
    if status is None or response is None:
        return RetryableError(f"{action}: Jira gave an unexpected answer{suffix}")
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        what = "rate limited" if status == 429 else "server error"
        return RetryableError(
            f"{action}: Jira {what} (HTTP {status}){suffix}", http_status=status, retry_after=retry_after
        )
    reason = {
        400: "rejected the request",
        401: "refused the credentials (check user and token)",
        403: "denied permission",
        404: "has no such resource",
        410: "has retired this API (set deployment: cloud?)",
    }.get(status, "refused the request")
    return PermanentError(f"{action}: Jira {reason} (HTTP {status}){suffix}", http_status=status)


def _describe_body(response: requests.Response | None) -> str:
    """Jira's errorMessages and per-field errors as `field: message`, else a short text."""
    if response is None:
        return ""
    try:
        body = response.json()
    except ValueError:
        return " ".join(response.text.split())[:300]
    if not isinstance(body, dict):
        return ""
    parts = [str(m) for m in body.get("errorMessages") or []]
    parts += [f"{name}: {message}" for name, message in (body.get("errors") or {}).items()]
    return "; ".join(parts)[:1000]


def _scrubbed(error: ConnectorError, secrets: tuple[str, ...]) -> ConnectorError:
    """Belt and braces: an answer that echoes a credential must not carry it into the log."""
    message = error.message
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    if message != error.message:
        error.message = message
        error.args = (message,)
    return error


# -- process-level caches (per Jira URL + project + issue type) ---------------------------

_lock = threading.Lock()
META_TTL_S = 600.0  # a worker lives long: an admin's screen change is seen within ten minutes
_meta_cache: dict[tuple[str, str, str], tuple[float, dict[str, dict[str, Any]]]] = {}
_transition_cache: dict[tuple[str, str, str], dict[str, dict[str, str]]] = {}


def clear_caches() -> None:
    """Forget create metadata and seen transitions (tests; a Jira admin changed the project)."""
    with _lock:
        _meta_cache.clear()
        _transition_cache.clear()


class _Api:
    """The HTTP calls, over the `jira` package's client and its session.

    Where the package's helper sends a shape the REST API does not document (a numeric
    transition id), needs server info (createmeta, Cloud search) or fetches extra resources
    (search loads /field), the call goes through the client's own session instead.
    """

    def __init__(self, config: JiraTarget) -> None:
        self.server = config.url.rstrip("/")
        auth: dict[str, Any] = (
            {"basic_auth": (config.user, config.token)} if config.user else {"token_auth": config.token}
        )
        self.client = JIRA(self.server, max_retries=0, timeout=config.timeout, get_server_info=False, **auth)

    def url(self, path: str, version: str = "2") -> str:
        return f"{self.server}/rest/api/{version}/{path}"

    def json(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self.client._session.request(method, url, **kwargs)
        return response.json() if response.content else {}

    def server_info(self) -> dict[str, Any]:
        return dict(self.client.server_info())

    def paged(self, path: str, cloud_key: str) -> list[dict[str, Any]]:
        """createmeta pages: Server calls the list `values`, Cloud `issueTypes` / `fields`."""
        items: list[dict[str, Any]] = []
        while True:
            page = self.json("GET", self.url(path), params={"startAt": len(items), "maxResults": PAGE})
            chunk = page.get("values", page.get(cloud_key)) or []
            items += chunk
            total = page.get("total")
            if not chunk or page.get("isLast") is True or (total is not None and len(items) >= int(total)):
                return items

    def search(self, jql: str, cloud: bool) -> list[dict[str, Any]]:
        fields = ["status", "priority"]
        if cloud:
            body = {"jql": jql, "maxResults": 1, "fields": fields}
            found = self.json("POST", self.url("search/jql", "3"), data=json.dumps(body))
        else:
            params = {"jql": jql, "maxResults": 1, "fields": ",".join(fields)}
            found = self.json("GET", self.url("search"), params=params)
        return list(found.get("issues") or [])

    def create(self, fields: dict[str, Any]) -> dict[str, Any]:
        return dict(self.client.create_issue(fields=fields, prefetch=False).raw)

    def issue(self, key: str) -> dict[str, Any]:
        return dict(self.client.issue(key, fields="status,priority,project,issuetype").raw)

    def transitions(self, key: str) -> list[dict[str, Any]]:
        return list(self.client.transitions(key, expand="transitions.fields"))

    def transition(self, key: str, transition_id: str, fields: dict[str, Any]) -> None:
        body: dict[str, Any] = {"transition": {"id": transition_id}}
        if fields:
            body["fields"] = fields
        self.json("POST", self.url(f"issue/{key}/transitions"), data=json.dumps(body))

    def comment(self, key: str, text: str) -> None:
        self.client.add_comment(key, text)

    def assign(self, key: str, user: dict[str, str]) -> None:
        self.json("PUT", self.url(f"issue/{key}/assignee"), data=json.dumps(user))

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]  # the package leaves close() unannotated


class JiraConnector:
    """Connector protocol over Jira: idempotent create, workflow walks, comments."""

    def __init__(self, config: JiraTarget) -> None:
        self.config = config
        self.api = _Api(config)
        self._deployment: str | None = config.deployment
        basic = f"{config.user}:{config.token}".encode()
        self._secrets = (config.token, base64.b64encode(basic).decode())

    # -- the edge ------------------------------------------------------------------------
    @contextmanager
    def _edge(self, action: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            raise classify(exc, action, self._secrets) from None

    def _call(self, action: str, fn: Callable[..., T], *args: Any) -> T:
        with self._edge(action):
            return fn(*args)

    # -- Connector protocol --------------------------------------------------------------
    def create(self, request: CreateRequest) -> RemoteTicket:
        with self._edge("create"):
            return self._create(request)

    def preview(self, request: CreateRequest) -> dict[str, Any]:
        """The create payload; reads createmeta (a GET) for the field shapes, changes nothing."""
        with self._edge("preview"):
            return self._create_fields(request.fields, correlation_label(request.correlation_key))

    def set_status(self, request: StatusRequest) -> RemoteTicket:
        with self._edge("set status"):
            return self._set_status(request)

    def comment(self, request: CommentRequest) -> None:
        key = request.link.external_key or request.link.external_id
        self._call("add comment", self.api.comment, key, request.text)

    def assign(self, request: AssignRequest) -> RemoteTicket:
        """Assign through the assignee resource: no edit screen needed, name or accountId by deployment."""
        key = request.link.external_key or request.link.external_id
        with self._edge("assign"):
            self.api.assign(key, {self._user_key(): request.assignee})
        return request.link

    def close(self) -> None:
        self.api.close()

    def _create(self, request: CreateRequest) -> RemoteTicket:
        """Search by correlation label first, so a retried or re-run create finds its issue."""
        label = correlation_label(request.correlation_key)
        canonical = request.fields.status or "New"
        target = self._jira_status(canonical, "create")
        found = self._find(label)
        if found is None:
            fields = self._create_fields(request.fields, label)
            try:
                created = self._call("create issue", self.api.create, fields)
            except PermanentError as rejected:
                if rejected.http_status == 400:
                    self._forget_meta()
                raise
            found = self._call("read new issue", self.api.issue, str(created["key"]))
        ticket = self._ticket(found)
        if ticket.remote_status.casefold() == target.casefold():
            return ticket
        return self._walk(found, canonical, target)

    def _set_status(self, request: StatusRequest) -> RemoteTicket:
        target = self._jira_status(request.status, "set status")
        key = request.link.external_key or request.link.external_id
        issue = self._call("read issue", self.api.issue, key)
        ticket = self._ticket(issue)
        if ticket.remote_status.casefold() != target.casefold():
            ticket = self._walk(issue, request.status, target)
        if request.note.strip():
            self._call("add comment", self.api.comment, key, request.note)
        return ticket

    # -- create --------------------------------------------------------------------------
    def _jira_status(self, canonical: str, action: str) -> str:
        status = self.config.statuses.get(canonical)
        if not status:
            raise PermanentError(f"{action}: ticket status {canonical!r} has no Jira status under statuses:")
        return status

    def _cloud(self) -> bool:
        if self._deployment is None:
            info = self._call("read serverInfo", self.api.server_info)
            self._deployment = "cloud" if str(info.get("deploymentType", "")).lower() == "cloud" else "server"
        return self._deployment == "cloud"

    def _find(self, label: str) -> dict[str, Any] | None:
        jql = f'project = "{self.config.project}" AND labels = "{label}"'
        cloud = self._cloud()
        found = self._call("search by correlation label", self.api.search, jql, cloud)
        return found[0] if found else None

    def _create_fields(self, ticket: TicketFields, label: str) -> dict[str, Any]:
        """The create payload: system fields, then each mapped ticket field in its screen's shape."""
        config = self.config
        fields: dict[str, Any] = {
            "project": {"key": config.project},
            "issuetype": {"name": config.issue_type},
            "summary": _one_line(ticket.short_description)[:255],
            "labels": list(dict.fromkeys([*config.labels, label])),
        }
        if ticket.description:
            fields["description"] = ticket.description
        if ticket.priority:
            fields["priority"] = {"name": config.priorities.get(ticket.priority, ticket.priority)}
        components = list(config.components)
        for name in MAPPABLE:
            value = getattr(ticket, name)
            field_id = config.fields.get(name, "assignee" if name == "assigned_to" else "")
            if not value or not field_id:
                continue
            if field_id == "components":
                components.append(value)
            else:
                fields[field_id] = self._shape(field_id, value)
        if components:
            fields["components"] = [{"name": c} for c in dict.fromkeys(components)]
        return fields

    def _shape(self, field_id: str, value: str) -> Any:
        """A value in the shape the create metadata gives the field (unknown fields stay text)."""
        schema = self._meta().get(field_id, {}).get("schema") or {}
        kind, items = schema.get("type"), schema.get("items")
        if kind == "user" or (field_id == "assignee" and not schema):
            return {self._user_key(): value}
        if kind == "option":
            return {"value": value}
        if kind == "array":
            single = {"option": {"value": value}, "user": {self._user_key(): value}}.get(str(items))
            return [single if single is not None else ({"name": value} if items != "string" else value)]
        if kind in ("priority", "version", "group", "component", "resolution"):
            return {"name": value}
        if kind == "number":
            return float(value)
        return value

    def _user_key(self) -> str:
        return self.config.assignee_by or ("accountId" if self._cloud() else "name")

    def _meta(self) -> dict[str, dict[str, Any]]:
        """createmeta for the target's project and issue type, kept for META_TTL_S per process."""
        with _lock:
            cached = _meta_cache.get(self._meta_key)
        if cached is not None and time.monotonic() - cached[0] < META_TTL_S:
            return cached[1]
        meta = self._call("read create metadata", self._read_meta)
        with _lock:
            _meta_cache[self._meta_key] = (time.monotonic(), meta)
        return meta

    @property
    def _meta_key(self) -> tuple[str, str, str]:
        return (self.api.server, self.config.project, self.config.issue_type.casefold())

    def _forget_meta(self) -> None:
        """A rejected create may mean the screen changed: the next one reads createmeta again."""
        with _lock:
            _meta_cache.pop(self._meta_key, None)

    def _read_meta(self) -> dict[str, dict[str, Any]]:
        project = self.config.project
        types = self.api.paged(f"issue/createmeta/{project}/issuetypes", "issueTypes")
        wanted = self.config.issue_type.casefold()
        match = next((t for t in types if str(t.get("name", "")).casefold() == wanted), None)
        if match is None:
            names = ", ".join(str(t.get("name")) for t in types) or "none"
            raise PermanentError(f"issue type {self.config.issue_type!r} is not in project {project} ({names})")
        fields = self.api.paged(f"issue/createmeta/{project}/issuetypes/{match['id']}", "fields")
        return {str(f.get("fieldId") or f.get("key")): f for f in fields}

    # -- workflow ------------------------------------------------------------------------
    def _walk(self, issue: dict[str, Any], canonical: str, target: str) -> RemoteTicket:
        """Move the issue to `target` one real transition at a time (DESIGN.md's planner)."""
        key = str(issue["key"])
        fields = issue.get("fields") or {}
        graph_key = (
            self.api.server,
            str((fields.get("project") or {}).get("key", self.config.project)),
            str((fields.get("issuetype") or {}).get("name", self.config.issue_type)).casefold(),
        )
        current = str((fields.get("status") or {}).get("name", ""))
        planner = _Planner(self.config, canonical, target, current, graph_key)
        for _ in range(MAX_HOPS):
            if current.casefold() == target.casefold():
                break
            options = self._call("list transitions", self.api.transitions, key)
            planner.learn(current, options)
            chosen = planner.choose(current, options)
            payload = self._transition_fields(chosen, canonical)
            self._call("transition issue", self.api.transition, key, str(chosen["id"]), payload)
            current = str(chosen["to"]["name"])
            planner.visited.add(current.casefold())
        if current.casefold() != target.casefold():
            raise PermanentError(
                f"{key}: {target!r} not reached within {MAX_HOPS} transitions (stopped at {current!r}); "
                f"reachable statuses: {planner.reachable_text()}"
            )
        return msgspec.structs.replace(self._ticket(issue), remote_status=current)

    def _transition_fields(self, transition: dict[str, Any], canonical: str) -> dict[str, Any]:
        """Fill what the transition's screen requires; resolution from resolutions/resolution."""
        screen = transition.get("fields") or {}
        payload: dict[str, Any] = {}
        for field_id, meta in screen.items():
            if field_id == "resolution":
                payload["resolution"] = {"name": self._resolution(canonical, meta)}
            elif meta.get("required") and not meta.get("hasDefaultValue"):
                raise PermanentError(
                    f"transition {transition.get('name')!r} requires field {field_id} "
                    f"({meta.get('name', field_id)}), which the gateway does not fill"
                )
        return payload

    def _resolution(self, canonical: str, meta: dict[str, Any]) -> str:
        wanted = self.config.resolutions.get(canonical, self.config.resolution)
        allowed = [str(v.get("name")) for v in meta.get("allowedValues") or [] if isinstance(v, dict)]
        if allowed and wanted.casefold() not in {a.casefold() for a in allowed}:
            raise PermanentError(f"resolution: {wanted!r} is not offered by Jira ({', '.join(allowed)})")
        return next((a for a in allowed if a.casefold() == wanted.casefold()), wanted)

    def _ticket(self, issue: dict[str, Any]) -> RemoteTicket:
        fields = issue.get("fields") or {}
        return RemoteTicket(
            external_id=str(issue["id"]),
            external_key=str(issue["key"]),
            url=f"{self.api.server}/browse/{issue['key']}",
            remote_status=str((fields.get("status") or {}).get("name", "")),
            remote_priority=str((fields.get("priority") or {}).get("name", "")),
        )


class _Planner:
    """Chooses each hop: along a pinned path, straight to the target, or the best allowed detour."""

    def __init__(
        self, config: JiraTarget, canonical: str, target: str, start: str, graph_key: tuple[str, str, str]
    ) -> None:
        self.target = target.casefold()
        self.target_name = target
        self.canonical = canonical
        self.pinned = [s.casefold() for s in config.paths.get(canonical, [])]
        self.visited = {start.casefold()}
        self.reachable: dict[str, str] = {}
        self.graph_key = graph_key
        self.canon_of: dict[str, set[str]] = {}
        for state, status in config.statuses.items():
            self.canon_of.setdefault(status.casefold(), set()).add(state)
        start_ranks = [CANONICAL_RANK[c] for c in self.canon_of.get(start.casefold(), set())]
        target_rank = CANONICAL_RANK.get(canonical, 0)
        self.band = (min([*start_ranks, target_rank]) if start_ranks else 0, target_rank)

    def learn(self, current: str, options: list[dict[str, Any]]) -> None:
        """Remember the transitions out of `current` for this project and issue type."""
        edges = {str(o["to"]["name"]).casefold(): str(o["to"]["name"]) for o in options}
        for name in edges.values():
            self.reachable.setdefault(name.casefold(), name)
        with _lock:
            _transition_cache.setdefault(self.graph_key, {})[current.casefold()] = edges

    def reachable_text(self) -> str:
        names = [n for k, n in self.reachable.items() if k not in self.visited] or list(self.reachable.values())
        return ", ".join(names) or "none"

    def choose(self, current: str, options: list[dict[str, Any]]) -> dict[str, Any]:
        if self.pinned:
            return self._pinned(current, options)
        direct = [o for o in options if _leads_to(o, self.target)]
        if direct:
            return direct[0]
        allowed = [o for o in options if self._allowed(str(o["to"]["name"]).casefold())]
        if not allowed:
            raise PermanentError(
                f"no workflow route from {current!r} to {self.target_name!r} "
                f"({self.canonical}); reachable statuses: {self.reachable_text()}"
            )
        distance = self._distances()
        return min(allowed, key=lambda o: distance.get(str(o["to"]["name"]).casefold(), MAX_HOPS + 1))

    def _pinned(self, current: str, options: list[dict[str, Any]]) -> dict[str, Any]:
        route = self.pinned
        position = route.index(current.casefold()) + 1 if current.casefold() in route else 0
        wanted = route[position] if position < len(route) else self.target
        found = [o for o in options if _leads_to(o, wanted)]
        if not found:
            raise PermanentError(
                f"paths.{self.canonical}: {wanted!r} cannot be reached from {current!r}; "
                f"reachable statuses: {self.reachable_text()}"
            )
        return found[0]

    def _allowed(self, status: str) -> bool:
        """Not visited, and not tied to a canonical state off the way (side states, overshoot, back)."""
        if status in self.visited:
            return False
        states = self.canon_of.get(status)
        if not states:
            return True
        low, high = self.band
        return any(s not in OFF_ROUTE and low <= CANONICAL_RANK[s] <= high for s in states)

    def _distances(self) -> dict[str, int]:
        """Hops from each known status to the target over transitions seen before (reverse BFS)."""
        with _lock:
            graph = {k: dict(v) for k, v in _transition_cache.get(self.graph_key, {}).items()}
        distance = {self.target: 0}
        queue = deque([self.target])
        while queue:
            node = queue.popleft()
            for source, edges in graph.items():
                if node in edges and source not in distance and self._allowed(source):
                    distance[source] = distance[node] + 1
                    queue.append(source)
        return distance


def _leads_to(option: dict[str, Any], status: str) -> bool:
    to = option.get("to") or {}
    return status in (str(to.get("name", "")).casefold(), str(to.get("id", "")).casefold())


def _one_line(text: str) -> str:
    return " ".join(text.split())


def build(config: JiraTarget) -> JiraConnector:
    return JiraConnector(config)
