"""`servicenow`: incidents through `pysnow`, shaped the way a ServiceNow admin expects them.

Every HTTP exchange goes through `ServiceNowConnector._call`, the one place where what
`requests`/`pysnow` raised becomes a RetryableError or a PermanentError.
"""

from __future__ import annotations

import functools
import hashlib
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import jinja2
import msgspec
import pysnow
import pysnow.exceptions
import requests
from jinja2.sandbox import SandboxedEnvironment

from connectors.base import AssignRequest, CommentRequest, CreateRequest, RemoteTicket, StatusRequest
from gateway.core.outbound import ConnectorError, PermanentError, RetryableError, parse_retry_after
from gateway.core.retry_config import RetryConfig

T = TypeVar("T")

STATES: dict[str, int] = {
    "New": 1,
    "In Progress": 2,
    "On Hold": 3,
    "Resolved": 6,
    "Closed": 7,
    "Canceled": 8,
}
CLOSING = ("Resolved", "Closed")
URGENCY_IMPACT: dict[str, int] = {"High": 1, "Medium": 2, "Low": 3}
# Chosen so the instance's default lookup derives back the same priority:
# 1/1 -> 1 Critical, 1/2 -> 2 High, 2/2 -> 3 Moderate, 3/3 -> 5 Planning (4 Low on newest releases).
PRIORITY_TO_URGENCY_IMPACT: dict[str, tuple[int, int]] = {
    "Critical": (1, 1),
    "High": (1, 2),
    "Medium": (2, 2),
    "Low": (3, 3),
}
DEFAULT_CLOSE_NOTES = "Resolved by the data-quality gateway ({{ ticket.number }})"
MAX_CORRELATION_ID = 100
RECORD_FIELDS = ["sys_id", "number", "state", "priority"]
_TABLE = re.compile(r"^[A-Za-z0-9_.-]+$")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_RETRYABLE_STATUS = (408, 429)


@functools.lru_cache(maxsize=64)
def _template(source: str) -> jinja2.Template:
    """Compiled once per source text; config load and the connector share the result."""
    return SandboxedEnvironment(autoescape=False).from_string(source)


