"""Deliveries planned together in one batch end as they would one by one.

On PostgreSQL the ingress writer asks a batch's first reads in one round trip and takes its new tickets'
ids ahead (`Planner.read_ahead`). A delivery whose reads an earlier one's writes could change (the same
anomaly, the same group, anything after a status change) reads in its turn. The same deliveries are
posted one by one to a second gateway, and the two mirrors must match: tickets and their numbers, states,
anomalies, timelines and executions. A batch that fell back to planning each delivery alone would leave
gaps in the numbers, so those are compared too."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from gateway.decide.ingest import Received, Recorded, receive
from gateway.decide.writer import IngestWriter, Pending
from tests.conftest import LOCAL_MAPPINGS, QUALYTICS_SECRET, Harness, MakeHarness
from tests.conftest import qualytics_delivery as delivery
from tests.postgres import statements_sent
from tests.spine.test_grouping import grouped


def status(anomaly_id: int, new: str, at: str = "2026-01-25T12:30:00Z") -> dict[str, Any]:
    return delivery(anomaly_id, trigger="Anomaly Status Change", status=new, timestamp=at)


BEFORE = [delivery(10)]  # posted to both gateways before the batch
BATCHES = {
    "new anomalies, recurrences, a duplicate, a status change": [
        delivery(10, timestamp="2026-01-25T13:00:00Z"),  # read ahead: it opens no ticket, so takes no number
        delivery(11),
        delivery(12),
        delivery(11, timestamp="2026-01-25T13:00:00Z"),  # 11 again: its ticket is the first delivery's
        delivery(11),  # the first delivery again: a duplicate
        status(12, "Resolved"),
        delivery(13),  # after a status change: read in its turn
        delivery(12, timestamp="2026-01-25T14:00:00Z"),  # reopens what the status change resolved
    ],
    "a group's anomalies": [delivery(21), delivery(22, description="another row"), delivery(23, container="c")],
}


def _mirror(gateway: Harness) -> dict[str, Any]:
    tickets = sorted(gateway.tickets(), key=lambda t: t["id"])
    return {
        "tickets": [
            (t["number"], t["correlation_key"], t["generation"], t["state"], t["occurrences"], sorted(t["anomaly_ids"]))
            for t in tickets
        ],
        "timelines": [[e["kind"] for e in gateway.ticket(t["number"])["timeline"]] for t in tickets],
        "executions": sorted(
            (e["action"], e["target"], e["status"], (e["ticket"] or {}).get("number", ""))
            for e in gateway.executions(limit="500")
        ),
    }


def _answers(results: list[Recorded]) -> list[tuple[bool, int, list[Any]]]:
    return [(r.outcomes[0].duplicate, len(r.outcomes[0].executions), [i["reason"] for i in r.ignored]) for r in results]


@pytest.mark.parametrize("grouping", [False, True], ids=["own tickets", "grouped"])
@pytest.mark.parametrize("batch", list(BATCHES), ids=list(BATCHES))
def test_a_batch_ends_as_its_deliveries_one_by_one(make_gateway: MakeHarness, batch: str, grouping: bool) -> None:
    files = grouped(dict(LOCAL_MAPPINGS)) if grouping else dict(LOCAL_MAPPINGS)
    together, alone = make_gateway(files, name="together"), make_gateway(files, name="alone")
    for gateway in (together, alone):
        assert [gateway.post("qualytics", body).status_code for body in BEFORE] == [202] * len(BEFORE)
    bodies = [json.dumps(body).encode() for body in BATCHES[batch]]

    received = [receive(together.runtime, "qualytics", {"x-qualytics-secret": QUALYTICS_SECRET}, b) for b in bodies]
    settled: list[Recorded | BaseException] = []
    IngestWriter(together.runtime, lambda: together.dispatcher).write([Pending(r, settled.append) for r in received])
    one_by_one = [alone.post("qualytics", body) for body in bodies]

    assert all(isinstance(result, Recorded) for result in settled), settled
    recorded = [result for result in settled if isinstance(result, Recorded)]
    assert [r.status_code for r in one_by_one] == [202] * len(bodies)
    assert _mirror(together) == _mirror(alone)
    expected = [(r.json()["duplicate"], len(r.json()["executions"]), []) for r in one_by_one]
    assert _answers(recorded) == expected


def test_a_status_change_before_its_groups_next_anomaly_in_one_batch_is_seen_by_it(
    make_gateway: MakeHarness,
) -> None:
    """The status change resolves the group's ticket; the group's next anomaly, in the same batch, must find
    it resolved (and reopen it), not join it as the batch's first reads saw it."""
    files = grouped(dict(LOCAL_MAPPINGS))
    together, alone = make_gateway(files, name="together"), make_gateway(files, name="alone")
    for gateway in (together, alone):
        assert gateway.post("qualytics", delivery(31)).status_code == 202
    bodies = [json.dumps(body).encode() for body in (status(31, "Resolved"), delivery(32, description="next"))]

    received = [receive(together.runtime, "qualytics", {"x-qualytics-secret": QUALYTICS_SECRET}, b) for b in bodies]
    settled: list[Recorded | BaseException] = []
    IngestWriter(together.runtime, lambda: together.dispatcher).write([Pending(r, settled.append) for r in received])
    for body in bodies:
        assert alone.post("qualytics", body).status_code == 202

    assert all(isinstance(result, Recorded) for result in settled), settled
    [ticket] = together.tickets()
    assert ticket["state"] == "In Progress" and sorted(ticket["anomaly_ids"]) == ["31", "32"]
    assert _mirror(together) == _mirror(alone)


