"""`jira` targets: create, move and comment on issues (the Connector protocol over Jira)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from typing import Any, Literal, TypeVar

import msgspec

from connectors import pacing
from connectors.base import AssignRequest, CommentRequest, CreateRequest, RemoteChange, RemoteTicket, StatusRequest, cut
from connectors.jira import adf, users, wiki
from connectors.jira.api import Api, classify
from connectors.jira.config import MAPPABLE, MAX_HOPS, JiraTarget, correlation_label
from connectors.jira.inbound import read_state
from connectors.jira.workflow import Planner, cached_meta, keep_meta
from gateway.core.models import TicketFields
from gateway.core.outbound import PermanentError
from gateway.core.redact import Redactor, secret_values

T = TypeVar("T")
SUMMARY_LIMIT = JiraTarget.SUMMARY_LIMIT
LABELS_TYPE = "com.atlassian.jira.plugin.system.customfieldtypes:labels"  # a custom field holding Jira labels
RECENT_COMMENTS = 20  # the issue's newest comments a retried comment is looked for among


class JiraConnector:
    """Connector protocol over Jira: idempotent create, workflow walks, comments."""

    def __init__(self, config: JiraTarget) -> None:
        self.config = config
        self.api = Api(config)
        self._deployment: str | None = config.deployment
        basic = f"{config.user}:{config.token}".encode()
        self._redact = Redactor([*secret_values(config), base64.b64encode(basic).decode()])

    # -- the edge ------------------------------------------------------------------------
    @contextmanager
    def _edge(self, action: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            raise self._redact.error(classify(exc, action)) from None

    def _call(self, action: str, fn: Callable[..., T], *args: Any) -> T:
        with self._edge(action):
            return fn(*args)

    # -- Connector protocol --------------------------------------------------------------
    def create(self, request: CreateRequest) -> RemoteTicket:
        with self._edge("create"):
            self._check_api()
            return self._create(request)

    def preview(self, request: CreateRequest) -> dict[str, Any]:
        """The create payload; reads createmeta (a GET) for the field shapes, changes nothing."""
        with self._edge("preview"):
            return self._create_fields(request.fields, correlation_label(request.correlation_key))

    def set_status(self, request: StatusRequest) -> RemoteTicket:
        with self._edge("set status"):
            self._check_api()
            return self._set_status(request)

    def comment(self, request: CommentRequest) -> None:
        self.post_comment(request)

    def post_comment(self, request: CommentRequest) -> str:
        """Add a comment; its id (coalesced recurrence comments are edited by it)."""
        return self._comment(_address(request.link), request.text, request.first_try, request.since)

    def edit_comment(self, request: CommentRequest, comment_id: str) -> None:
        key = _address(request.link)
        self._call("check api", self._check_api)
        self._pace(key)
        self._call("edit comment", self.api.edit_comment, key, comment_id, self._text("comment", request.text))

    def assign(self, request: AssignRequest) -> RemoteTicket:
        """Assign through the assignee resource: no edit screen needed, name or accountId by deployment."""
        key = _address(request.link)
        with self._edge("assign"):
            user = self._user(request.assignee)
            self._pace(key)
            self.api.assign(key, user)
        return request.link

    def close(self) -> None:
        self.api.close()

    def read_state(self, link: RemoteTicket) -> RemoteChange:
        """The issue as it is now, found by its id (its key may have changed), for the reconcile pass."""
        issue = self._call("read issue", self.api.issue_state, link.external_id)
        return read_state(issue, link)

    def _create(self, request: CreateRequest) -> RemoteTicket:
        """Search by correlation label first, so a retried or re-run create finds its issue."""
        label = correlation_label(request.correlation_key)
        canonical = request.fields.status or "New"
        target = self._jira_status(canonical, "create")
        found = None if request.first_try else self._find(label)
        if found is None:
            fields = self._create_fields(request.fields, label)
            try:
                created = self._call("create issue", self.api.create, fields)
            except PermanentError as rejected:
                if rejected.http_status == 400:
                    self._forget_meta()
                raise
            self._pace(str(created["id"]))  # the create is the new issue's first write
            found = self._call("read new issue", self.api.issue, str(created["key"]))
        ticket = self._ticket(found)
        if ticket.remote_status.casefold() != target.casefold():
            ticket = self._walk(found, canonical, target)
        return msgspec.structs.replace(ticket, notes=self._limit_notes(request.fields))

    def _limit_notes(self, ticket: TicketFields) -> list[str]:
        """What Jira's field limits changed, for the execution's result."""
        summary = _one_line(ticket.short_description)
        notes = []
        if len(summary) > SUMMARY_LIMIT:
            notes.append(f"summary cut from {len(summary)} to {SUMMARY_LIMIT} characters (Jira's limit)")
        meta = cached_meta(self._meta_key) or {}  # read for the create; a retry that found its issue may lack it
        for name, field_id in self.config.fields.items():
            value = getattr(ticket, name)
            takes_labels = field_id == "labels" or _is_labels(meta.get(field_id, {}).get("schema") or {})
            if takes_labels and value and _label(value) != value:
                notes.append(f"{name}: label {_label(value)!r} sent (Jira labels: no spaces, 255 characters at most)")
        return notes

    def _set_status(self, request: StatusRequest) -> RemoteTicket:
        target = self._jira_status(request.status, "set status")
        key = _address(request.link)
        issue = self._call("read issue", self.api.issue, key)
        ticket = self._ticket(issue)
        if ticket.remote_status.casefold() != target.casefold():
            ticket = self._walk(issue, request.status, target)
        if request.note.strip():
            self._comment(key, request.note, request.first_try, request.since)
        return ticket

    def _comment(self, key: str, text: str, first_try: bool, since: float) -> str:
        """Post `text` as a comment, its id; a retry takes the comment an earlier try posted, when it is there."""
        self._call("check api", self._check_api)
        body = self._text("comment", text)
        posted = "" if first_try else self._posted(key, body, since)
        if posted:
            return posted
        self._pace(key)
        return self._call("add comment", self.api.comment, key, body)

    def _posted(self, key: str, body: str | dict[str, Any], since: float) -> str:
        """The id of a comment with this body among the issue's RECENT_COMMENTS newest, dated `since` or later
        ('' when none): an earlier try posted it and its answer was lost."""
        for found in self._call("read comments", self.api.comments, key, RECENT_COMMENTS):
            created = _jira_time(found.get("created"))
            if (created is None or created >= since) and _same_body(found.get("body"), body):
                return str(found["id"])
        return ""

    def _pace(self, issue: str) -> None:
        """Jira limits writes per issue: this process spaces its own by issue_write_interval_ms."""
        pacing.WRITES.wait((self.api.server, issue), self.config.issue_write_interval_ms / 1000)

    # -- create --------------------------------------------------------------------------
    def _jira_status(self, canonical: str, action: str) -> str:
        status = self.config.statuses.get(canonical)
        if not status:
            raise PermanentError(f"{action}: ticket status {canonical!r} has no Jira status under statuses:")
        return status

    def _check_api(self) -> None:
        """api 3 is Jira Cloud's: Server/Data Center answers every /rest/api/3 write with a bare 404."""
        if self.config.api == 3 and not self._cloud():
            raise PermanentError(
                f"api: 3 is Jira Cloud's REST API, and {self.api.server} is Jira Server/Data Center, which has only"
                " api 2: remove api: 3 from the target (descriptions and comments then go as wiki text)"
            )

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
            "summary": cut(_one_line(ticket.short_description), SUMMARY_LIMIT),
            "labels": list(dict.fromkeys([*config.labels, label])),
        }
        if ticket.description:
            fields["description"] = self._text("description", ticket.description)
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
            elif field_id == "labels":
                fields["labels"].append(_label(value))
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
            return self._user(value)
        if kind == "option":
            return {"value": value}
        if _is_labels(schema):  # a labels custom field: Jira refuses a label with a space as in `labels`
            return [_label(value)]
        if kind == "array":
            if items == "user":
                return [self._user(value)]
            single = {"option": {"value": value}}.get(str(items))
            return [single if single is not None else ({"name": value} if items != "string" else value)]
        if kind in ("priority", "version", "group", "component", "resolution"):
            return {"name": value}
        if kind == "number":
            try:
                return float(value)
            except ValueError:
                raise PermanentError(f"{field_id}: {value!r} is not a number, which this Jira field needs") from None
        return value

    def _text(self, field: Literal["description", "comment"], text: str) -> str | dict[str, Any]:
        """An ADF document on api 3; else wiki-escaped, unless the target says this field's text is trusted markup."""
        if self.config.api == 3:
            return adf.document(text)
        return text if field in self.config.trusted_markup else wiki.escape(text)

    def _user_key(self) -> str:
        return self.config.assignee_by or ("accountId" if self._cloud() else "name")

    def _user(self, who: str) -> dict[str, str]:
        """A user reference: `name` on Data Center; on Cloud an accountId, an e-mail or name found by user search."""
        key = self._user_key()
        if key == "accountId":
            who = users.account_id(self.api.server, who, partial(self._call, "search users", self.api.users))
        return {key: who}

    def _meta(self) -> dict[str, dict[str, Any]]:
        """createmeta for the target's project and issue type, kept for META_TTL_S per process."""
        meta = cached_meta(self._meta_key)
        if meta is None:
            meta = self._call("read create metadata", self._read_meta)
            keep_meta(self._meta_key, meta)
        return meta

    @property
    def _meta_key(self) -> tuple[str, str, str]:
        return (self.api.server, self.config.project, self.config.issue_type.casefold())

    def _forget_meta(self) -> None:
        """A rejected create may mean the screen changed: the next one reads createmeta again."""
        keep_meta(self._meta_key, None)

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
        planner = Planner(self.config, canonical, target, current, graph_key)
        for _ in range(MAX_HOPS):
            if current.casefold() == target.casefold():
                break
            options = self._call("list transitions", self.api.transitions, key)
            planner.learn(current, options)
            chosen = planner.choose(current, options)
            payload = self._transition_fields(chosen, canonical)
            self._pace(str(issue.get("id") or key))
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
        """Fill what the transition's screen requires; resolution from resolutions/resolution, and only where the
        screen requires it or the transition ends in a done status: Jira keeps a resolution given on the way to
        any other status, and the issue reads as resolved there."""
        screen = transition.get("fields") or {}
        payload: dict[str, Any] = {}
        done = ((transition.get("to") or {}).get("statusCategory") or {}).get("key") == "done"
        for field_id, meta in screen.items():
            if field_id == "resolution":
                if meta.get("required") or done:
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


def _address(link: RemoteTicket) -> str:
    """Issues are addressed by id: it survives a move to another project, which changes the key."""
    return link.external_id or link.external_key


def _same_body(found: Any, sent: str | dict[str, Any]) -> bool:
    """A comment's body as Jira gives it back, against the one the gateway sends: wiki text (line ends and
    outer blanks aside), or an ADF document (its text: Jira may add attributes or merge text nodes)."""
    if isinstance(sent, str):
        return isinstance(found, str) and _lines(found) == _lines(sent)
    return found == sent or (isinstance(found, dict) and adf.text(found) == adf.text(sent) != "")


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").strip()


def _jira_time(value: Any) -> float | None:
    """Jira's `2026-01-25T12:00:00.000+0000` as epoch seconds; None when it is not that."""
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    except ValueError:
        return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _is_labels(schema: dict[str, Any]) -> bool:
    """Does this createmeta schema describe a custom field of the labels type?"""
    return schema.get("custom") == LABELS_TYPE


def _label(value: str) -> str:
    """A Jira label: no whitespace (hyphens instead), at most 255 characters."""
    return "-".join(value.split())[:255]


def build(config: JiraTarget) -> JiraConnector:
    return JiraConnector(config)
