"""SLA timers with an injected clock: defaults and overrides, the response stop, the On Hold pause,
reopening, and a breach found by the sweeper with no traffic, recorded once and counted."""

from __future__ import annotations

import time
from typing import Any

import pytest

from gateway.dispatch import sweeper
from gateway.dispatch.sweeper import Sweeper
from gateway.record.views import iso
from gateway.rules.loader import MappingErrors, load_mappings
from gateway.rules.sla import DEFAULT_SLA, sla_seconds
from tests.conftest import LOCAL_MAPPINGS, Harness, MakeHarness
from tests.conftest import qualytics_delivery as delivery

H = 3600.0


class Clock:
    def __init__(self) -> None:
        self.start = self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def at(self, seconds: float) -> None:
        self.now = self.start + seconds


def sla_gateway(make_gateway: MakeHarness, name: str = "gw", **files: str) -> tuple[Harness, Clock]:
    gateway = make_gateway({**LOCAL_MAPPINGS, **files}, name=name)
    clock = Clock()
    gateway.runtime.clock = clock
    assert gateway.post("qualytics", delivery(1)).status_code == 202  # a Medium ticket: 2h response, 1d resolution
    return gateway, clock


def sla(gateway: Harness) -> dict[str, Any]:
    found: dict[str, Any] = gateway.ticket("DQ-1")["sla"]
    return found


def move(gateway: Harness, status: str) -> None:
    assert gateway.client.post("/v1/tickets/DQ-1/status", json={"status": status}).status_code == 202


def sweep(gateway: Harness) -> None:
    Sweeper(gateway.runtime, gateway.dispatcher).sweep()


def breaches(gateway: Harness) -> list[dict[str, Any]]:
    return [e for e in gateway.ticket("DQ-1")["timeline"] if e["kind"] == "sla_breached"]


def test_the_defaults_follow_the_priority() -> None:
    assert sla_seconds("Critical", DEFAULT_SLA) == (5 * 60, 2 * H)
    assert sla_seconds("High", DEFAULT_SLA) == (30 * 60, 8 * H)
    assert sla_seconds("Medium", DEFAULT_SLA) == (2 * H, 24 * H)
    assert sla_seconds("Low", DEFAULT_SLA) == (24 * H, 5 * 24 * H)
    assert sla_seconds("", DEFAULT_SLA) is None


def test_a_new_ticket_shows_its_due_times_and_time_left(make_gateway: MakeHarness) -> None:
    gateway, clock = sla_gateway(make_gateway)
    clock.at(30 * 60)
    assert sla(gateway) == {
        "response_due_at": iso(clock.start + 2 * H),
        "resolution_due_at": iso(clock.start + 24 * H),
        "response_breached": False,
        "resolution_breached": False,
        "response_left_s": int(1.5 * H),
        "resolution_left_s": int(23.5 * H),
        "resolution_paused": False,
    }


def test_lifecycle_and_flow_overrides(make_gateway: MakeHarness) -> None:
    lifecycle = "lifecycle:\n  sla:\n    Medium: {response: 10m, resolution: 4h}\n"
    gateway, clock = sla_gateway(make_gateway, **{"lifecycle.yaml": lifecycle})
    assert sla(gateway)["response_due_at"] == iso(clock.start + 600)
    assert sla(gateway)["resolution_due_at"] == iso(clock.start + 4 * H)
    own = "    sla: {Medium: {response: 1m, resolution: 30m}}\n"
    flows = LOCAL_MAPPINGS["flows.yaml"].replace("    trigger: {type: anomaly,", own + "    trigger: {type: anomaly,")
    per_flow, clock = sla_gateway(make_gateway, name="per-flow", **{"flows.yaml": flows, "lifecycle.yaml": lifecycle})
    assert sla(per_flow)["response_due_at"] == iso(clock.start + 60)
    assert sla(per_flow)["resolution_due_at"] == iso(clock.start + 30 * 60)


def test_the_response_timer_stops_when_the_ticket_leaves_new(make_gateway: MakeHarness) -> None:
    gateway, clock = sla_gateway(make_gateway)
    clock.at(10 * 60)
    move(gateway, "In Progress")
    clock.at(5 * H)
    sweep(gateway)
    shown = sla(gateway)
    assert shown["response_left_s"] is None and shown["response_breached"] is False
    assert shown["resolution_left_s"] == int(19 * H)
    assert breaches(gateway) == []