class ServiceNowTarget(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A `kind: servicenow` target; keys as in DESIGN.md's mapping example.

    `urgency_impact` turns the canonical High/Medium/Low into the instance's 1/2/3;
    `priority_to_urgency_impact` is used when a mapping gives only a priority. `close_codes`
    overrides `close_code` per canonical status; a `Canceled` entry makes cancelling send a
    close code and notes too (instances that want them on cancel).
    """

    kind: str = "servicenow"
    url: str
    user: str
    password: str
    table: str = "incident"
    timeout: float = 10.0
    caller: str = ""
    close_code: str = "Solution provided"
    close_codes: dict[str, str] = msgspec.field(default_factory=dict)
    close_notes: str = DEFAULT_CLOSE_NOTES
    hold_reason: int | str = 1
    states: dict[str, int] = msgspec.field(default_factory=dict)
    urgency_impact: dict[str, int] = msgspec.field(default_factory=lambda: dict(URGENCY_IMPACT))
    priority_to_urgency_impact: dict[str, tuple[int, int]] = msgspec.field(
        default_factory=lambda: dict(PRIORITY_TO_URGENCY_IMPACT)
    )
    retry: RetryConfig = msgspec.field(default_factory=RetryConfig)

    def __post_init__(self) -> None:
        _check_url(self.url)
        for key in ("user", "password", "close_code"):
            if not str(getattr(self, key)).strip():
                raise ValueError(f"{key} must not be empty")
        if not _TABLE.match(self.table):
            raise ValueError(f"table: {self.table!r} is not a table name")
        if self.timeout <= 0:
            raise ValueError("timeout must be positive seconds")
        if not str(self.hold_reason).strip():
            raise ValueError("hold_reason must not be empty")
        _check_statuses("states", self.states)
        _check_statuses("close_codes", self.close_codes)
        _check_codes("states", self.states)
        _check_codes("urgency_impact", self.urgency_impact)
        for name, pair in self.priority_to_urgency_impact.items():
            _check_codes(f"priority_to_urgency_impact.{name}", dict(zip(("urgency", "impact"), pair, strict=True)))
        try:
            _template(self.close_notes)
        except jinja2.TemplateSyntaxError as exc:
            raise ValueError(f"close_notes: template does not compile: {exc.message}") from None

    @property
    def instance_url(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"url: {url!r} is not an https:// instance URL")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise ValueError("url: plain http is only for a loopback emulator; use https://")
    if parts.path not in ("", "/") or parts.query or parts.username:
        raise ValueError("url: give the instance's base URL only (no path, query or credentials)")


def _check_statuses(key: str, table: Mapping[str, object]) -> None:
    unknown = sorted(set(table) - set(STATES))
    if unknown:
        raise ValueError(f"{key}: unknown canonical status {unknown[0]!r} (known: {', '.join(STATES)})")


def _check_codes(key: str, table: Mapping[str, int]) -> None:
    for name, code in table.items():
        if isinstance(code, bool) or code < 1:
            raise ValueError(f"{key}.{name}: {code!r} is not a positive code")


def correlation_id(key: str) -> str:
    """The key as stored in `correlation_id`: kept when it fits, else a deterministic hash.

    Keys over 100 characters or holding `^` (the encoded-query separator) keep a readable
    prefix and end with the key's SHA-256, so the same key always finds the same incident.
    """
    if len(key) <= MAX_CORRELATION_ID and "^" not in key and "\n" not in key:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    prefix = re.sub(r"[\^\n]", "_", key)[: MAX_CORRELATION_ID - len(digest) - 1]
    return f"{prefix}#{digest}"


class ServiceNowConnector:
    """One target's instance. Does not retry: the job runner does, from the error class."""

    def __init__(self, config: ServiceNowTarget) -> None:
        self.config = config
        self.states = {**STATES, **config.states}
        self.urgency_impact = {k.casefold(): v for k, v in config.urgency_impact.items()}
        self.by_priority = {k.casefold(): v for k, v in config.priority_to_urgency_impact.items()}
        self.close_notes = _template(config.close_notes)
        parts = urlsplit(config.url)
        self.client = pysnow.Client(
            host=parts.netloc, use_ssl=parts.scheme == "https", user=config.user, password=config.password
        )

    # -- the Connector protocol ------------------------------------------------------------
    def create(self, request: CreateRequest) -> RemoteTicket:
        if not request.correlation_key:
            raise PermanentError("ServiceNow create refused: empty correlation key (cannot stay idempotent)")
        key = correlation_id(request.correlation_key)
        found = self._find(key)
        if found is not None:
            return self._remote(found)
        payload = self._incident(request, key)
        created = self._call("create", lambda: self._resource().create(payload=payload).one())
        return self._remote(created)

    def preview(self, request: CreateRequest) -> dict[str, Any]:
        return dict(self._incident(request, correlation_id(request.correlation_key)))

    def set_status(self, request: StatusRequest) -> RemoteTicket:
        code = self._state(request.status)
        sys_id = _sys_id(request.link)
        current = self._read(sys_id)
        if str(current.get("state")) == str(code):
            if request.note:
                self.comment(CommentRequest(number=request.number, link=request.link, text=request.note))
            return self._remote(current)
        payload = {"state": str(code), **self._closing(request), "work_notes": request.note}
        return self._remote(self._patch("update status", sys_id, payload))

    def comment(self, request: CommentRequest) -> None:
        if request.text:
            self._patch("comment", _sys_id(request.link), {"work_notes": request.text})

    def assign(self, request: AssignRequest) -> RemoteTicket:
        return self._remote(self._patch("assign", _sys_id(request.link), {"assigned_to": request.assignee}))

    def close(self) -> None:
        self.client.close()

    # -- payloads --------------------------------------------------------------------------
    def _incident(self, request: CreateRequest, key: str) -> dict[str, str]:
        """The create body; empty values are left out and priority is the instance's to derive."""
        fields = request.fields
        urgency, impact = self._urgency_impact(fields.urgency, fields.impact, fields.priority)
        payload = {
            "short_description": fields.short_description,
            "description": fields.description,
            "urgency": urgency,
            "impact": impact,
            "category": fields.category,
            "subcategory": fields.subcategory,
            "assignment_group": fields.assignment_group,
            "assigned_to": fields.assigned_to,
            "caller_id": self.config.caller,
            "state": str(self._state(fields.status or "New")),
            "correlation_id": key,
            "correlation_display": request.number,
        }
        return {name: value for name, value in payload.items() if value}

    def _urgency_impact(self, urgency: str, impact: str, priority: str) -> tuple[str, str]:
        """Explicit urgency/impact win; a priority alone fills whichever is missing."""
        pair = ("", "")
        if priority and not (urgency and impact):
            found = self.by_priority.get(priority.casefold())
            if found is None and not priority.isdigit():
                raise PermanentError(f"priority {priority!r} is not in priority_to_urgency_impact")
            pair = (str(found[0]), str(found[1])) if found else pair
        return self._code("urgency", urgency) or pair[0], self._code("impact", impact) or pair[1]

    def _code(self, field: str, value: str) -> str:
        if not value or value.isdigit():
            return value
        code = self.urgency_impact.get(value.casefold())
        if code is None:
            raise PermanentError(
                f"{field} {value!r} is not in urgency_impact ({', '.join(self.config.urgency_impact)})"
            )
        return str(code)

    def _state(self, status: str) -> int:
        code = self.states.get(status)
        if code is None:
            raise PermanentError(f"status {status!r} has no ServiceNow state (known: {', '.join(self.states)})")
        return code

    def _closing(self, request: StatusRequest) -> dict[str, str]:
        """What the instance's rules ask for with this state: close code + notes, hold reason."""
        if request.status == "On Hold":
            return {"hold_reason": str(self.config.hold_reason)}
        if request.status not in CLOSING and request.status not in self.config.close_codes:
            return {}
        ticket = {"number": request.number, "status": request.status, "note": request.note}
        try:
            notes = self.close_notes.render(event=request.event, ticket=ticket)
        except jinja2.TemplateError as exc:
            raise PermanentError(f"close_notes template failed: {exc}") from None
        code = self.config.close_codes.get(request.status, self.config.close_code)
        return {"close_code": code, "close_notes": notes}

    def _remote(self, record: Mapping[str, Any]) -> RemoteTicket:
        sys_id = str(record.get("sys_id", ""))
        return RemoteTicket(
            external_id=sys_id,
            external_key=str(record.get("number", "")),
            url=f"{self.config.instance_url}/nav_to.do?uri={self.config.table}.do?sys_id={sys_id}",
            remote_status=str(record.get("state", "")),
            remote_priority=str(record.get("priority", "")),
        )

    # -- HTTP ------------------------------------------------------------------------------
    def _resource(self) -> Any:
        """A fresh resource per call: a reused one carries the last query and fields along."""
        resource = self.client.resource(api_path=f"/table/{self.config.table}", timeout=self.config.timeout)
        resource.parameters.fields = RECORD_FIELDS
        return resource

    def _find(self, key: str) -> dict[str, Any] | None:
        """The oldest incident carrying this correlation id, if any."""
        query = f"correlation_id={key}^ORDERBYsys_created_on"
        records = self._call(
            "find", lambda: list(self._resource().get(query=query, limit=1, fields=RECORD_FIELDS).all())
        )
        return dict(records[0]) if records else None

    def _read(self, sys_id: str) -> dict[str, Any]:
        return self._call("read", lambda: dict(self._resource().request("GET", path_append=f"/{sys_id}").one()))

    def _patch(self, action: str, sys_id: str, payload: dict[str, str]) -> dict[str, Any]:
        body = {name: value for name, value in payload.items() if value}
        return self._call(
            action, lambda: dict(self._resource().request("PATCH", path_append=f"/{sys_id}", json=body).one())
        )

    def _call(self, action: str, call: Callable[[], T]) -> T:
        """Run one exchange (request and lazy parse together) and classify whatever it raised."""
        try:
            return call()
        except ConnectorError:
            raise
        except Exception as exc:
            error = classify(f"ServiceNow {action}", exc)
            error.message = _scrub(error.message, self.config.password)
            error.args = (error.message,)
            raise error from None


def classify(what: str, exc: Exception) -> RetryableError | PermanentError:
    """The one decision: is it worth trying again? The order of the checks is deliberate."""
    # requests' JSONDecodeError is also a RequestException (and a ValueError): check it first.
    if isinstance(exc, requests.exceptions.JSONDecodeError):
        return _not_json(what)
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return _from_status(what, exc.response)
    if isinstance(exc, requests.Timeout):
        return RetryableError(f"{what} failed: timed out")
    if isinstance(exc, requests.ConnectionError):
        return RetryableError(f"{what} failed: connection error ({type(exc).__name__})")
    # InvalidURL and friends are ValueErrors too, and no retry mends a bad URL.
    if isinstance(exc, requests.RequestException) and isinstance(exc, ValueError):
        return PermanentError(f"{what} failed: {type(exc).__name__} (check the target's url)")
    if isinstance(exc, requests.RequestException):
        return RetryableError(f"{what} failed: {type(exc).__name__}")
    if isinstance(exc, pysnow.exceptions.ResponseError):
        return PermanentError(f"{what} failed: {exc.message}: {exc.detail}")
    if isinstance(exc, pysnow.exceptions.MissingResult | ValueError):
        return _not_json(what)
    return PermanentError(f"{what} failed: unexpected {type(exc).__name__}")


def _not_json(what: str) -> RetryableError:
    return RetryableError(
        f"{what} failed: the answer is not the Table API's JSON (hibernating instance or a proxy page)"
    )


def _from_status(what: str, response: requests.Response) -> RetryableError | PermanentError:
    status = response.status_code
    reason = _error_text(response)
    if status in _RETRYABLE_STATUS or status >= 500:
        retry_after = _retry_after(response.headers)
        return RetryableError(f"{what} failed: HTTP {status}: {reason}", http_status=status, retry_after=retry_after)
    if status == 401:
        return PermanentError(f"{what} failed: HTTP 401 authentication failed: {reason}", http_status=401)
    return PermanentError(f"{what} failed: HTTP {status}: {reason}", http_status=status)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Retry-After, else the rate limit window's end (`X-RateLimit-Reset`, epoch seconds)."""
    seconds = parse_retry_after(headers.get("Retry-After"))
    reset = parse_retry_after(headers.get("X-RateLimit-Reset"))
    if seconds is None and reset is not None and reset > 1e9:
        return max(reset - time.time(), 0.0)
    return seconds


def _error_text(response: requests.Response) -> str:
    """ServiceNow's `error.message: error.detail`, else a short slice of whatever came back."""
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    if isinstance(error, dict) and (error.get("message") or error.get("detail")):
        return ": ".join(str(part).strip() for part in (error.get("message"), error.get("detail")) if part)
    return " ".join(response.text.split())[:200] or response.reason or "no body"


def _scrub(message: str, secret: str) -> str:
    return message.replace(secret, "***")


def _sys_id(link: RemoteTicket) -> str:
    if not re.fullmatch(r"[0-9a-f]{32}", link.external_id):
        raise PermanentError(f"link has no ServiceNow sys_id (got {link.external_id!r})")
    return link.external_id


def build(config: ServiceNowTarget) -> ServiceNowConnector:
    return ServiceNowConnector(config)
