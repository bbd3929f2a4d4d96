"""The ingress writer plans deliveries that wait together in one transaction; one that fails stays its own.

A batch is rolled back whole when one of its deliveries fails to plan, and each delivery is planned
again alone: the others are recorded and enqueued as if they had come one by one, and the failed one
leaves nothing behind."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from rq import Queue

from gateway.core.models import Event
from gateway.decide.ingest import Received, Recorded, receive
from gateway.decide.writer import IngestWriter, Pending
from tests.conftest import QUALYTICS_SECRET, Harness, qualytics_delivery


class PlanningFault(list[Event]):
    """Events that cannot be planned: a bug or a lost connection while this delivery is planned."""

    def __iter__(self) -> Any:
        raise RuntimeError("injected planning fault")


def _received(gateway: Harness, anomaly_id: int) -> Received:
    body = json.dumps(qualytics_delivery(anomaly_id)).encode()
    return receive(gateway.runtime, "qualytics", {"x-qualytics-secret": QUALYTICS_SECRET}, body)


def _write(gateway: Harness, batch: list[Received]) -> list[Recorded | BaseException]:
    settled: dict[int, Recorded | BaseException] = {}
    writer = IngestWriter(gateway.runtime, lambda: gateway.dispatcher)
    writer.write(
        [Pending(received, lambda result, i=i: settled.__setitem__(i, result)) for i, received in enumerate(batch)]
    )
    return [settled[i] for i in range(len(batch))]


def test_a_batch_records_every_delivery_in_it(gateway: Harness) -> None:
    results = _write(gateway, [_received(gateway, anomaly) for anomaly in (101, 102, 103)])

    assert all(isinstance(r, Recorded) and len(r.queued) == 1 for r in results)
    assert sorted(t["anomaly_ids"][0] for t in gateway.tickets()) == ["101", "102", "103"]
    queued = {e.id for e in gateway.runtime.mirror.list_executions(status="queued") if e.enqueued_at is not None}
    assert queued == {r.queued[0] for r in results if isinstance(r, Recorded)}  # marked in the batch and sent
    jobs = Queue(gateway.settings.queue_name, connection=gateway.connection).get_jobs()
    assert {execution for job in jobs for execution in job.args[0]} == queued  # in Redis after the commit


def test_a_delivery_that_fails_to_plan_leaves_the_rest_of_its_batch_recorded(gateway: Harness) -> None:
    faulty = _received(gateway, 202)
    faulty = Received(faulty.source, faulty.body, msgspec.structs.replace(faulty.parsed, events=PlanningFault()))

    results = _write(gateway, [_received(gateway, 201), faulty, _received(gateway, 203)])

    assert isinstance(results[1], RuntimeError) and "injected planning fault" in str(results[1])
    assert isinstance(results[0], Recorded) and isinstance(results[2], Recorded)
    assert sorted(t["anomaly_ids"][0] for t in gateway.tickets()) == ["201", "203"]
    stored = gateway.runtime.mirror.connection().execute("SELECT anomaly_id FROM events ORDER BY anomaly_id")
    assert [row[0] for row in stored] == ["201", "203"]  # nothing of the failed delivery was written
    gateway.drain()
    assert {e.status for e in gateway.runtime.mirror.list_executions()} == {"succeeded"}


def _refuse_outcome(gateway: Harness, anomaly_id: str) -> None:
    """A database fault in a delivery's last write (its event, with its outcome), from a trigger. On PostgreSQL
    that write is pipelined: its failure comes back with the next answer read, or at the batch's end."""
    conn = gateway.runtime.mirror.connection()
    if gateway.runtime.mirror.postgres:
        conn.execute("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql"
                     " AS $$ BEGIN RAISE EXCEPTION 'injected database fault'; END $$")  # fmt: skip
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON events FOR EACH ROW"
                     f" WHEN (NEW.anomaly_id = '{anomaly_id}') EXECUTE FUNCTION refuse()")  # fmt: skip
    else:
        conn.execute(f"CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.anomaly_id = '{anomaly_id}'"
                     " BEGIN SELECT RAISE(ABORT, 'injected database fault'); END")  # fmt: skip


@pytest.mark.parametrize("refused", [302, 303], ids=["amid the batch", "last in the batch"])
def test_a_delivery_whose_write_fails_leaves_the_rest_of_its_batch_recorded(gateway: Harness, refused: int) -> None:
    _refuse_outcome(gateway, str(refused))

    results = _write(gateway, [_received(gateway, anomaly) for anomaly in (301, 302, 303)])

    failed = results[refused - 301]
    assert isinstance(failed, Exception) and "injected database fault" in str(failed)
    recorded = sorted({301, 302, 303} - {refused})
    assert [type(results[anomaly - 301]) for anomaly in recorded] == [Recorded, Recorded]
    assert sorted(t["anomaly_ids"][0] for t in gateway.tickets()) == [str(a) for a in recorded]
    stored = gateway.runtime.mirror.connection().execute("SELECT anomaly_id FROM events ORDER BY anomaly_id")
    assert [row[0] for row in stored] == [str(a) for a in recorded]
