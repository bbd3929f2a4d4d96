"""Fixtures for the source adapter tests: sample payloads and deliveries built around them."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from gateway.core.models import Parsed
from gateway.receive.sources import ADAPTERS, Delivery, SourceConfig

PAYLOADS = Path(__file__).resolve().parent.parent / "data" / "payloads"
NOW = 1_769_342_400.0  # 2026-01-25T12:00:00Z: deliveries get a fixed receipt time


@pytest.fixture
def payload() -> Callable[[str], bytes]:
    """The raw bytes of a sample under tests/data/payloads (name without `.json`)."""

    def read(name: str) -> bytes:
        return (PAYLOADS / f"{name}.json").read_bytes()

    return read


@pytest.fixture
def delivery() -> Callable[..., Delivery]:
    """A Delivery as the ingress builds it: lower-case headers, raw body, receipt time."""

    def build(body: bytes | Any, headers: Mapping[str, str] | None = None, source: str = "dq") -> Delivery:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        lowered = {name.lower(): value for name, value in (headers or {}).items()}
        return Delivery(source=source, headers=lowered, body=raw, received_at=NOW)

    return build


@pytest.fixture
def parse(delivery: Callable[..., Delivery]) -> Callable[..., Parsed]:
    """Run a kind's parse on a body (bytes or JSON-able data) with an optional config."""

    def run(kind: str, body: bytes | Any, config: SourceConfig | None = None, source: str = "dq") -> Parsed:
        return ADAPTERS[kind].parse(config or SourceConfig(kind=kind), delivery(body, source=source))

    return run


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def basic_header() -> Callable[[str, str], str]:
    """`Authorization: Basic ...` for a user and password."""
    return basic


@pytest.fixture
def now() -> float:
    """The receipt time every test delivery carries."""
    return NOW
