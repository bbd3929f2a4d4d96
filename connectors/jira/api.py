"""Jira's HTTP calls over the `jira` package, and the one place their failures are classified.

The client never retries (the job runner's policy is the one retry layer); whatever it raised
becomes RetryableError / PermanentError / BugError through `gateway.core.outbound`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import requests
from jira import JIRA, JIRAError

from connectors.jira.config import JiraTarget
from connectors.sessions import prepare_session
from gateway.core.outbound import AuthError, ConnectorError, RetryableError, from_status, unexpected

PAGE = 100
_SAFE_REASON = re.compile(r"[^\w.,-]")  # Jira's reasons look like jira-burst-based; anything else is dropped
_REASONS = {
    400: "rejected the request",
    401: "refused the credentials (check user and token)",
    403: "denied permission",
    404: "has no such resource",
    410: "has retired this API (set deployment: cloud?)",
}


def classify(exc: BaseException, action: str) -> ConnectorError:
    """Turn whatever the client raised into an outbound error; never uses str(JIRAError)."""
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, JIRAError):
        return _from_http(exc.status_code, exc.response, action)
    if isinstance(exc, requests.exceptions.JSONDecodeError):
        return RetryableError(f"{action}: Jira answered with something that is not JSON")
    if isinstance(exc, requests.Timeout):
        return RetryableError(f"{action}: Jira did not answer in time")
    if isinstance(exc, requests.ConnectionError):
        return RetryableError(f"{action}: could not reach Jira (connection failed or was dropped)")
    if isinstance(exc, requests.RequestException):
        return RetryableError(f"{action}: unreadable answer from Jira ({type(exc).__name__})")
    return unexpected(action, exc)


def _from_http(status: int | None, response: requests.Response | None, action: str) -> ConnectorError:
    detail = _describe_body(response)
    suffix = f": {detail}" if detail else ""
    if status is None or response is None:
        return RetryableError(f"{action}: Jira gave an unexpected answer{suffix}")
    what = {408: "timed out the request", 429: "rate limited"}.get(status, "server error")
    if status < 500 and status not in (408, 429):
        what = _REASONS.get(status, "refused the request")
    why = _SAFE_REASON.sub("", response.headers.get("RateLimit-Reason", ""))[:80] if status == 429 else ""
    message = f"{action}: Jira {what} (HTTP {status}{f', RateLimit-Reason: {why}' if why else ''}){suffix}"
    if status == 403:  # Jira's 403 is the user's permissions (or a CAPTCHA after failed logins), not the request
        return AuthError(message, http_status=status)
    return from_status(status, response.headers, message)


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


class Api:
    """The HTTP calls, over the `jira` package's client and its session.

    Where the package's helper sends a shape the REST API does not document (a numeric
    transition id), needs server info (createmeta, Cloud search) or fetches extra resources
    (search loads /field), the call goes through the client's own session instead.
    """

    def __init__(self, config: JiraTarget) -> None:
        self.server = config.url.rstrip("/")
        self.version = str(config.api)  # writes carrying rich text go to api/3 when the target says so
        auth: dict[str, Any] = (
            {"basic_auth": (config.user, config.token)} if config.user else {"token_auth": config.token}
        )
        self.client = JIRA(self.server, max_retries=0, timeout=config.timeout, get_server_info=False, **auth)
        prepare_session(self.client._session, self.server)

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
        if self.version == "3":
            return dict(self.json("POST", self.url("issue", "3"), data=json.dumps({"fields": fields})))
        return dict(self.client.create_issue(fields=fields, prefetch=False).raw)

    def issue(self, key: str) -> dict[str, Any]:
        """The issue's JSON as Jira sends it (the package's Resource objects cost a worker ~1 ms to build)."""
        return dict(self.json("GET", self.url(f"issue/{key}"), params={"fields": "status,priority,project,issuetype"}))

    def issue_state(self, key: str) -> dict[str, Any]:
        """What two-way sync's reconcile compares: status and resolution, assignee, priority, when it changed."""
        fields = "status,resolution,priority,assignee,updated"
        return dict(self.json("GET", self.url(f"issue/{key}"), params={"fields": fields}))

    def transitions(self, key: str) -> list[dict[str, Any]]:
        return list(self.client.transitions(key, expand="transitions.fields"))

    def transition(self, key: str, transition_id: str, fields: dict[str, Any]) -> None:
        body: dict[str, Any] = {"transition": {"id": transition_id}}
        if fields:
            body["fields"] = fields
        self.json("POST", self.url(f"issue/{key}/transitions", self.version), data=json.dumps(body))

    def comment(self, key: str, body: str | dict[str, Any]) -> str:
        """Post a comment (text on api/2, an ADF document on api/3); its id."""
        if isinstance(body, str):
            return str(self.client.add_comment(key, body).id)
        return str(self.json("POST", self.url(f"issue/{key}/comment", "3"), data=json.dumps({"body": body}))["id"])

    def comments(self, key: str, newest: int) -> list[dict[str, Any]]:
        """The issue's `newest` comments, newest first (bodies as text on api/2, ADF documents on api/3)."""
        params = {"orderBy": "-created", "maxResults": newest}
        page = self.json("GET", self.url(f"issue/{key}/comment", self.version), params=params)
        return list(page.get("comments") or [])

    def edit_comment(self, key: str, comment_id: str, body: str | dict[str, Any]) -> None:
        version = "2" if isinstance(body, str) else "3"
        self.json("PUT", self.url(f"issue/{key}/comment/{comment_id}", version), data=json.dumps({"body": body}))

    def assign(self, key: str, user: dict[str, str]) -> None:
        self.json("PUT", self.url(f"issue/{key}/assignee"), data=json.dumps(user))

    def users(self, query: str) -> list[dict[str, Any]]:
        """Cloud's user search (by e-mail or name; answers carry accountIds)."""
        return list(self.json("GET", self.url("user/search"), params={"query": query, "maxResults": 10}))

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]  # the package leaves close() unannotated
