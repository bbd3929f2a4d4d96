"""/metrics reads counters the database keeps (triggers, and inserts counted at commit): they must say what
the tables say, after traffic, after retention prunes, after a rollback, for a database from before the
counters (backfilled) and for one from before inserts counted themselves (version 16's triggers dropped)."""

from __future__ import annotations

import pytest

from gateway.dispatch.sweeper import Sweeper
from gateway.record import counters
from gateway.record.measures import finished, latency, queue_wait
from gateway.record.mirror import Mirror
from tests.conftest import TRACKER_ENV, Harness, MakeHarness, Trackers, qualytics_delivery

DAY = 86400.0


def grouped(mirror: Mirror, sql: str) -> dict[tuple[str, ...], int]:
    return {tuple(str(v) for v in row[:-1]): int(row[-1]) for row in mirror.connection().execute(sql)}


def latency_from_tables(mirror: Mirror) -> dict[tuple[str, ...], tuple[list[tuple[str, float]], object]]:
    """Finished executions' acceptance-to-done seconds, bucketed from the executions table."""
    seen: dict[tuple[str, ...], list[float]] = {}
    for action, target, seconds in mirror.connection().execute(
        "SELECT action, target, finished_at - created_at FROM executions"
        " WHERE status IN ('succeeded', 'failed', 'skipped') AND finished_at IS NOT NULL"
    ):
        seen.setdefault((action, target), []).append(float(seconds))
    return {
        labels: (
            [(str(bound), float(sum(v <= bound for v in values))) for bound in counters.BUCKETS]
            + [("+Inf", float(len(values)))],
            pytest.approx(sum(values)),
        )
        for labels, values in seen.items()
    }


def from_tables(mirror: Mirror) -> dict[str, dict[tuple[str, ...], int]]:
    return {
        "executions": grouped(mirror, "SELECT status, action, target, count(*) FROM executions GROUP BY 1, 2, 3"),
        "tickets": grouped(mirror, "SELECT state, count(*) FROM tickets GROUP BY 1"),
        "events": grouped(mirror, "SELECT source, event_type, count(*) FROM events GROUP BY 1, 2"),
    }


def traffic(gateway: Harness) -> None:
    for anomaly in (1, 2, 3):
        assert gateway.post("qualytics", qualytics_delivery(anomaly)).status_code == 202
    assert gateway.post("qualytics", qualytics_delivery(1)).status_code == 202  # a recurrence
    gateway.drain()
    moved = gateway.client.post("/v1/tickets/DQ-2/status", json={"status": "Resolved", "note": "fixed"})
    assert moved.status_code == 202, moved.text
    gateway.drain()


@pytest.fixture
def counted(make_gateway: MakeHarness, trackers: Trackers) -> Harness:
    """A gateway after traffic on both trackers: three tickets, a recurrence, one resolved."""
    gateway = make_gateway(trackers.mappings(), TRACKER_ENV)
    traffic(gateway)
    return gateway


def test_counters_follow_the_tables_through_traffic_and_retention(counted: Harness) -> None:
    gateway = counted
    mirror = gateway.runtime.mirror
    tables = from_tables(mirror)
    assert tables["tickets"] == {("New",): 2, ("Resolved",): 1}
    assert mirror.gauges() == tables

    done = grouped(
        mirror,
        "SELECT action, target, status, count(*) FROM executions"
        " WHERE status IN ('succeeded', 'failed', 'skipped') GROUP BY 1, 2, 3",
    )
    assert finished(mirror) == done
    creates = {("create_ticket", "jira"), ("create_ticket", "snow")}
    for labels in creates:
        buckets, seconds = latency(mirror)[labels]
        assert buckets[-1] == ("+Inf", 3.0) and seconds >= 0  # three tickets' creates on each tracker
    assert latency(mirror) == latency_from_tables(mirror)  # every bucket, cumulative as Prometheus reads it
    assert queue_wait(mirror)[("create_ticket",)][0][-1] == ("+Inf", 6.0)

    Sweeper(gateway.runtime, gateway.dispatcher).check_sla(gateway.runtime.clock() + 30 * DAY)
    assert mirror.sla_breach_counts() == breached(mirror)
    assert mirror.sla_breach_counts()[("resolution",)] == 2  # the two open tickets' timers ran out

    pruned = mirror.prune(gateway.runtime.clock() + 200 * DAY, 90)
    assert pruned.executions and pruned.events
    assert mirror.gauges() == from_tables(mirror)  # gauges drop what retention removed
    assert mirror.sla_breach_counts() == breached(mirror)
    assert finished(mirror) == done  # a counter never goes back


