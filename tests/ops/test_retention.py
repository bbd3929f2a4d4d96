"""Retention: finished work and closed tickets older than GATEWAY_RETENTION_DAYS leave the mirror;
open tickets and their timelines stay. Keyset paging of the lists."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from gateway.record.retention import Pruned
from tests.conftest import QUALYTICS_SECRET, Harness, qualytics_delivery
from tests.faults.conftest import cli

DAY = 86_400


def _age(gateway: Harness, days: float) -> None:
    """Everything recorded so far happened `days` ago."""
    shift = days * DAY
    with gateway.runtime.mirror.transaction() as tx:
        tx.execute("UPDATE events SET received_at = received_at - ?", (shift,))
        tx.execute("UPDATE tickets SET created_at = created_at - ?, updated_at = updated_at - ?", (shift, shift))
        tx.execute(
            "UPDATE executions SET created_at = created_at - ?, finished_at = finished_at - ?", (shift, shift)
        )


def test_prune_removes_old_finished_work_and_closed_tickets_and_keeps_open_ones(gateway: Harness) -> None:
    gateway.post("qualytics", qualytics_delivery(1))
    gateway.post("qualytics", qualytics_delivery(2))
    gateway.post("qualytics", qualytics_delivery(1, trigger="Anomaly Status Change", status="Resolved"))
    gateway.drain()
    assert {t["number"]: t["state"] for t in gateway.tickets()} == {"DQ-1": "Resolved", "DQ-2": "New"}
    _age(gateway, 100)
    gateway.post("qualytics", qualytics_delivery(3))  # recent: kept whatever happens
    gateway.drain()
    recent = {e["id"] for e in gateway.executions() if e["ticket"] and e["ticket"]["number"] == "DQ-3"}
    assert recent

    env = {
        **os.environ,
        "QUALYTICS_SECRET": QUALYTICS_SECRET,
        "GATEWAY_MAPPINGS": str(gateway.settings.mappings),
        "GATEWAY_DATABASE_URL": gateway.settings.database_url,
        "GATEWAY_RETENTION_DAYS": "90",
    }
    result = cli(env, "db", "prune")
    assert result.returncode == 0, result.stderr
    assert "1 closed ticket(s) older than 90 day(s)" in result.stdout

    assert gateway.client.get("/v1/tickets/DQ-1").status_code == 404
    kept = gateway.ticket("DQ-2")  # open, however old: kept with its timeline
    assert kept["state"] == "New" and kept["timeline"][0]["kind"] == "opened"
    assert {e["id"] for e in gateway.executions()} == recent
    events = gateway.runtime.mirror.connection().execute("SELECT count(*) FROM events").fetchone()[0]
    assert events == 1  # only anomaly 3's

    again = cli(env, "db", "prune")
    assert "pruned 0 execution(s), 0 attempt(s), 0 event(s), 0 closed ticket(s)" in again.stdout



def test_prune_takes_a_chunk_a_transaction_until_nothing_old_is_left(gateway: Harness) -> None:
    """A backlog is pruned in many short transactions (here two rows each), by two pruners at once: nothing
    old is missed at the chunks' edges, the counts add up, and /metrics' counters say what the tables hold."""
    for anomaly in range(1, 7):
        gateway.post("qualytics", qualytics_delivery(anomaly))
    for anomaly in range(1, 5):
        gateway.post("qualytics", qualytics_delivery(anomaly, trigger="Anomaly Status Change", status="Resolved"))
    gateway.drain()
    mirror = gateway.runtime.mirror

    def count(table: str) -> int:
        return int(mirror.connection().execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    executions, attempts, events = count("executions"), count("attempts"), count("events")
    assert executions >= 10 and attempts >= executions and events == 10
    _age(gateway, 100)

    # two workers' sweepers prune at once: between them, everything old goes, and nothing twice
    with ThreadPoolExecutor(2) as pool:
        both = list(pool.map(lambda _: mirror.prune(gateway.runtime.clock(), 90, chunk=2), range(2)))
    totals = [sum(getattr(p, name) for p in both) for name in ("tickets", "executions", "attempts", "events")]
    assert totals == [4, executions, attempts, 10]
    assert [t["number"] for t in gateway.tickets()] == ["DQ-6", "DQ-5"]  # open, however old
    assert (count("executions"), count("attempts"), count("events")) == (0, 0, 0)
    assert mirror.gauges() == {"executions": {}, "tickets": {("New",): 2}, "events": {}}
    assert mirror.prune(gateway.runtime.clock(), 90, chunk=2) == Pruned(executions=0, attempts=0, events=0, tickets=0)

def test_lists_page_by_keyset(gateway: Harness) -> None:
    for anomaly in range(1, 6):
        gateway.post("qualytics", qualytics_delivery(anomaly))
    first = gateway.get("/v1/tickets", limit="2")
    assert [t["number"] for t in first["tickets"]] == ["DQ-5", "DQ-4"]
    second = gateway.get("/v1/tickets", limit="2", after=first["next"])
    assert [t["number"] for t in second["tickets"]] == ["DQ-3", "DQ-2"]
    last = gateway.get("/v1/tickets", limit="2", after=second["next"])
    assert [t["number"] for t in last["tickets"]] == ["DQ-1"] and last["next"] is None

    seen: list[str] = []
    after = ""
    while True:
        page = gateway.get("/v1/executions", limit="3", after=after)
        seen += [e["id"] for e in page["executions"]]
        if page["next"] is None:
            break
        after = page["next"]
    assert seen == [e["id"] for e in gateway.executions()] and len(seen) == 5

    bad = gateway.client.get("/v1/tickets", params={"limit": "0"})
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_query"
    bad = gateway.client.get("/v1/executions", params={"after": "DQ-1"})
    assert bad.status_code == 422 and "after" in bad.json()["detail"]
