"""A loopback Jira (REST api/2; api/3 with Atlassian Document Format rich text) for the sandbox and the tests.

It enforces what makes real integrations fail (reference/trackers.md): fields not on the
create screen, option values and user shapes, transitions only from the current status,
required transition-screen fields, Cloud's retired search, errors in Jira's own shape.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from connectors.emulators import adf
from connectors.emulators.base import Emulator, EmulatorHTTPServer, Request, Response
from connectors.emulators.webhooks import WebhookSender

Deployment = Literal["Server", "Cloud"]
FieldType = Literal["string", "option", "user", "priority", "components", "labels", "resolution", "number", "date"]

SCREEN_TAB = 10100
NOT_ON_SCREEN = "Field '{0}' cannot be set. It is not on the appropriate screen, or unknown."
CATEGORIES = {
    "new": {"id": 2, "key": "new", "name": "To Do", "colorName": "blue-gray"},
    "indeterminate": {"id": 4, "key": "indeterminate", "name": "In Progress", "colorName": "yellow"},
    "done": {"id": 3, "key": "done", "name": "Done", "colorName": "green"},
}


@dataclass
class ScreenField:
    """One field on the create screen (createmeta): its type decides the accepted shape."""

    name: str
    type: FieldType
    required: bool = False
    allowed: list[str] = field(default_factory=list)
    custom: str = ""


@dataclass
class Transition:
    """A workflow transition; `sources` empty means global (from any status). Its screen holds the
    `required` fields and the optional `on_screen` ones; a transition with neither has no screen."""

    id: str
    name: str
    to: str
    sources: list[str] = field(default_factory=list)
    required: list[str] = field(default_factory=list)
    on_screen: list[str] = field(default_factory=list)

    @property
    def screen(self) -> list[str]:
        return [*self.required, *(f for f in self.on_screen if f not in self.required)]

    @property
    def screen_id(self) -> str:
        return f"1{self.id.zfill(4)}"


@dataclass
class Workflow:
    """Statuses (name -> (id, status category key)), the initial status and the transitions."""

    statuses: dict[str, tuple[str, str]]
    transitions: list[Transition]
    initial: str = "To Do"

    def available(self, status: str) -> list[Transition]:
        return [t for t in self.transitions if not t.sources or status in t.sources]


def default_workflow() -> Workflow:
    """Jira's simplified workflow: To Do -> In Progress -> Done (resolution required), Reopen."""
    return Workflow(
        statuses={
            "To Do": ("10000", "new"),
            "In Progress": ("3", "indeterminate"),
            "Done": ("10001", "done"),
        },
        transitions=[
            Transition("11", "Start progress", "In Progress", ["To Do"]),
            Transition("21", "Stop progress", "To Do", ["In Progress"]),
            Transition("31", "Resolve", "Done", ["In Progress"], ["resolution"]),
            Transition("41", "Reopen", "In Progress", ["Done"]),
        ],
    )


def review_workflow() -> Workflow:
    """A longer workflow: a Blocked side state offered first, and a review before Done."""
    return Workflow(
        statuses={
            "To Do": ("10000", "new"),
            "In Progress": ("3", "indeterminate"),
            "Blocked": ("10002", "indeterminate"),
            "In Review": ("10003", "indeterminate"),
            "Done": ("10001", "done"),
        },
        transitions=[
            Transition("12", "Block", "Blocked", ["To Do", "In Progress"]),
            Transition("11", "Start progress", "In Progress", ["To Do", "Blocked"]),
            Transition("31", "Request review", "In Review", ["In Progress"]),
            Transition("41", "Approve", "Done", ["In Review"], ["resolution"]),
            Transition("51", "Reopen", "In Progress", ["Done"]),
        ],
    )


def default_screen() -> dict[str, ScreenField]:
    """The DQ/Bug create screen, with the custom fields of DESIGN.md's mapping example."""
    levels = ["High", "Medium", "Low"]
    select = "com.atlassian.jira.plugin.system.customfieldtypes:select"
    text = "com.atlassian.jira.plugin.system.customfieldtypes:textfield"
    return {
        "summary": ScreenField("Summary", "string", required=True),
        "description": ScreenField("Description", "string"),
        "priority": ScreenField("Priority", "priority", allowed=["Highest", "High", "Medium", "Low", "Lowest"]),
        "labels": ScreenField("Labels", "labels"),
        "components": ScreenField("Component/s", "components", allowed=["Data Quality", "Pipelines"]),
        "assignee": ScreenField("Assignee", "user"),
        "customfield_10101": ScreenField("Urgency", "option", allowed=levels, custom=select),
        "customfield_10102": ScreenField("Impact", "option", allowed=levels, custom=select),
        "customfield_10103": ScreenField("Assignment group", "string", custom=text),
        "customfield_10104": ScreenField("Subcategory", "string", custom=text),
    }


DEFAULT_PEOPLE = {
    "sandbox": "557058:0a1b2c3d-sandbox",
    "alice": "557058:5e6f7a8b-alice",
    "bob": "557058:9c0d-bob",
}
RESOLUTIONS = ["Done", "Won't Do", "Duplicate", "Cannot Reproduce"]
DISPLAY_NAMES = {"sandbox": "Sandbox Integration", "alice": "Ana Lytics", "bob": "Bob Builder"}


def jira_error(status: int, messages: list[str] | None = None, errors: dict[str, str] | None = None) -> Response:
    """An answer in Jira's ErrorCollection shape."""
    return Response(status, {"errorMessages": messages or [], "errors": errors or {}})


