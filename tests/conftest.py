"""Shared fixtures: a real Redis server, a gateway on real SQLite files, a real RQ worker."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from gateway.core.settings import Settings
from gateway.dispatch.queue import Dispatcher, connect
from gateway.dispatch.sweeper import Sweeper
from gateway.execute import runner as jobs
from gateway.record.runtime import Runtime
from gateway.run.embedded_redis import EmbeddedRedis
from gateway.run.worker import PromptSimpleWorker
from gateway.web.app import create_app
from tests import postgres
from tests.postgres import PostgresServer
from tests.receiver import receiver as receiver  # a fixture: a loopback HTTP server webhook actions call

DATA = Path(__file__).parent / "data"
PAYLOADS = DATA / "payloads"
QUALYTICS_SECRET = "qualytics-s3cret-value"


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> Callable[[Path], str]:
    """A new database for a gateway rooted at a directory: SQLite there, or (GATEWAY_TEST_DATABASE=postgresql)
    a fresh database on the session's PostgreSQL server."""

    made: dict[Path, str] = {}

    def make(root: Path) -> str:
        if not postgres.wanted():
            return f"sqlite:///{root / 'gateway.db'}"
        if root not in made:  # the same root is the same database (a gateway restarted on it)
            server: PostgresServer = request.getfixturevalue("postgres_server")
            made[root] = server.create_database()
        return made[root]

    return make


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> str:
    connect(redis_server.url).flushall()
    return redis_server.url


LOCAL_MAPPINGS = {
    "sources.yaml": """
sources:
  qualytics: {kind: qualytics, secret: "${QUALYTICS_SECRET}"}
  generic: {kind: generic, hmac_secret: "${GENERIC_HMAC_SECRET:-generic-hmac-key}"}
""",
    "targets.yaml": """
targets:
  mirror: {kind: local}
""",
    "flows.yaml": """
value_maps:
  anomaly_to_ticket:
    {Active: New, Acknowledged: In Progress, Resolved: Resolved, Invalid: Canceled, Duplicate: Canceled}
  severity_to_priority: {critical: Critical, high: High, medium: Medium, low: Low, info: Low}
flows:
  - name: open-dq-ticket
    source: [qualytics, generic]
    trigger: {type: anomaly, where: {severity: [critical, high, medium]}}
    actions:
      - create_ticket:
          targets: [mirror]
          short_description: "{{ event.check }} failed on {{ event.container }}"
          description: "{{ event.description }}\\n\\n{{ event.url }}"
          status: New
          priority: "{{ event.severity | lookup('severity_to_priority') }}"
          urgency: High
          impact: Medium
          category: Data Quality
          subcategory: Validation Error
          assignment_group: data-platform
          assigned_to: ""
  - name: follow-anomaly-status
    trigger: {type: anomaly_status_change}
    actions:
      - update_ticket_status: {target_status: "{{ event.status | lookup('anomaly_to_ticket') }}"}
""",
}


