"""The webhook path: verify, decode, record + plan in one transaction, enqueue after commit."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from gateway.errors import NotFound
from gateway.planner import Planner
from gateway.queue import Dispatcher
from gateway.runtime import Runtime
from gateway.sources import ADAPTERS, Delivery


def accept(
    rt: Runtime, dispatcher: Dispatcher | None, source: str, headers: Mapping[str, str], body: bytes
) -> dict[str, Any]:
    config = rt.mappings.sources.get(source)
    if config is None:
        raise NotFound(f"no source named {source!r} is configured", code="unknown_source")
    adapter = ADAPTERS[config.kind]
    delivery = Delivery(source=source, headers=headers, body=body, received_at=time.time())
    adapter.verify(config, delivery)
    parsed = adapter.parse(config, delivery)
    now = time.time()
    with rt.mirror.transaction() as tx:
        planner = Planner(rt, tx, now)
        outcomes = [planner.plan(event) for event in parsed.events]
    queued = [execution for outcome in outcomes for execution in outcome.queued]
    if dispatcher is not None and queued:
        dispatcher.enqueue(queued)
    ignored: list[dict[str, str | None]] = [{"reason": i.reason, "event_id": i.event_id} for i in parsed.ignored]
    ignored += [{"reason": o.ignored, "event_id": o.event_id} for o in outcomes if o.ignored and not o.duplicate]
    return {
        "event_ids": [o.event_id for o in outcomes],
        "executions": [e for o in outcomes for e in o.executions],
        "duplicate": bool(outcomes) and all(o.duplicate for o in outcomes),
        "ignored": ignored,
    }