class JiraEmulator(Emulator):
    """One project with one or more issue types, a create screen and a workflow."""

    name = "jira"

    def __init__(
        self,
        users: dict[str, str] | None = None,
        tokens: set[str] | None = None,
        *,
        deployment: Deployment = "Server",
        project: str = "DQ",
        issue_types: tuple[str, ...] = ("Bug",),
        screen: dict[str, ScreenField] | None = None,
        workflow: Workflow | None = None,
        people: dict[str, str] | None = None,
    ) -> None:
        super().__init__(users, tokens)
        self.deployment: Deployment = deployment
        self.project = project
        self.issue_types = {str(10004 + i): name for i, name in enumerate(issue_types)}
        self.screen = default_screen() if screen is None else screen
        self.workflow = workflow or default_workflow()
        self.people = dict(DEFAULT_PEOPLE if people is None else people)
        self.issues: dict[str, dict[str, Any]] = {}
        self.hooks = WebhookSender()  # two-way sync: what happens to issues goes out as Jira's webhooks
        self.issue_write_interval = 0.0  # > 0: Cloud's per-issue write limit (429 jira-per-issue-on-write)
        self._last_write: dict[str, float] = {}
        self._keys_by_id: dict[str, str] = {}
        self._comments_made: int | None = None
        self._routes()
        self._doctor_routes()

    def _routes(self) -> None:
        api = r"/rest/api/(?P<v>[23])"
        issue = api + r"/issue/(?P<key>[A-Za-z0-9-]+)"
        self.route("GET", api + "/serverInfo", self.server_info)
        self.route("GET", api + r"/issue/createmeta/(?P<project>[^/]+)/issuetypes", self.meta_types)
        self.route("GET", api + r"/issue/createmeta/(?P<project>[^/]+)/issuetypes/(?P<type>[^/]+)", self.meta_fields)
        self.route("POST", api + "/issue", self.create)
        self.route("GET", issue, self.get)
        self.route("GET", issue + "/transitions", self.transitions)
        self.route("POST", issue + "/transitions", self.transition)
        self.route("GET", issue + "/comment", self.comments)
        self.route("POST", issue + "/comment", self.comment)
        self.route("PUT", issue + r"/comment/(?P<comment>\d+)", self.comment)
        self.route("PUT", issue + "/assignee", self.assign)
        self.route("GET", api + "/search", self.search_get)
        self.route("POST", api + "/search/jql", self.search_jql)
        self.route("GET", api + "/user/search", self.user_search)

    # -- base hooks --------------------------------------------------------------------
    def dispatch(self, request: Request) -> Response:
        """Server and Data Center speak REST api/2 only: every /rest/api/3 path is unknown there."""
        if self.deployment != "Cloud" and request.path.startswith("/rest/api/3/"):
            return self.not_found(request)
        return super().dispatch(request)

    def unauthenticated(self) -> Response:
        return jira_error(401, ["You are not authenticated. Authentication required to perform this operation."])

    def not_found(self, request: Request) -> Response:
        return jira_error(404, [f"null for uri: {request.path}"])

    def fault_body(self, status: int) -> Any:
        return {"errorMessages": [f"Injected fault: HTTP {status}"], "errors": {}}

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self.issues.clear()
            self._comments_made = None
            self.hooks.reset()
            self._last_write.clear()

    def state(self) -> Any:
        with self.lock:
            return {"deployment": self.deployment, "issues": list(self.issues.values()), "webhooks": self.hooks.state()}

    def control(self, request: Request) -> Response | None:
        """Beside the base's: `act` (a person's move, comment, assignment) and the outgoing webhook's settings."""
        handled = super().control(request)  # the control token first, then the base's own endpoints
        if handled is not None:
            return handled
        if request.method == "POST" and request.path == "/_emulator/act":
            with self.lock:
                return act(self, request.json() or {})
        if request.method == "POST" and request.path == "/_emulator/webhook":
            self.hooks.configure(request.json() or {})
            return Response(204)
        if request.method == "POST" and request.path == "/_emulator/webhook/release":
            self.hooks.release(bool((request.json() or {}).get("reverse")))
            return Response(204)
        return None

    def emit(self, event: str, issue: dict[str, Any], user: str, **extra: Any) -> None:
        """Jira's webhook for a change `user` made (the gateway's own changes included, as Jira does)."""
        fields = {"status": {"name": issue["status"]}, "summary": issue["fields"].get("summary", "")}
        fields["resolution"] = None if issue["resolution"] is None else {"name": issue["resolution"]}
        person = self.person(user)
        self.clock_ms = max(int(time.time() * 1000), getattr(self, "clock_ms", 0) + 1)  # Jira's ms, strictly rising
        body = {
            "timestamp": self.clock_ms,
            "webhookEvent": event,
            "user": person,
            "issue": {"id": issue["id"], "key": issue["key"], "fields": fields},
            **extra,
        }
        if "comment" in extra:
            body["comment"] = {**extra["comment"], "author": person}
        issue["updated"] = time.time()
        self.hooks.emit(body)

    def person(self, user: str) -> dict[str, str]:
        """A user as Jira shows one (an author, a webhook's user): accountId, and the name on Server."""
        person = {"displayName": DISPLAY_NAMES.get(user, user), "accountId": self.people.get(user, user)}
        if self.deployment != "Cloud":
            person["name"] = user
        return person

    def snapshot(self) -> Any:
        return {"issues": self.issues}

    def restore(self, data: Any) -> None:
        with self.lock:
            self.issues = dict(data.get("issues", {}))
            self._comments_made = None

    # -- server info and create metadata -----------------------------------------------
    def server_info(self, request: Request) -> Response:
        cloud = self.deployment == "Cloud"
        version = [1001, 0, 0] if cloud else [9, 12, 0]
        return Response(
            200,
            {
                "baseUrl": _base(request),
                "version": ".".join(map(str, version)) + ("-SNAPSHOT" if cloud else ""),
                "versionNumbers": version,
                "deploymentType": self.deployment,
                "buildNumber": 100000 if cloud else 9120000,
                "serverTitle": "Jira (loopback emulator)",
            },
        )

    def meta_types(self, request: Request) -> Response:
        if request.params["project"] != self.project:
            return jira_error(404, [f"No project could be found with key '{request.params['project']}'."])
        values = [{"id": i, "name": n, "subtask": False, "description": ""} for i, n in self.issue_types.items()]
        return Response(200, self._page(request, values, "issueTypes"))

    def meta_fields(self, request: Request) -> Response:
        if request.params["project"] != self.project or request.params["type"] not in self.issue_types:
            return jira_error(404, [f"Issue type with id '{request.params['type']}' does not exist."])
        values = [_field_meta(fid, spec) for fid, spec in self.screen.items()]
        values += [
            _field_meta("project", ScreenField("Project", "string", True)),
            _field_meta("issuetype", ScreenField("Issue Type", "string", True)),
        ]
        return Response(200, self._page(request, values, "fields"))

    def _page(self, request: Request, values: list[Any], cloud_key: str) -> dict[str, Any]:
        """Server pages carry `values`; Cloud names the list after what it holds."""
        start, size = int(request.arg("startAt", "0")), int(request.arg("maxResults", "50"))
        chunk = values[start : start + size]
        key = cloud_key if self.deployment == "Cloud" else "values"
        return {
            "startAt": start,
            "maxResults": size,
            "total": len(values),
            key: chunk,
            "isLast": start + size >= len(values),
        }

    # -- issues --------------------------------------------------------------------------
    def create(self, request: Request) -> Response:
        payload = request.json()
        fields = payload.get("fields") if isinstance(payload, dict) else None
        if not isinstance(fields, dict):
            return jira_error(400, ["Can not deserialize instance of issue fields"])
        errors = self._check_create(fields, request.params["v"])
        if errors:
            return jira_error(400, [], errors)
        number = len(self.issues) + 1
        issue_id, key = str(10000 + number), f"{self.project}-{number}"
        stored = {k: v for k, v in fields.items() if k not in ("project", "issuetype")}
        self.issues[key] = {
            "id": issue_id,
            "key": key,
            "status": self.workflow.initial,
            "resolution": None,
            "issuetype": self._issue_type(fields["issuetype"]),
            "fields": stored,
            "comments": [],
            "comment_ids": [],
            "history": [self.workflow.initial],
            "created": time.time(),
        }
        return Response(201, {"id": issue_id, "key": key, "self": f"{_base(request)}/rest/api/2/issue/{issue_id}"})

    def _issue_type(self, ref: Any) -> str:
        if not isinstance(ref, dict):
            return ""
        if "id" in ref:
            return self.issue_types.get(str(ref["id"]), "")
        return next((n for n in self.issue_types.values() if n == ref.get("name")), "")

    def _check_create(self, fields: dict[str, Any], version: str = "2") -> dict[str, str]:
        """Jira's create validation: project, type, screen membership, then each value's shape
        (api/3 takes the description as an ADF document, api/2 as text)."""
        errors: dict[str, str] = {}
        project = fields.get("project")
        if not isinstance(project, dict) or project.get("key", project.get("id")) not in (
            self.project,
            "10000",
        ):
            errors["project"] = "valid project is required"
        if not self._issue_type(fields.get("issuetype")):
            errors["issuetype"] = "valid issue type is required"
        for name, value in fields.items():
            if name in ("project", "issuetype"):
                continue
            spec = self.screen.get(name)
            if spec is not None and name == "description" and version == "3":
                problem = adf.NOT_A_DOCUMENT if adf.problem(value) else ""
            else:
                problem = NOT_ON_SCREEN.format(name) if spec is None else self._check_value(spec, value)
            if problem:
                errors[name] = problem
        for name, spec in self.screen.items():
            if spec.required and not fields.get(name) and name not in errors:
                errors[name] = f"You must specify a {spec.name.lower()} of the issue."
        return errors

    def _check_value(self, spec: ScreenField, value: Any) -> str:
        """The message Jira gives for a value of the wrong shape or not allowed; '' when fine."""
        if spec.type == "string":
            if isinstance(value, str) and spec.name == "Summary" and len(value) > 255:
                return "Summary must be less than 255 characters."
            if isinstance(value, str) and spec.name == "Summary" and ("\n" in value or "\r" in value):
                return "The summary is invalid because it contains newline characters."
            return "" if isinstance(value, str) else f"Operation value must be a string ({spec.name})"
        if spec.type == "labels":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                return "Labels must be a list of strings"
            return self._check_labels(value)
        if spec.type == "components":
            if not isinstance(value, list) or not all(isinstance(v, dict) and "name" in v for v in value):
                return "Could not find valid 'id' or 'name' in component object."
            bad = next((v["name"] for v in value if v["name"] not in spec.allowed), None)
            return "" if bad is None else f"Component name '{bad}' is not valid"
        if spec.type == "priority":
            if not isinstance(value, dict) or "name" not in value:
                return "Could not find valid 'id' or 'name' in priority object."
            return "" if value["name"] in spec.allowed else f"Priority name '{value['name']}' is not valid"
        if spec.type == "option":
            if not isinstance(value, dict) or "value" not in value:
                return "Could not find valid 'id' or 'value' in the Parent Option object."
            return "" if value["value"] in spec.allowed else f"Option value '{value['value']}' is not valid"
        if spec.type == "user":
            return self._check_user(value)
        if spec.type == "number":
            number = isinstance(value, int | float) and not isinstance(value, bool)
            return "" if number else f"Operation value must be a number ({spec.name})"
        if spec.type == "date":
            valid = isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None
            return "" if valid else f"{spec.name}: Date value '{value}' is invalid: use the format yyyy-MM-dd"
        return ""

    def _check_labels(self, labels: list[str]) -> str:
        """Labels, the built-in field's or a labels custom field's: no whitespace, at most 255 characters; Server
        and Cloud word the refusal differently."""
        for label in labels:
            if any(char.isspace() for char in label):
                if self.deployment == "Cloud":
                    return f"The label '{label}' can't contain spaces."
                return f"The label '{label}' contains spaces which is invalid."
            if len(label) > 255:
                return f"The label '{label}' exceeds the maximum length for a single label of 255 characters."
        return ""

    def _check_user(self, value: Any) -> str:
        """Server/Data Center takes {"name"}, Cloud only {"accountId"} (GDPR mode)."""
        ref = "accountId" if self.deployment == "Cloud" else "name"
        if not isinstance(value, dict) or ref not in value:
            return f"Specify a valid value for the user: '{ref}' is required"
        known = self.people.values() if ref == "accountId" else self.people.keys()
        return "" if value[ref] in known else f"User '{value[ref]}' does not exist."

    def _write_limited(self, issue: dict[str, Any]) -> Response | None:
        """Too soon after the issue's last accepted write: 429 with Retry-After and RateLimit-Reason, as Cloud."""
        if self.issue_write_interval <= 0:
            return None
        now = time.monotonic()
        wait = self._last_write.get(issue["id"], -self.issue_write_interval) + self.issue_write_interval - now
        if wait > 0:
            headers = {"Retry-After": str(math.ceil(wait)), "RateLimit-Reason": "jira-per-issue-on-write"}
            return Response(429, {"errorMessages": ["Rate limit exceeded."], "errors": {}}, headers)
        self._last_write[issue["id"]] = now
        return None

    def _find(self, key: str) -> dict[str, Any] | None:
        """By key or by id (the gateway addresses issues by id); the id index is rebuilt when it is stale."""
        if key in self.issues:
            return self.issues[key]
        index = self._keys_by_id
        found = self.issues.get(index.get(key, ""))
        if found is None or found["id"] != key:
            index.clear()
            index.update((issue["id"], issue_key) for issue_key, issue in self.issues.items())
            found = self.issues.get(index.get(key, ""))
        return found

    def _issue_json(self, request: Request, issue: dict[str, Any], wanted: list[str] | None) -> dict[str, Any]:
        fields = dict(issue["fields"])
        sid, category = self.workflow.statuses[issue["status"]]
        fields["status"] = {"id": sid, "name": issue["status"], "statusCategory": CATEGORIES[category]}
        project = issue.get("project", self.project)
        fields["project"] = {"id": "10000", "key": project, "name": project}
        type_id = next(i for i, n in self.issue_types.items() if n == issue["issuetype"])
        fields["issuetype"] = {"id": type_id, "name": issue["issuetype"]}
        fields["resolution"] = None if issue["resolution"] is None else {"name": issue["resolution"]}
        fields["updated"] = time.strftime(
            "%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime(issue.get("updated", issue["created"]))
        )
        if wanted and "*all" not in wanted and "*navigable" not in wanted:
            fields = {k: v for k, v in fields.items() if k in wanted}
        return {
            "id": issue["id"],
            "key": issue["key"],
            "self": f"{_base(request)}/rest/api/2/issue/{issue['id']}",
            "fields": fields,
        }

    def get(self, request: Request) -> Response:
        issue = self._find(request.params["key"])
        if issue is None:
            return _no_issue()
        return Response(200, self._issue_json(request, issue, _field_list(request.arg("fields"))))

    def assign(self, request: Request) -> Response:
        """PUT .../assignee: the user by name (Server) or accountId (Cloud); 204."""
        issue = self._find(request.params["key"])
        if issue is None:
            return _no_issue()
        limited = self._write_limited(issue)
        if limited is not None:
            return limited
        user = request.json()
        problem = "" if user is None else self._check_user(user)
        if problem:
            return jira_error(400, [], {"assignee": problem})
        before = issue["fields"].get("assignee") or {}
        issue["fields"]["assignee"] = user
        self.emit("jira:issue_updated", issue, request.user, changelog=_changed("assignee", before, user or {}))
        return Response(204)

    def user_search(self, request: Request) -> Response:
        """GET /user/search: Cloud by `query` (accountIds, no names), Data Center by `username` (names)."""
        cloud = self.deployment == "Cloud"
        wanted = request.arg("query" if cloud else "username").casefold()
        if not wanted:
            return jira_error(400, [f"The '{'query' if cloud else 'username'}' query parameter is required."])
        found = []
        for name, account in self.people.items():
            user = {"displayName": name.title(), "emailAddress": f"{name}@example.com", "active": True}
            if any(wanted in str(v).casefold() for v in (name, *user.values())):
                found.append({"accountId": account, "accountType": "atlassian", **user} if cloud else
                             {"name": name, "key": name, **user})
        return Response(200, found)

    def move_issue(self, key: str, project: str) -> str:
        """An admin moves the issue to another project: a new key, the same id; the old key is gone (404)."""
        with self.lock:
            issue = self.issues.pop(key)
            number = 1 + sum(1 for i in self.issues.values() if i["key"].startswith(f"{project}-"))
            issue["key"], issue["project"] = f"{project}-{number}", project
            self.issues[issue["key"]] = issue
            return str(issue["key"])

    def comment(self, request: Request) -> Response:
        """POST .../comment and PUT .../comment/{id} (an edit replaces the body, as Jira does)."""
        issue = self._find(request.params["key"])
        if issue is None:
            return _no_issue()
        ids = issue.setdefault("comment_ids", [])
        editing = request.params.get("comment")
        if editing is not None and editing not in ids:
            return jira_error(404, [f"Can not find a comment for the id: {editing}."])
        limited = self._write_limited(issue)
        if limited is not None:
            return limited
        body = (request.json() or {}).get("body")
        if request.params["v"] == "3" and body and adf.problem(body):
            return jira_error(400, [], {"comment": adf.NOT_A_DOCUMENT})
        empty = not body or (isinstance(body, dict) and not body.get("content"))
        if not isinstance(body, str if request.params["v"] == "2" else dict) or empty:
            return jira_error(400, [], {"comment": "Comment body can not be empty!"})
        if editing is not None:
            comment_id = editing
            issue["comments"][ids.index(editing)] = body
            about = issue.setdefault("comment_info", {}).setdefault(editing, {})
            about.update(updated=time.time(), editor=request.user)
        else:
            comment_id = self._add_comment(issue, body, request.user)
        event = "comment_updated" if editing is not None else "comment_created"
        self.emit(event, issue, request.user, comment={"id": comment_id, "body": body})
        answer = {"id": comment_id, "body": body}
        answer["self"] = f"{_base(request)}/rest/api/2/issue/{issue['id']}/comment/{comment_id}"
        return Response(200 if editing is not None else 201, answer)

    def _add_comment(self, issue: dict[str, Any], body: Any, user: str) -> str:
        if self._comments_made is None:  # counted once, then kept (not per comment)
            self._comments_made = sum(len(i["comments"]) for i in self.issues.values())
        comment_id = str(20000 + self._comments_made)
        self._comments_made += 1
        issue["comments"].append(body)
        issue.setdefault("comment_ids", []).append(comment_id)
        issue.setdefault("comment_info", {})[comment_id] = {"author": user, "created": time.time()}
        return comment_id

    def comments(self, request: Request) -> Response:
        """GET .../comment: a page of comments (oldest first, or by `orderBy` created / -created), each with its
        author and dates; bodies as text on api/2 and ADF documents on api/3, whichever way they were written."""
        issue = self._find(request.params["key"])
        if issue is None:
            return _no_issue()
        order = request.arg("orderBy", "created")
        if order.lstrip("+-") != "created":
            return jira_error(400, [f"Invalid orderBy value: {order}. Accepted values: created."])
        start, size = int(request.arg("startAt", "0")), int(request.arg("maxResults", "50"))
        info = issue.get("comment_info", {})
        ids = issue.get("comment_ids", [])
        rows = sorted(
            zip(ids, issue["comments"], strict=True),
            key=lambda row: (info.get(row[0], {}).get("created", issue["created"]), int(row[0])),
            reverse=order.startswith("-"),
        )
        listed = []
        for comment_id, body in rows[start : start + size]:
            about = info.get(comment_id, {})
            created = about.get("created", issue["created"])
            author = self.person(str(about.get("author", "")))
            listed.append({
                "self": f"{_base(request)}/rest/api/2/issue/{issue['id']}/comment/{comment_id}",
                "id": comment_id,
                "author": author,
                "body": _body_for(body, request.params["v"]),
                "updateAuthor": self.person(str(about["editor"])) if "editor" in about else author,
                "created": _jira_time(created),
                "updated": _jira_time(about.get("updated", created)),
            })  # fmt: skip
        return Response(200, {"startAt": start, "maxResults": size, "total": len(rows), "comments": listed})

    # -- workflow ------------------------------------------------------------------------
    def _transition_json(self, transition: Transition, expand: bool) -> dict[str, Any]:
        sid, category = self.workflow.statuses[transition.to]
        data: dict[str, Any] = {
            "id": transition.id,
            "name": transition.name,
            "hasScreen": bool(transition.screen),
            "isGlobal": not transition.sources,
            "isInitial": False,
            "isAvailable": True,
            "isConditional": False,
            "to": {"id": sid, "name": transition.to, "statusCategory": CATEGORIES[category]},
        }
        if expand:
            data["fields"] = {name: _transition_field(name, name in transition.required) for name in transition.screen}
        return data

    def transitions(self, request: Request) -> Response:
        issue = self._find(request.params["key"])
        if issue is None:
            return _no_issue()
        expand = "transitions.fields" in request.arg("expand")
        listed = [self._transition_json(t, expand) for t in self.workflow.available(issue["status"])]
        return Response(200, {"expand": "transitions", "transitions": listed})

    def transition(self, request: Request) -> Response:
        issue = self._find(request.params["key"])
        if issue is None:
            return _no_issue()
        limited = self._write_limited(issue)
        if limited is not None:
            return limited
        payload = request.json() or {}
        wanted = str((payload.get("transition") or {}).get("id", ""))
        chosen = next((t for t in self.workflow.available(issue["status"]) if t.id == wanted), None)
        if chosen is None:
            return jira_error(400, [f"Transition id '{wanted}' is not valid for this issue."])
        errors = _check_transition_fields(chosen, payload.get("fields") or {})
        if errors:
            return jira_error(400, [], errors)
        resolution = (payload.get("fields") or {}).get("resolution") or {}
        self.move(issue, chosen, resolution.get("name"), request.user)
        return Response(204)

    def move(self, issue: dict[str, Any], chosen: Transition, resolution: str | None, user: str) -> None:
        before = issue["status"]
        issue["status"] = chosen.to
        issue["history"].append(chosen.to)
        # The resolution is what the transition's screen set, whatever the status's category: Jira keeps a
        # resolution given on the way to a status that is not done (the issue then reads as resolved there).
        was, issue["resolution"] = issue["resolution"], resolution or None
        item = {"field": "status", "fieldtype": "jira", "fromString": before, "toString": chosen.to}
        item.update({"from": self.workflow.statuses[before][0], "to": self.workflow.statuses[chosen.to][0]})
        items = [item]
        if issue["resolution"] != was:  # Jira logs the resolution beside the status, first
            change = {"field": "resolution", "fieldtype": "jira", "fromString": was, "toString": issue["resolution"]}
            items.insert(0, change)
        self.emit("jira:issue_updated", issue, user, changelog={"id": str(len(issue["history"])), "items": items})

    # -- search --------------------------------------------------------------------------
    def search_get(self, request: Request) -> Response:
        if self.deployment == "Cloud":
            return jira_error(
                410, ["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."]
            )
        found = self._search(request.arg("jql"))
        if isinstance(found, Response):
            return found
        size = int(request.arg("maxResults", "50"))
        wanted = _field_list(request.arg("fields"))
        issues = [self._issue_json(request, i, wanted) for i in found[:size]]
        return Response(200, {"startAt": 0, "maxResults": size, "total": len(found), "issues": issues})

    def search_jql(self, request: Request) -> Response:
        if self.deployment != "Cloud":
            return self.not_found(request)
        payload = request.json() or {}
        found = self._search(str(payload.get("jql", "")))
        if isinstance(found, Response):
            return found
        size = int(payload.get("maxResults", 50))
        wanted = payload.get("fields") or []
        issues = [self._issue_json(request, i, wanted) for i in found[:size]]
        return Response(200, {"issues": issues, "isLast": len(found) <= size})

    def _search(self, jql: str) -> list[dict[str, Any]] | Response:
        """The JQL the gateway needs: `field = value` clauses (labels, key, project) joined by AND."""
        clauses = [c.strip() for c in re.split(r"\s+AND\s+", jql.strip(), flags=re.IGNORECASE) if c.strip()]
        found = list(self.issues.values())
        for clause in clauses:
            match = re.fullmatch(r'(\w+)\s*=\s*"?([^"]*)"?', clause)
            if not match or match.group(1).lower() not in ("labels", "key", "project"):
                return jira_error(400, [f"Error in the JQL Query: unsupported clause '{clause}'."])
            name, value = match.group(1).lower(), match.group(2)
            found = [i for i in found if _jql_holds(i, name, value, self.project)]
        return found

    # -- what the mapping doctor reads (all GET) -------------------------------------------
    def _doctor_routes(self) -> None:
        api = r"/rest/api/(?P<v>[23])"
        project = api + r"/project/(?P<project>[^/]+)"
        self.route("GET", api + "/myself", self.myself)
        self.route("GET", api + "/project", self.projects)
        self.route("GET", project, self.project_json)
        self.route("GET", project + "/components", self.components)
        self.route("GET", project + "/statuses", self.project_statuses)
        self.route("GET", api + "/priority", self.priorities)
        self.route("GET", api + "/resolution", self.resolutions)
        self.route("GET", api + "/workflow/search", self.workflow_search)
        self.route("GET", api + "/workflowscheme/project", self.workflow_scheme)
        self.route("GET", api + r"/screens/(?P<screen>\d+)/tabs", self.screen_tabs)
        self.route("GET", api + r"/screens/(?P<screen>\d+)/tabs/(?P<tab>\d+)/fields", self.screen_fields)

    def myself(self, request: Request) -> Response:
        person: dict[str, Any] = {"displayName": request.user, "active": True}
        if self.deployment == "Cloud":  # Cloud names people by accountId only; Server by name (and key)
            return Response(200, {**person, "accountId": self.people.get(request.user, request.user)})
        return Response(200, {**person, "name": request.user, "key": request.user})

    def _project(self) -> dict[str, Any]:
        return {"id": "10000", "key": self.project, "name": f"{self.project} project"}

    def projects(self, request: Request) -> Response:
        return Response(200, [self._project()])

    def project_json(self, request: Request) -> Response:
        if request.params["project"] not in (self.project, "10000"):
            return jira_error(404, [f"No project could be found with key '{request.params['project']}'."])
        types = [{"id": i, "name": n, "subtask": False} for i, n in self.issue_types.items()]
        return Response(200, {**self._project(), "issueTypes": types})

    def components(self, request: Request) -> Response:
        if request.params["project"] not in (self.project, "10000"):
            return jira_error(404, [f"No project could be found with key '{request.params['project']}'."])
        spec = self.screen.get("components")
        names = spec.allowed if spec else []
        return Response(200, [{"id": str(10100 + i), "name": n} for i, n in enumerate(names)])

    def _statuses_json(self) -> list[dict[str, Any]]:
        return [
            {"id": sid, "name": name, "statusCategory": CATEGORIES[category]}
            for name, (sid, category) in self.workflow.statuses.items()
        ]

    def project_statuses(self, request: Request) -> Response:
        if request.params["project"] not in (self.project, "10000"):
            return jira_error(404, [f"No project could be found with key '{request.params['project']}'."])
        statuses = self._statuses_json()
        return Response(200, [{"id": i, "name": n, "statuses": statuses} for i, n in self.issue_types.items()])

    def priorities(self, request: Request) -> Response:
        spec = self.screen.get("priority")
        names = spec.allowed if spec else ["Highest", "High", "Medium", "Low", "Lowest"]
        return Response(200, [{"id": str(i + 1), "name": n} for i, n in enumerate(names)])

    def resolutions(self, request: Request) -> Response:
        return Response(200, [{"id": str(10000 + i), "name": n} for i, n in enumerate(RESOLUTIONS)])

    def workflow_search(self, request: Request) -> Response:
        """Cloud's workflow search (expand=transitions): the one workflow, `from`/`to` as status ids."""
        ids = {name: sid for name, (sid, _) in self.workflow.statuses.items()}
        initial = {"id": "1", "name": "Create", "from": [], "to": ids[self.workflow.initial], "type": "initial"}
        transitions = [initial] + [
            {
                "id": t.id,
                "name": t.name,
                "from": [ids[s] for s in t.sources],
                "to": ids[t.to],
                "type": "directed" if t.sources else "global",
                **({"screen": {"id": t.screen_id, "name": f"{t.name} screen"}} if t.screen else {}),
            }
            for t in self.workflow.transitions
        ]
        statuses = self._statuses_json()
        flow: dict[str, Any] = {
            "id": {"name": f"{self.project} workflow"},
            "statuses": statuses,
            "transitions": transitions,
        }
        # Another team's workflow, listed first as a real instance may: its own create status and no way on
        other: dict[str, Any] = {
            "id": {"name": "Service desk workflow"},
            "statuses": [{"id": "20000", "name": "Waiting for support"}, {"id": "20001", "name": "Closed"}],
            "transitions": [{"id": "1", "name": "Create", "from": [], "to": "20000", "type": "initial"}],
        }
        wanted = request.arg("workflowName")
        flows = [f for f in (other, flow) if not wanted or f["id"]["name"] == wanted]
        return Response(200, {"startAt": 0, "maxResults": 50, "total": len(flows), "isLast": True, "values": flows})

    def workflow_scheme(self, request: Request) -> Response:
        """The project's workflow scheme: every issue type on the project's workflow (Jira's default mapping)."""
        if request.arg("projectId") != "10000":
            return Response(200, {"values": []})
        scheme = {"id": 10100, "name": f"{self.project} scheme", "defaultWorkflow": f"{self.project} workflow"}
        scheme["issueTypeMappings"] = {}
        return Response(200, {"values": [{"projectIds": ["10000"], "workflowScheme": scheme}]})

    def _screen(self, request: Request) -> Transition | None:
        wanted = request.params["screen"]
        return next((t for t in self.workflow.transitions if t.screen and t.screen_id == wanted), None)

    def screen_tabs(self, request: Request) -> Response:
        """A transition screen's tabs (one, "Field Tab", as Jira makes them); 404 for an unknown screen."""
        if self._screen(request) is None:
            return jira_error(404, [f"The screen with id {request.params['screen']} does not exist."])
        return Response(200, [{"id": SCREEN_TAB, "name": "Field Tab"}])

    def screen_fields(self, request: Request) -> Response:
        """The fields on a screen tab: `[{id, name}]`."""
        transition = self._screen(request)
        if transition is None or request.params["tab"] != str(SCREEN_TAB):
            return jira_error(404, [f"The screen tab with id {request.params['tab']} does not exist."])
        return Response(200, [{"id": name, "name": name.capitalize()} for name in transition.screen])


