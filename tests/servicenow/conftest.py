"""A loopback ServiceNow instance per test, and a connector pointed at it over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.base import CreateRequest, RemoteTicket
from connectors.emulators.base import EmulatorHTTPServer
from connectors.emulators.servicenow import DEFAULT_USERS, ServiceNowEmulator
from connectors.servicenow.config import ServiceNowTarget
from connectors.servicenow.connector import ServiceNowConnector, build
from gateway.core.models import TicketFields

PASSWORD = "sandbox-password"


@pytest.fixture(scope="session")
def instance() -> Iterator[EmulatorHTTPServer]:
    """One server for the session (stopping one waits out its poll interval); reset per test."""
    server = EmulatorHTTPServer(ServiceNowEmulator(users=dict(DEFAULT_USERS)), "127.0.0.1", 0).start()
    yield server
    server.stop()


@pytest.fixture
def server(instance: EmulatorHTTPServer) -> EmulatorHTTPServer:
    instance.emulator.reset()
    instance.emulator.users = dict(DEFAULT_USERS)
    return instance


@pytest.fixture
def emulator(server: EmulatorHTTPServer) -> ServiceNowEmulator:
    assert isinstance(server.emulator, ServiceNowEmulator)
    return server.emulator


def target_for(server: EmulatorHTTPServer, **overrides: Any) -> ServiceNowTarget:
    settings: dict[str, Any] = {
        "url": server.url,
        "user": "sandbox",
        "password": PASSWORD,
        "timeout": 2.0,
        "caller": "dq.gateway",
        "close_notes": "Resolved in {{ event.source }}: {{ event.url }} ({{ ticket.number }})",
        **overrides,
    }
    return ServiceNowTarget(**settings)


@pytest.fixture
def connect(server: EmulatorHTTPServer) -> Iterator[Callable[..., ServiceNowConnector]]:
    """`connect(close_codes=...)`: a connector to this test's instance with target overrides."""
    made: list[ServiceNowConnector] = []

    def make(**overrides: Any) -> ServiceNowConnector:
        made.append(build(target_for(server, **overrides)))
        return made[-1]

    yield make
    for connector in made:
        connector.close()


@pytest.fixture
def connector(connect: Callable[..., ServiceNowConnector]) -> ServiceNowConnector:
    return connect()


@pytest.fixture
def new_request() -> Callable[..., CreateRequest]:
    return create_request


def create_request(key: str = "qualytics:1001", number: str = "DQ-1", **fields: str) -> CreateRequest:
    values = {
        "short_description": "Null check failed on orders",
        "urgency": "High",
        "impact": "Medium",
        **fields,
    }
    return CreateRequest(number=number, correlation_key=key, fields=TicketFields(**values))


@pytest.fixture
def incident(connector: ServiceNowConnector) -> RemoteTicket:
    return connector.create(create_request())


def wait_for_log(emulator: ServiceNowEmulator, count: int, deadline: float = 5.0) -> None:
    """Let a slowed request finish on the server, so it cannot land in the next test's log."""
    stop = time.monotonic() + deadline
    while len(emulator.log) < count and time.monotonic() < stop:
        time.sleep(0.02)


@pytest.fixture
def settle(emulator: ServiceNowEmulator) -> Callable[[int], None]:
    return lambda count: wait_for_log(emulator, count)
