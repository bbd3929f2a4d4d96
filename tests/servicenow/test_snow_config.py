"""Target configuration: DESIGN.md's keys decode, mistakes fail at load naming the key."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from connectors.registry import KINDS
from connectors.servicenow.config import ServiceNowTarget

DESIGN_EXAMPLE: dict[str, Any] = {
    "kind": "servicenow",
    "url": "https://example.service-now.com",
    "user": "integration",
    "password": "pw",
    "caller": "dq.gateway",
    "close_code": "Solution provided",
    "close_codes": {"Canceled": "Duplicate"},
    "close_notes": "Resolved in {{ event.source }}: {{ event.url }}",
    "hold_reason": 1,
}


def test_the_design_example_decodes_through_the_registry() -> None:
    target = msgspec.convert(DESIGN_EXAMPLE, KINDS["servicenow"].config_type)
    assert isinstance(target, ServiceNowTarget)
    assert (target.table, target.timeout, target.close_codes) == ("incident", 10.0, {"Canceled": "Duplicate"})
    assert target.priority_to_urgency_impact["Critical"] == (1, 1)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"close_notes": "{{ event.url "}, "close_notes"),
        ({"close_code": ""}, "close_code"),
        ({"states": {"Triaged": 4}}, "states"),
        ({"close_codes": {"Done": "x"}}, "close_codes"),
        ({"url": "http://example.service-now.com"}, "url"),
        ({"url": "example.service-now.com"}, "url"),
        ({"timeout": 0}, "timeout"),
        ({"urgency_impact": {"High": 0}}, "urgency_impact"),
        ({"password": ""}, "password"),
        ({"colse_code": "x"}, "colse_code"),
    ],
)
def test_mistakes_fail_at_load_naming_the_key(change: dict[str, Any], named: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=named):
        msgspec.convert({**DESIGN_EXAMPLE, **change}, ServiceNowTarget)


def test_loopback_http_is_allowed_for_the_emulator() -> None:
    target = msgspec.convert({**DESIGN_EXAMPLE, "url": "http://127.0.0.1:9002"}, ServiceNowTarget)
    assert target.instance_url == "http://127.0.0.1:9002"