def act(jira: JiraEmulator, payload: dict[str, Any]) -> Response:
    """A person at work in Jira: `{"issue", "as", "move_to", "comment", "assign", "move_key"}`.

    `move_to` walks the workflow one real transition at a time (each sends its own webhook);
    `move_key` gives the issue a new key (as moving it to another project does), keeping its id.
    """
    issue = jira._find(str(payload.get("issue", "")))
    if issue is None:
        return _no_issue()
    user = str(payload.get("as", "alice"))
    if payload.get("move_key"):
        jira.issues[str(payload["move_key"])] = jira.issues.pop(issue["key"])
        issue["key"] = str(payload["move_key"])
    if payload.get("move_to"):
        route = _route(jira.workflow, issue["status"], str(payload["move_to"]))
        if route is None:
            return jira_error(400, [f"no way from {issue['status']} to {payload['move_to']}"])
        for transition in route:  # a person fills the resolution on the way to a done status only
            done = jira.workflow.statuses[transition.to][1] == "done"
            jira.move(issue, transition, str(payload.get("resolution", "Done")) if done else None, user)
    if "assign" in payload:
        before, name = issue["fields"].get("assignee") or {}, payload["assign"]
        issue["fields"]["assignee"] = {"name": name} if name else None
        jira.emit("jira:issue_updated", issue, user, changelog=_changed("assignee", before, {"name": name or None}))
    if payload.get("comment"):
        comment_id = jira._add_comment(issue, str(payload["comment"]), user)
        jira.emit("comment_created", issue, user, comment={"id": comment_id, "body": str(payload["comment"])})
    return Response(200, {"key": issue["key"], "status": issue["status"]})


