"""The ticket state machine and the anomaly-status policy."""

from __future__ import annotations

import pytest

from gateway.core.errors import ForbiddenTransition
from gateway.core.models import TICKET_STATES
from gateway.rules.lifecycle import Lifecycle, LifecycleConfig, canonical_state
from gateway.rules.sla import parse_duration


@pytest.mark.parametrize(
    "given, state",
    [
        ("in progress", "In Progress"),
        ("IN_PROGRESS", "In Progress"),
        ("on-hold", "On Hold"),
        ("done", "Resolved"),
        ("cancelled", "Canceled"),
        ("Closed", "Closed"),
        ("nonsense", None),
    ],
)
def test_state_names_are_forgiving(given: str, state: str | None) -> None:
    assert canonical_state(given) == state


def test_default_transitions_follow_the_design() -> None:
    lifecycle = Lifecycle()
    assert set(lifecycle.allowed("New")) == {"In Progress", "On Hold", "Resolved", "Canceled"}
    assert set(lifecycle.allowed("Resolved")) == {"Closed", "In Progress"}
    assert lifecycle.allowed("Closed") == [] and lifecycle.allowed("Canceled") == []
    assert set(lifecycle.transitions) <= set(TICKET_STATES)


def test_a_move_not_declared_is_refused_naming_what_is_allowed() -> None:
    with pytest.raises(ForbiddenTransition, match="Closed cannot move to In Progress"):
        Lifecycle().check_move("Closed", "In Progress")
    Lifecycle().check_move("New", "Resolved")  # allowed: no error


def test_a_lifecycle_block_replaces_the_transitions_and_extends_the_anomaly_policy() -> None:
    lifecycle = Lifecycle(
        LifecycleConfig(transitions={"New": ["Resolved"], "Resolved": []}, anomaly_status={"Snoozed": "On Hold"})
    )
    assert lifecycle.allowed("New") == ["Resolved"]
    with pytest.raises(ForbiddenTransition):
        lifecycle.check_move("New", "In Progress")
    assert lifecycle.status_for_anomaly("snoozed") == "On Hold"
    assert lifecycle.status_for_anomaly("Resolved") == "Resolved"  # the default policy still applies
    assert lifecycle.status_for_anomaly("Unknown") is None


@pytest.mark.parametrize("text, seconds", [("24h", 86400), ("90m", 5400), ("30s", 30), ("2d", 172800), ("15", 15)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_a_bad_duration_says_what_was_expected() -> None:
    with pytest.raises(ValueError, match="24h"):
        parse_duration("soon")