def test_on_hold_pauses_the_resolution_timer(make_gateway: MakeHarness) -> None:
    gateway, clock = sla_gateway(make_gateway)
    clock.at(1 * H)
    move(gateway, "In Progress")
    clock.at(2 * H)
    move(gateway, "On Hold")
    clock.at(40 * H)  # long past the day, but on hold
    sweep(gateway)
    shown = sla(gateway)
    assert shown["resolution_paused"] is True and shown["resolution_breached"] is False
    assert shown["resolution_left_s"] == int(22 * H)
    move(gateway, "In Progress")
    assert sla(gateway)["resolution_due_at"] == iso(clock.start + 62 * H)
    clock.at(62 * H - 60)
    sweep(gateway)
    assert breaches(gateway) == []


def test_reopening_restarts_the_resolution_timer(make_gateway: MakeHarness) -> None:
    gateway, clock = sla_gateway(make_gateway)
    clock.at(1 * H)
    move(gateway, "Resolved")
    assert sla(gateway)["resolution_left_s"] is None
    clock.at(3 * H)
    move(gateway, "In Progress")
    assert sla(gateway)["resolution_due_at"] == iso(clock.start + 27 * H)
    assert sla(gateway)["resolution_left_s"] == int(24 * H)


def test_a_breach_with_no_traffic_is_recorded_once_and_counted(make_gateway: MakeHarness) -> None:
    gateway, clock = sla_gateway(make_gateway)
    clock.at(2 * H + 1)
    sweep(gateway)
    sweep(gateway)  # and again: still one entry
    [entry] = breaches(gateway)
    assert entry["actor"] == "gateway" and entry["data"] == {"timer": "response", "due_at": clock.start + 2 * H}
    assert sla(gateway)["response_breached"] is True and sla(gateway)["resolution_breached"] is False
    metrics = gateway.client.get("/metrics").text
    assert 'dq_gateway_sla_breaches{timer="response"} 1' in metrics
    assert 'dq_gateway_sla_breaches{timer="resolution"} 0' in metrics
    clock.at(30 * H)
    sweep(gateway)
    assert [e["data"]["timer"] for e in breaches(gateway)] == ["response", "resolution"]



def test_breaches_that_fall_due_together_are_all_recorded_a_chunk_at_a_time(
    make_gateway: MakeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sweeper, "BULK_CHUNK", 2)  # three tickets' timers: two transactions, then one that finds none
    gateway, clock = sla_gateway(make_gateway)
    for anomaly in (2, 3):
        assert gateway.post("qualytics", delivery(anomaly)).status_code == 202
    clock.at(30 * H)
    assert Sweeper(gateway.runtime, gateway.dispatcher).check_sla(clock()) == 6
    for number in ("DQ-1", "DQ-2", "DQ-3"):
        timeline = gateway.ticket(number)["timeline"]
        assert sorted(e["data"]["timer"] for e in timeline if e["kind"] == "sla_breached") == ["resolution", "response"]
    metrics = gateway.client.get("/metrics").text
    assert 'dq_gateway_sla_breaches{timer="response"} 3' in metrics
    assert 'dq_gateway_sla_breaches{timer="resolution"} 3' in metrics

@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("lifecycle:\n  sla:\n    Urgent: {response: 5m, resolution: 1h}\n", "sla.Urgent: 'Urgent' is not a priority"),
        ("lifecycle:\n  sla:\n    High: {response: soon, resolution: 1h}\n", "sla.High.response: 'soon' is not"),
        ("lifecycle:\n  sla:\n    High: {response: 5m}\n", "missing required field `resolution`"),
    ],
)
def test_bad_sla_fails_at_load(tmp_path: Any, text: str, problem: str) -> None:
    for name, body in LOCAL_MAPPINGS.items():
        (tmp_path / name).write_text(body)
    (tmp_path / "lifecycle.yaml").write_text(text)
    with pytest.raises(MappingErrors) as raised:
        load_mappings(tmp_path, {"QUALYTICS_SECRET": "x"})
    assert "lifecycle.yaml: lifecycle" in str(raised.value) and problem in str(raised.value)