def _route(workflow: Workflow, start: str, goal: str) -> list[Transition] | None:
    """The shortest walk of transitions from `start` to `goal` (a person clicking through)."""
    paths: dict[str, list[Transition]] = {start: []}
    frontier = [start]
    while frontier:
        status = frontier.pop(0)
        if status == goal:
            return paths[status]
        for transition in workflow.available(status):
            if transition.to not in paths:
                paths[transition.to] = [*paths[status], transition]
                frontier.append(transition.to)
    return None


def _changed(name: str, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """A changelog with one user-field item, as Jira writes it (ids in from/to, names in the strings)."""
    item: dict[str, Any] = {"field": name, "fieldtype": "jira"}
    item.update({"from": before.get("name") or before.get("accountId"), "fromString": before.get("name")})
    item.update({"to": after.get("name") or after.get("accountId"), "toString": after.get("name")})
    return {"id": "1", "items": [item]}


def _jql_holds(issue: dict[str, Any], name: str, value: str, project: str) -> bool:
    if name == "labels":
        return value in issue["fields"].get("labels", [])
    if name == "key":
        return bool(issue["key"] == value)
    return value == project


def _check_transition_fields(transition: Transition, fields: dict[str, Any]) -> dict[str, str]:
    errors = {name: NOT_ON_SCREEN.format(name) for name in fields if name not in transition.screen}
    for name in transition.required:
        value = fields.get(name)
        if not value:
            errors[name] = f"{name.capitalize()} is required."
        elif name == "resolution" and (not isinstance(value, dict) or value.get("name") not in RESOLUTIONS):
            errors[name] = "Could not find valid 'id' or 'name' in resolution object."
    return errors


def _transition_field(name: str, required: bool = True) -> dict[str, Any]:
    """FieldMetadata of a transition screen field (only resolution's values are modelled)."""
    allowed = [{"id": str(10000 + i), "name": n} for i, n in enumerate(RESOLUTIONS)]
    return {
        "required": required,
        "schema": {"type": name, "system": name},
        "name": name.capitalize(),
        "key": name,
        "operations": ["set"],
        "allowedValues": allowed if name == "resolution" else [],
    }


def _field_meta(field_id: str, spec: ScreenField) -> dict[str, Any]:
    """A createmeta field entry: id, name, required, schema (type/items/system/custom), allowed values."""
    schema: dict[str, Any] = {
        "string": {"type": "string"},
        "option": {"type": "option"},
        "user": {"type": "user"},
        "priority": {"type": "priority"},
        "components": {"type": "array", "items": "component"},
        "labels": {"type": "array", "items": "string"},
        "resolution": {"type": "resolution"},
        "number": {"type": "number"},
        "date": {"type": "date"},
    }[spec.type]
    if spec.custom:
        schema = {**schema, "custom": spec.custom, "customId": int(field_id.rsplit("_", 1)[-1])}
    else:
        schema = {**schema, "system": field_id}
    meta: dict[str, Any] = {
        "fieldId": field_id,
        "key": field_id,
        "name": spec.name,
        "required": spec.required,
        "schema": schema,
        "hasDefaultValue": False,
        "operations": ["set"],
    }
    if spec.allowed:
        shape = "value" if spec.type == "option" else "name"
        meta["allowedValues"] = [{"id": str(10000 + i), shape: v} for i, v in enumerate(spec.allowed)]
    return meta


def _jira_time(at: float) -> str:
    """Jira's date-time: `2026-01-25T12:00:00.123+0000`."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}+0000"


def _body_for(body: Any, version: str) -> Any:
    """A comment body as api/2 (text) or api/3 (ADF) shows it, whichever way it was written."""
    if version == "3" and isinstance(body, str):
        paragraph = {"type": "paragraph", "content": [{"type": "text", "text": body}]}
        return {"type": "doc", "version": 1, "content": [paragraph]}
    if version == "2" and isinstance(body, dict):
        return adf.plain(body)
    return body


def _field_list(raw: str) -> list[str] | None:
    return [f.strip() for f in raw.split(",") if f.strip()] or None


def _no_issue() -> Response:
    return jira_error(404, ["Issue does not exist or you do not have permission to see it."])


def _base(request: Request) -> str:
    return f"http://{request.headers.get('host', '127.0.0.1')}"


SANDBOX_USERS = {"sandbox": "sandbox-token"}


def sandbox(users: dict[str, str] | None = None, **options: Any) -> JiraEmulator:
    """The sandbox emulator: basic auth for `users` and their tokens also accepted as bearer PATs."""
    accounts = dict(SANDBOX_USERS if users is None else users)
    return JiraEmulator(accounts, set(accounts.values()), **options)


def serve(
    host: str = "127.0.0.1",
    port: int = 9001,
    users: dict[str, str] | None = None,
    deployment: Deployment = "Server",
    control_token: str | None = None,
    ready: Callable[[int], None] | None = None,
) -> None:
    """Run the sandbox Jira until interrupted (`gateway emulate jira`); `ready` hears the port once it listens."""
    emulator = sandbox(users, deployment=deployment)
    emulator.control_token = control_token or emulator.control_token
    server = EmulatorHTTPServer(emulator, host, port)
    if ready is not None:
        ready(server.server_address[1])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