def test_a_database_from_before_the_counters_is_counted_when_it_migrates(counted: Harness) -> None:
    mirror = counted.runtime.mirror
    expected = mirror.gauges(), finished(mirror), latency(mirror)
    with mirror.transaction() as tx:  # back to version 9: no counters, no triggers, no newer index
        for name in (name for name in counters.TRIGGERS if name not in counters.COUNTED_ON_INSERT):  # 17 dropped those
            tx.execute(f"DROP TRIGGER {name} ON {_table(name)}" if mirror.postgres else f"DROP TRIGGER {name}")
            if mirror.postgres:
                tx.execute(f"DROP FUNCTION {name}()")
        tx.execute("DROP TABLE metric_counts")
        tx.execute("DROP TABLE metric_buckets")
        tx.execute("DROP INDEX executions_status_target_seq")  # version 11's
        tx.execute("ALTER TABLE sync_cursors DROP COLUMN reconciled_after")  # version 13's
        tx.execute("ALTER TABLE executions DROP COLUMN lease_expiries")  # version 14's
        tx.execute("DROP TABLE console_signouts")  # version 15's
        tx.execute("DROP TABLE console_submissions")  # version 16's
        tx.execute("DROP TABLE target_answers")  # version 18's
        tx.execute("DELETE FROM schema_version WHERE version >= 10")

    again = Mirror(mirror.url)
    try:
        assert (again.gauges(), finished(again), latency(again)) == expected
        assert again.gauges() == from_tables(again)
    finally:
        again.close()


def test_a_database_whose_inserts_fired_triggers_counts_each_insert_once_after_it_migrates(
    counted: Harness,
) -> None:
    gateway = counted
    mirror = gateway.runtime.mirror
    with mirror.transaction() as tx:  # back to version 16: a trigger counts each inserted row
        for name in counters.COUNTED_ON_INSERT:
            when, condition, body = counters.TRIGGERS[name]
            for statement in counters._trigger(name, when, condition, body, mirror.postgres):
                tx.execute(statement)
        tx.execute("DROP TABLE target_answers")  # version 18's
        tx.execute("DELETE FROM schema_version WHERE version >= 17")
    Mirror(mirror.url).close()  # a node of this release starts: the triggers go

    for anomaly in (4, 5):
        assert gateway.post("qualytics", qualytics_delivery(anomaly)).status_code == 202
    gateway.drain()
    tables = from_tables(mirror)
    assert tables["tickets"] == {("New",): 4, ("Resolved",): 1}
    assert mirror.gauges() == tables  # counted by the store alone, not by a trigger as well


def test_a_transaction_that_rolls_back_counts_nothing(counted: Harness) -> None:
    mirror = counted.runtime.mirror
    before = mirror.gauges()
    with pytest.raises(RuntimeError), mirror.transaction() as tx:
        mirror.create_execution(
            tx, event_id=None, ticket_id=None, flow="f", action="notify", target="t", params={}, now=1.0
        )
        raise RuntimeError("planning failed")
    assert mirror.gauges() == before == from_tables(mirror)

    mirror.create_execution(  # outside a transaction: counted at once
        mirror.connection(), event_id=None, ticket_id=None, flow="f", action="notify", target="t", params={}, now=1.0
    )
    assert mirror.gauges() == from_tables(mirror)
    assert mirror.gauges()["executions"][("queued", "notify", "t")] == 1


def _table(trigger: str) -> str:
    return counters.TRIGGERS[trigger][0].split(" ON ")[1]


def breached(mirror: Mirror) -> dict[tuple[str, ...], int]:
    row = (
        mirror.connection()
        .execute("SELECT count(response_breached_at), count(resolution_breached_at) FROM sla_timers")
        .fetchone()
    )
    return {("response",): int(row[0]), ("resolution",): int(row[1])}