class Harness:
    """One gateway: its mappings, SQLite file, Redis queue, a test client and an in-process worker."""

    def __init__(
        self,
        root: Path,
        redis_url: str,
        files: Mapping[str, str],
        env: Mapping[str, str],
        settings: Mapping[str, Any],
        database_url: str | None = None,
    ) -> None:
        mappings = root / "mappings"
        mappings.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (mappings / name).write_text(text)
        self.env = {"QUALYTICS_SECRET": QUALYTICS_SECRET, **env}
        self.settings = Settings(
            mappings=mappings,
            database_url=database_url or f"sqlite:///{root / 'gateway.db'}",
            redis_url=redis_url,
            var_dir=root,
            # in-process retries with injected sleeps, unless a test says otherwise (serve's default reschedules)
            **{"retry_budget_seconds": 10.0, **settings},
        )
        self.runtime = Runtime.load(self.settings, self.env)
        self.connection = connect(redis_url)
        self.dispatcher = Dispatcher(self.connection, self.runtime.mirror, self.settings.queue_name, 300)
        self.sleeps: list[float] = []
        self.client = TestClient(create_app(self.runtime, self.dispatcher)).__enter__()

    def reload(self, files: Mapping[str, str]) -> None:
        """New mappings, as after a fix and a restart: the same database, the same queue."""
        from gateway.rules.loader import load_mappings

        for name, text in files.items():
            (self.settings.mappings / name).write_text(text)
        self.runtime.mappings = load_mappings(self.settings.mappings, self.env)

    def post(
        self,
        source: str,
        body: bytes | dict[str, Any] | list[Any],
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        defaults = {"content-type": "application/json"}
        if source == "qualytics":
            defaults["x-qualytics-secret"] = QUALYTICS_SECRET
        return self.client.post(
            f"/v1/webhooks/{source}", content=raw, headers={**defaults, **(headers or {})}, **kwargs
        )

    def drain(self, rounds: int = 100, sleep: Callable[[float], None] | None = None) -> None:
        """Run the worker until nothing is queued; waits and backoffs are fast-forwarded, never slept
        (unless a test passes a real `sleep`)."""
        jobs.configure(self.runtime, sleep=sleep or self.sleeps.append)
        worker = PromptSimpleWorker([self.dispatcher.queue], connection=self.connection)
        sweeper = Sweeper(self.runtime, self.dispatcher)
        for _ in range(rounds):
            worker.work(burst=True)
            waiting = [e.id for e in self.runtime.mirror.list_executions(status="queued")]
            if not waiting:
                return
            with self.runtime.mirror.transaction() as tx:  # time passes: whatever waits is due now
                tx.executemany(
                    "UPDATE executions SET next_attempt_at = ?, enqueued_at = NULL WHERE id = ?",
                    [(time.time() - 1, i) for i in waiting],
                )
            sweeper.sweep()
        raise AssertionError(f"executions still queued after {rounds} rounds")

    def get(self, path: str, **params: str) -> Any:
        """GET an API path that must answer 200; its JSON (with the API token when one is set: reads need it)."""
        token = self.settings.api_token
        response = self.client.get(path, params=params, headers={"authorization": f"Bearer {token}"} if token else {})
        assert response.status_code == 200, response.text
        return response.json()

    def tickets(self, **params: str) -> list[dict[str, Any]]:
        tickets: list[dict[str, Any]] = self.get("/v1/tickets", **params)["tickets"]
        return tickets

    def ticket(self, reference: str) -> dict[str, Any]:
        ticket: dict[str, Any] = self.get(f"/v1/tickets/{reference}")
        return ticket

    def executions(self, **params: str) -> list[dict[str, Any]]:
        executions: list[dict[str, Any]] = self.get("/v1/executions", **params)["executions"]
        return executions

    def execution(self, execution_id: str) -> dict[str, Any]:
        execution: dict[str, Any] = self.get(f"/v1/executions/{execution_id}")
        return execution


MakeHarness = Callable[..., Harness]


@pytest.fixture
def make_gateway(tmp_path: Path, redis_url: str, database_url: Callable[[Path], str]) -> Iterator[MakeHarness]:
    made: list[Harness] = []

    def make(
        files: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None, name: str = "gw", **settings: Any
    ) -> Harness:
        root = tmp_path / name
        harness = Harness(root, redis_url, files or LOCAL_MAPPINGS, env or {}, settings, database_url(root))
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.client.__exit__(None, None, None)
        harness.runtime.mirror.close()


@pytest.fixture
def gateway(make_gateway: MakeHarness) -> Harness:
    return make_gateway()


def qualytics_delivery(
    anomaly_id: int = 1,
    *,
    trigger: str = "Anomaly",
    status: str | None = None,
    timestamp: str = "2026-01-25T12:00:00Z",
    **anomaly: Any,
) -> dict[str, Any]:
    """The Qualytics sample, with the anomaly and trigger a test needs."""
    data = msgspec.json.decode(payload("qualytics.json"))
    entry = {**data["context"]["anomalies"][0], "id": anomaly_id, **anomaly}
    if status is not None:
        entry["status"] = status
    data["context"]["anomalies"] = [entry]
    data["trigger"] = {"type": trigger, "timestamp": timestamp}
    result: dict[str, Any] = data
    return result


# -- trackers: the loopback Jira and ServiceNow emulators, spoken to by the real clients --------


class Trackers:
    def __init__(self, jira: Any, snow: Any) -> None:
        self.jira_server, self.snow_server = jira, snow

    @property
    def jira(self) -> Any:
        return self.jira_server.emulator

    @property
    def snow(self) -> Any:
        return self.snow_server.emulator

    def issues(self) -> list[dict[str, Any]]:
        issues: list[dict[str, Any]] = self.jira.state()["issues"]
        return issues

    def incidents(self) -> list[dict[str, Any]]:
        incidents: list[dict[str, Any]] = self.snow.incidents()
        return incidents

    def mappings(self, jira_extra: str = "", snow_extra: str = "", flows: str | None = None) -> dict[str, str]:
        """The design's mapping example, pointed at these emulators."""
        targets = f"""
targets:
  jira:
    kind: jira
    url: "{self.jira_server.url}"
    user: sandbox
    token: "${{JIRA_API_TOKEN}}"
    project: DQ
    issue_type: Bug
    labels: [data-quality]
    fields: {{urgency: customfield_10101, impact: customfield_10102, category: components,
             subcategory: customfield_10104, assignment_group: customfield_10103}}
    statuses: {{On Hold: To Do}}
    resolution: Done
    resolutions: {{Canceled: "Won't Do"}}
    timeout: 2
{jira_extra}
  snow:
    kind: servicenow
    url: "{self.snow_server.url}"
    user: sandbox
    password: "${{SERVICENOW_PASSWORD}}"
    caller: dq.gateway
    close_code: "Solution provided"
    close_codes: {{Canceled: "Duplicate"}}
    close_notes: "Resolved in {{{{ event.source }}}}: {{{{ event.url }}}}"
    hold_reason: 1
    timeout: 2
{snow_extra}
"""
        default_flows = (
            LOCAL_MAPPINGS["flows.yaml"]
            .replace("targets: [mirror]", "targets: [jira, snow]")
            .replace(
                '          assigned_to: ""',
                '          assigned_to: ""\n          per_target:\n            snow: {category: data_quality}',
            )
        )
        return {
            "sources.yaml": LOCAL_MAPPINGS["sources.yaml"],
            "targets.yaml": targets,
            "flows.yaml": flows or default_flows,
        }


TRACKER_ENV = {"JIRA_API_TOKEN": "sandbox-token", "SERVICENOW_PASSWORD": "sandbox-password"}


@pytest.fixture(scope="session")
def tracker_servers() -> Iterator[tuple[Any, Any]]:
    from connectors.emulators.base import EmulatorHTTPServer
    from connectors.emulators.jira import sandbox
    from connectors.emulators.servicenow import ServiceNowEmulator

    jira = EmulatorHTTPServer(sandbox(), "127.0.0.1", 0).start()
    snow = EmulatorHTTPServer(ServiceNowEmulator(), "127.0.0.1", 0).start()
    yield jira, snow
    jira.stop()
    snow.stop()


@pytest.fixture
def trackers(tracker_servers: tuple[Any, Any]) -> Trackers:
    from connectors import pacing
    from connectors.emulators.jira import SANDBOX_USERS, default_screen, default_workflow
    from connectors.emulators.servicenow import DEFAULT_USERS
    from connectors.jira.workflow import clear_caches

    jira, snow = tracker_servers
    jira.emulator.reset()
    pacing.WRITES.clear()  # issue ids start again after a reset: no spacing carried over from another test
    jira.emulator.screen = default_screen()
    jira.emulator.workflow = default_workflow()
    jira.emulator.users = dict(SANDBOX_USERS)
    jira.emulator.tokens = set(SANDBOX_USERS.values())
    snow.emulator.reset()
    snow.emulator.users = dict(DEFAULT_USERS)
    clear_caches()
    return Trackers(jira, snow)
