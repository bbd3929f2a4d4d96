"""Fixtures: a loopback Jira emulator on port 0, targets pointing at it, the OpenAPI checker."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors import pacing
from connectors.base import CreateRequest, RemoteTicket, StatusRequest
from connectors.emulators.base import EmulatorHTTPServer, LoggedRequest
from connectors.emulators.jira import JiraEmulator
from connectors.jira.config import JiraTarget
from connectors.jira.connector import JiraConnector, build
from connectors.jira.workflow import clear_caches
from gateway.core.models import TicketFields

USER, TOKEN = "dq-bot", "tok-S3CRET-7f3a9"
FRAGMENT = Path(__file__).parent.parent / "data" / "jira" / "openapi-fragment.json"
MAPPING = {
    "urgency": "customfield_10101",
    "impact": "customfield_10102",
    "category": "components",
    "subcategory": "customfield_10104",
    "assignment_group": "customfield_10103",
}


class Jira:
    """One running emulator and helpers to build connectors against it."""

    def __init__(self, emulator: JiraEmulator, server: EmulatorHTTPServer) -> None:
        self.emulator = emulator
        self.server = server
        self.connectors: list[JiraConnector] = []

    @property
    def url(self) -> str:
        return self.server.url

    def target(self, **overrides: Any) -> JiraTarget:
        options: dict[str, Any] = {
            "url": self.url,
            "user": USER,
            "token": TOKEN,
            "project": "DQ",
            "labels": ["data-quality"],
            "fields": dict(MAPPING),
            "resolutions": {"Canceled": "Won't Do"},
            "timeout": 5.0,
        }
        options.update(overrides)
        return JiraTarget(**options)

    def connector(self, **overrides: Any) -> JiraConnector:
        connector = build(self.target(**overrides))
        self.connectors.append(connector)
        return connector

    user, token = USER, TOKEN

    @staticmethod
    def ticket(**overrides: str) -> TicketFields:
        return ticket(**overrides)

    @staticmethod
    def create_request(key: str = "qualytics:42", **fields: str) -> CreateRequest:
        return CreateRequest(number="DQ-1", correlation_key=key, fields=ticket(**fields))

    @staticmethod
    def status_request(link: RemoteTicket, status: str, note: str = "") -> StatusRequest:
        return StatusRequest(number="DQ-1", correlation_key="qualytics:42", status=status, link=link, note=note)

    def issues(self) -> list[dict[str, Any]]:
        return list(self.emulator.state()["issues"])

    def requests(self, method: str, pattern: str) -> list[LoggedRequest]:
        return [r for r in self.emulator.log if r.method == method and re.search(pattern, r.path)]


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    """The connector caches per process; each test starts from what a new worker knows."""
    clear_caches()
    yield
    clear_caches()


@pytest.fixture(autouse=True)
def _no_real_spacing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes to one issue are spaced (tests/jira/test_jira_pacing.py); elsewhere here nobody waits for it."""
    monkeypatch.setattr(pacing, "WRITES", pacing.Spacer(sleep=lambda seconds: None))


@pytest.fixture
def make_jira() -> Iterator[Callable[..., Jira]]:
    """Start emulators (options as JiraEmulator takes them) on 127.0.0.1, port 0."""
    running: list[Jira] = []

    def start(**options: Any) -> Jira:
        options.setdefault("users", {USER: TOKEN})
        emulator = JiraEmulator(**options)
        jira = Jira(emulator, EmulatorHTTPServer(emulator, "127.0.0.1", 0).start())
        running.append(jira)
        return jira

    yield start
    for jira in running:
        for connector in jira.connectors:
            connector.close()
        jira.server.stop()


@pytest.fixture
def jira(make_jira: Callable[..., Jira]) -> Jira:
    return make_jira()


def ticket(**overrides: str) -> TicketFields:
    """The Create Ticket fields of DESIGN.md's example flow, rendered."""
    values = {
        "short_description": "not_null failed on orders.customer_id",
        "description": "3 rows with a null customer_id\n\nhttps://qualytics.example/anomalies/42",
        "status": "New",
        "priority": "Critical",
        "urgency": "High",
        "impact": "Medium",
        "category": "Data Quality",
        "subcategory": "Validation Error",
        "assignment_group": "data-platform",
        "assigned_to": "alice",
    }
    values.update(overrides)
    return TicketFields(**values)