def test_two_anomalies_sent_with_one_event_id_in_one_batch_record_one_event(gateway: Harness) -> None:
    """A tool that reuses an event id for another anomaly: the second is a duplicate, as the dedupe promises,
    even when both were read ahead together (on PostgreSQL the events' unique key stops the second's write,
    and the batch is planned again one delivery at a time)."""
    headers = {"x-qualytics-secret": QUALYTICS_SECRET}
    first, second = (receive(gateway.runtime, "qualytics", headers, json.dumps(delivery(a)).encode()) for a in (41, 42))
    [event] = first.parsed.events
    reused = msgspec.structs.replace(second.parsed.events[0], event_id=event.event_id)
    second = Received(second.source, second.body, msgspec.structs.replace(second.parsed, events=[reused]))
    settled: list[Recorded | BaseException] = []

    IngestWriter(gateway.runtime, lambda: gateway.dispatcher).write(
        [Pending(r, settled.append) for r in (first, second)]
    )

    assert [type(result) for result in settled] == [Recorded, Recorded], settled
    one, two = (result.outcomes[0] for result in settled if isinstance(result, Recorded))
    assert not one.duplicate and two.duplicate and two.event_id == one.event_id and two.executions == []
    assert [t["anomaly_ids"] for t in gateway.tickets()] == [["41"]]
    assert gateway.runtime.mirror.connection().execute("SELECT count(*) FROM events").fetchone()[0] == 1


def test_a_batchs_first_reads_go_in_a_few_statements_however_many_deliveries_it_holds(
    gateway: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a batch of new anomalies locks its keys in one statement and asks each kind of first read
    (seen before? its anomaly's ticket? its group's?) in one: a statement each was most of what the server did."""
    headers = {"x-qualytics-secret": QUALYTICS_SECRET}
    received = [receive(gateway.runtime, "qualytics", headers, json.dumps(delivery(a)).encode()) for a in range(50, 62)]
    sent = statements_sent(gateway.runtime.mirror.connection(), monkeypatch)  # the writer's: this thread's
    settled: list[Recorded | BaseException] = []

    IngestWriter(gateway.runtime, lambda: gateway.dispatcher).write([Pending(r, settled.append) for r in received])

    assert [type(result) for result in settled] == [Recorded] * 12, settled
    assert sorted(int(t["anomaly_ids"][0]) for t in gateway.tickets()) == list(range(50, 62))
    if gateway.runtime.mirror.postgres:  # the locks, three reads, the new tickets' ids
        assert len([sql for sql in sent if sql.startswith("SELECT")]) == 5, sent
