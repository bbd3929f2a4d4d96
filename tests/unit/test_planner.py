"""The planner on a temporary SQLite mirror, without Redis or workers: what one event becomes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gateway.core.models import Event
from gateway.core.settings import Settings
from gateway.decide.planner import Outcome, Planner
from gateway.record.runtime import Runtime

MAPPINGS = """
sources:
  tool: {kind: generic, token: "unit-test-token-0123456789"}
targets:
  a: {kind: local}
  b: {kind: local}
flows:
  - name: open
    source: [tool]
    trigger: {type: anomaly, where: {severity: [critical, high]}}
    actions:
      - create_ticket:
          targets: [a, b]
          short_description: "{{ event.title }}"
          priority: "{{ event.severity }}"
          per_target: {b: {short_description: "[b] {{ event.title | upper }}", category: "{{ event.source }}"}}
  - name: follow
    source: [tool]
    trigger: {type: anomaly_status_change}
    actions:
      - update_ticket_status: {}
"""


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "m.yaml").write_text(MAPPINGS)
    settings = Settings(mappings=tmp_path / "mappings", database_url=f"sqlite:///{tmp_path / 'g.db'}", var_dir=tmp_path)
    return Runtime.load(settings, {})


def plan(rt: Runtime, **fields: object) -> Outcome:
    body: dict[str, object] = {
        "event_id": "e1",
        "event_type": "anomaly",
        "anomaly_id": "7",
        "source": "tool",
        "severity": "high",
        "title": "Nulls",
    }
    body.update(fields)
    with rt.mirror.transaction() as tx:
        return Planner(rt, tx, time.time()).plan(Event(**body))  # type: ignore[arg-type]


def test_an_anomaly_opens_one_ticket_with_a_create_per_target(rt: Runtime) -> None:
    outcome = plan(rt)
    ticket = rt.mirror.ticket(outcome.ticket_id)
    assert ticket is not None and ticket.state == "New" and ticket.fields["short_description"] == "Nulls"
    creates = rt.mirror.list_executions(ticket_id=ticket.id)
    assert sorted((e.action, e.target, e.status) for e in creates) == [
        ("create_ticket", "a", "queued"),
        ("create_ticket", "b", "queued"),
    ]
    assert sorted(outcome.queued) == sorted(e.id for e in creates)


def test_each_target_gets_the_tickets_fields_with_its_own_overrides_rendered(rt: Runtime) -> None:
    outcome = plan(rt)
    ticket = rt.mirror.ticket(outcome.ticket_id)
    assert ticket is not None and (ticket.fields["short_description"], ticket.fields["category"]) == ("Nulls", "")
    fields = {e.target: e.params["fields"] for e in rt.mirror.list_executions(ticket_id=ticket.id)}
    shown = {t: (f["short_description"], f["category"], f["priority"], f["status"]) for t, f in fields.items()}
    assert shown == {"a": ("Nulls", "", "high", "New"), "b": ("[b] NULLS", "tool", "high", "New")}


def test_the_same_delivery_twice_is_a_duplicate_and_plans_nothing(rt: Runtime) -> None:
    first = plan(rt)
    again = plan(rt)
    assert again.duplicate and again.event_id == first.event_id and again.executions == []


def test_a_recurrence_comments_on_the_open_ticket_instead_of_opening_another(rt: Runtime) -> None:
    first = plan(rt)
    second = plan(rt, event_id="e2")
    assert second.ticket_id == first.ticket_id
    ticket = rt.mirror.ticket(first.ticket_id)
    assert ticket is not None and ticket.occurrences == 2
    comments = [e for e in rt.mirror.list_executions(ticket_id=first.ticket_id) if e.action == "comment"]
    assert sorted(e.target for e in comments) == ["a", "b"]


def test_an_event_no_flow_matches_is_recorded_as_ignored(rt: Runtime) -> None:
    outcome = plan(rt, severity="low")
    assert outcome.ticket_id is None and outcome.executions == [] and "no flow matches" in (outcome.ignored or "")


def test_a_status_change_moves_the_ticket_now_and_queues_the_move_per_target(rt: Runtime) -> None:
    opened = plan(rt)
    moved = plan(rt, event_id="e2", event_type="anomaly_status_change", status="Resolved")
    ticket = rt.mirror.ticket(opened.ticket_id)
    assert ticket is not None and ticket.state == "Resolved"
    moves = [e for e in rt.mirror.list_executions(ticket_id=ticket.id) if e.action == "update_ticket_status"]
    assert sorted((e.target, e.params["status"]) for e in moves) == [("a", "Resolved"), ("b", "Resolved")]
    assert moved.ticket_id == ticket.id


def test_a_forbidden_move_is_a_skipped_execution_and_a_timeline_entry(rt: Runtime) -> None:
    opened = plan(rt)
    plan(rt, event_id="e2", event_type="anomaly_status_change", status="Invalid")  # New -> Canceled
    plan(rt, event_id="e3", event_type="anomaly_status_change", status="Acknowledged")  # Canceled -> In Progress
    skipped = [e for e in rt.mirror.list_executions(ticket_id=opened.ticket_id) if e.status == "skipped"]
    assert len(skipped) == 1 and "cannot move to In Progress" in (skipped[0].error or "")
    kinds = [entry.kind for entry in rt.mirror.timeline(opened.ticket_id or 0)]
    assert kinds[-1] == "transition_refused"


def test_a_status_change_for_an_anomaly_without_ticket_is_ignored(rt: Runtime) -> None:
    outcome = plan(rt, event_type="anomaly_status_change", status="Resolved")
    assert outcome.ticket_id is None and outcome.executions == [] and "no ticket" in (outcome.ignored or "")
