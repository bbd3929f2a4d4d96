"""The webhook path: verify, decode, record + plan in one transaction, enqueue after commit."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from gateway.core.errors import InvalidPayload, NotFound, TooManyEvents
from gateway.core.models import Ignored, Parsed
from gateway.decide.planner import FirstReads, Outcome, Planner
from gateway.dispatch.queue import Dispatcher
from gateway.receive.sources import ADAPTERS, Delivery
from gateway.receive.sources.base import SourceConfig, body_hash
from gateway.record.runtime import Runtime
from gateway.record.store import CONFLICTS, Tx, new_id

_PLAN_ATTEMPTS = 5


@dataclass
class Received:
    """A delivery that passed its source's auth and parsed: what remains is to record it."""

    source: str
    body: bytes
    parsed: Parsed


@dataclass
class Recorded:
    outcomes: list[Outcome] = field(default_factory=list)
    ignored: list[dict[str, str | None]] = field(default_factory=list)

    @property
    def queued(self) -> list[str]:
        return [execution for outcome in self.outcomes for execution in outcome.queued]


def accept(
    rt: Runtime, dispatcher: Dispatcher | None, source: str, headers: Mapping[str, str], body: bytes
) -> tuple[dict[str, Any], int]:
    """The response body and status: 202 when anything was recorded, 200 for a bare ping."""
    received = receive(rt, source, headers, body)
    recorded = record_alone(rt, received)
    if dispatcher is not None and recorded.queued:
        dispatcher.enqueue(recorded.queued)
    return answer(received, recorded)


def source_config(rt: Runtime, source: str) -> SourceConfig:
    """The configured source, or a 404 (asked before the body is read: an unknown source is not a 413)."""
    config = rt.mappings.sources.get(source)
    if config is None:
        raise NotFound(f"no source named {source!r} is configured", code="unknown_source")
    return config


def receive(rt: Runtime, source: str, headers: Mapping[str, str], body: bytes) -> Received:
    """Verify the source's auth on the raw bytes, then parse; no database (4xx raised here)."""
    config = source_config(rt, source)
    adapter = ADAPTERS[config.kind]
    delivery = Delivery(source=source, headers=headers, body=body, received_at=time.time())
    adapter.verify(config, delivery)
    parsed = adapter.parse(config, delivery)
    check_event_count(parsed, rt.settings.max_events_per_delivery)
    check_ids(parsed)
    return Received(source, body, parsed)


def record(rt: Runtime, tx: Tx, received: Received, now: float, *, enqueue: bool = False) -> Recorded:
    """Every event planned and every ignored item kept, inside the caller's transaction (`enqueue`: see
    `Planner`)."""
    return _record(Planner(rt, tx, now, enqueue=enqueue), received, iter(()))


def record_together(rt: Runtime, tx: Tx, batch: list[Received], now: float, *, enqueue: bool) -> list[Recorded]:
    """`record` for each delivery of a batch in turn, in one transaction; on PostgreSQL their first reads are
    asked together (`Planner.read_ahead`): a new delivery waits for no round trip of its own."""
    planner = Planner(rt, tx, now, enqueue=enqueue)
    firsts = iter(planner.read_ahead([e for r in batch for e in r.parsed.events]) if rt.mirror.postgres else ())
    return [_record(planner, received, firsts) for received in batch]


def _record(planner: Planner, received: Received, firsts: Iterator[FirstReads | None]) -> Recorded:
    recorded = Recorded(outcomes=[planner.plan(event, next(firsts, None)) for event in received.parsed.events])
    for index, item in enumerate(received.parsed.ignored):
        event_id = None if item.ping else _record_ignored(planner, received, index, item)
        recorded.ignored.append({"reason": item.reason, "event_id": event_id})
    return recorded


def record_alone(rt: Runtime, received: Received) -> Recorded:
    """`record` in a transaction of its own, planned again when a concurrent writer got there first."""
    for attempt in range(_PLAN_ATTEMPTS):
        try:
            with rt.mirror.transaction() as tx:
                return record(rt, tx, received, rt.clock())
        except CONFLICTS:
            # a concurrent delivery opened the same group's ticket (or linked the same anomaly) first:
            # plan again from what it committed (only where writers overlap, as on PostgreSQL)
            if attempt == _PLAN_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def answer(received: Received, recorded: Recorded) -> tuple[dict[str, Any], int]:
    outcomes = recorded.outcomes
    ignored = recorded.ignored + [
        {"reason": o.ignored, "event_id": o.event_id} for o in outcomes if o.ignored and not o.duplicate
    ]
    result = {
        "event_ids": [o.event_id for o in outcomes],
        "executions": [e for o in outcomes for e in o.executions],
        "duplicate": bool(outcomes) and all(o.duplicate for o in outcomes),
        "ignored": ignored,
    }
    only_pings = not outcomes and all(item.ping for item in received.parsed.ignored)
    return result, 200 if only_pings else 202


def check_event_count(parsed: Parsed, cap: int) -> None:
    """One delivery is one transaction: a cap keeps a huge one from holding the write lock for long."""
    count = len(parsed.events) + len(parsed.ignored)
    if count > cap:
        raise TooManyEvents(
            f"this delivery carries {count} events; the limit is {cap} per delivery "
            "(GATEWAY_MAX_EVENTS_PER_DELIVERY): send them in smaller batches"
        )


def check_ids(parsed: Parsed) -> None:
    """422 for an event with a blank id: adapters build Events without msgspec's checks, and the worker's
    decode of one would fail the ticket's create as a bug after the 202 (a tool's `"id": ""`)."""
    for index, event in enumerate(parsed.events, 1):
        if not event.anomaly_id.strip() or not event.event_id.strip():  # " " names no anomaly either
            missing = "anomaly id" if not event.anomaly_id.strip() else "event id"
            raise InvalidPayload(f"event {index} of the delivery has an empty {missing}")


def _sent(body: bytes) -> Any:
    try:
        return msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):  # parsed already; kept as text if JSON would not take it
        return body.decode("utf-8", "replace")


def _record_ignored(planner: Planner, received: Received, index: int, item: Ignored) -> str:
    """Irrelevant deliveries are kept as events too, so ops can see what a tool sent and why it did nothing."""
    rt, tx = planner.rt, planner.tx
    source_event_id = item.event_id or body_hash(received.body, "ignored", str(index))
    seen = rt.mirror.ask(tx, rt.mirror.event_seen(received.source, source_event_id))
    if seen is not None:
        return seen
    event_id = new_id()
    rt.mirror.add_event(
        tx,
        event_id,
        source=received.source,
        source_event_id=source_event_id,
        event_type="ignored",
        anomaly_id="",
        correlation_key="",
        payload={"reason": item.reason, "raw": _sent(received.body)},  # the console shows what the tool sent
        now=planner.now,
        ignored=item.reason,
    )
    return event_id