# -- the OpenAPI check: a small validator for the subset of schema the fragment uses ------


class OpenApi:
    """Checks logged requests against the vendored operations (path, query names, body schema)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.schemas: dict[str, Any] = document["components"]["schemas"]
        self.operations = [
            (method.upper(), _template(path), op)
            for path, ops in document["paths"].items()
            for method, op in ops.items()
        ]

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        as_api3 = re.sub(r"^/rest/api/2/", "/rest/api/3/", path)
        return next((op for m, rx, op in self.operations if m == method and rx.fullmatch(as_api3)), None)

    def request_errors(self, request: LoggedRequest) -> list[str]:
        where = f"{request.method} {request.path}"
        op = self.operation(request.method, request.path)
        if op is None:
            return [f"{where}: not an operation of the vendored description"]
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
        errors = [f"{where}: undeclared query parameter {q!r}" for q in request.query if q not in declared]
        body_spec = op.get("requestBody")
        if body_spec is None:
            return errors + ([f"{where}: sends a body the operation does not take"] if request.body else [])
        if request.body is None:
            return [*errors, f"{where}: required body missing"] if body_spec.get("required") else errors
        schema = body_spec["content"]["application/json"]["schema"]
        errors += self.errors(schema, request.body, where)
        return errors + self._api2_text(request, where)

    def _api2_text(self, request: LoggedRequest, where: str) -> list[str]:
        """api/2 takes plain text where api/3 takes ADF documents."""
        if not request.path.startswith("/rest/api/2/"):
            return []
        body = request.body if isinstance(request.body, dict) else {}
        texts = [body.get("body")] if request.path.endswith("/comment") else []
        texts += [(body.get("fields") or {}).get(k) for k in self.document["x-api2-text"]["IssueUpdateDetails.fields"]]
        return [f"{where}: api/2 text field is not a string" for t in texts if t is not None and not isinstance(t, str)]

    def errors(self, schema: dict[str, Any], value: Any, where: str, request: bool = True) -> list[str]:
        """`request=True` also refuses readOnly properties, which a client must not send."""
        if "$ref" in schema:
            return self.errors(self.schemas[schema["$ref"].rsplit("/", 1)[-1]], value, where, request)
        found = [e for part in schema.get("allOf", []) for e in self.errors(part, value, where, request)]
        kind = schema.get("type")
        checks: dict[str, Callable[[Any], bool]] = {
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
            "string": lambda v: isinstance(v, str),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "boolean": lambda v: isinstance(v, bool),
        }
        if kind in checks and not checks[kind](value):
            return [*found, f"{where}: expected {kind}, got {type(value).__name__}"]
        if "enum" in schema and value not in schema["enum"]:
            found.append(f"{where}: {value!r} not one of {schema['enum']}")
        if isinstance(value, dict):
            found += self._object_errors(schema, value, where, request)
        if isinstance(value, list) and "items" in schema:
            for i, item in enumerate(value):
                found += self.errors(schema["items"], item, f"{where}[{i}]", request)
        return found

    def _object_errors(self, schema: dict[str, Any], value: dict[str, Any], where: str, request: bool) -> list[str]:
        properties: dict[str, Any] = schema.get("properties", {})
        found = [f"{where}: missing required {name!r}" for name in schema.get("required", []) if name not in value]
        for name, item in value.items():
            spec = properties.get(name)
            if spec is None:
                extra = schema.get("additionalProperties", True)
                if extra is False:
                    found.append(f"{where}: unexpected property {name!r}")
                elif isinstance(extra, dict) and extra:
                    found += self.errors(extra, item, f"{where}.{name}", request)
                continue
            if request and spec.get("readOnly"):
                found.append(f"{where}: read-only property {name!r} sent")
            found += self.errors(spec, item, f"{where}.{name}", request)
        return found


def _template(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)))


@pytest.fixture(scope="session")
def openapi() -> OpenApi:
    return OpenApi(json.loads(FRAGMENT.read_text()))
