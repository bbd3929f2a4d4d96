"""Two-way sync passes a worker runs: poll trackers that offer it (ServiceNow) and reconcile every
open link with its tracker, repairing what dropped or reordered webhooks missed."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import msgspec

from connectors.base import Inbound
from connectors.registry import KINDS
from gateway.core.outbound import ConnectorError
from gateway.decide.inbound import apply_changes, enqueue, sync_target
from gateway.dispatch.queue import Dispatcher
from gateway.execute.context import remote_ticket
from gateway.record.runtime import Runtime

log = logging.getLogger("gateway.execute.sync")
TICK_S = 1.0
RECONCILE_BATCH = 500  # records read one by one per pass; the next pass goes on after the last
QUIET = ("in step", "own change", "own comment", "comment already in")  # results a poll does not report
# A poll's records applied in transactions of this many: every incident created since the last poll reads as
# changed, and one transaction for 5,000 of them held the writers' turn for 3 s (every webhook and worker
# waited; README, "Performance"). A delivery (a journal entry) stays one transaction: it is deduped whole.
APPLY_CHUNK = 50


def sync_targets(rt: Runtime) -> list[str]:
    return [n for n, t in rt.mappings.targets.items() if getattr(t.config, "sync", None) and KINDS[t.kind].inbound]


def reconcile(rt: Runtime, dispatcher: Dispatcher | None, name: str) -> dict[str, Any]:
    """Read the next batch of watched linked records as they are now and apply what the mirror missed.

    Watched: tickets people may still move (Resolved ones too: a reopen in the tracker counts) and
    drifting ones. A pass reads RECONCILE_BATCH of them after the last one the previous pass read,
    so every record is read in turn however many there are."""
    target, adapter = sync_target(rt, name)
    after = int(rt.mirror.cursor(name)["reconciled_after"])
    links = rt.mirror.watched_links(name, rt.mappings.lifecycle.movable(), after=after, limit=RECONCILE_BATCH)
    resume_after = links[-1].ticket_id if len(links) == RECONCILE_BATCH else 0
    connector = KINDS[target.kind].build(target.config)
    read: Any = getattr(connector, "read_state", None)  # trackers that cannot be read back are skipped
    if read is None:
        links = []
    notes: list[dict[str, str]] = []
    errors: list[str] = []
    try:
        for link in links:
            if rt.mirror.pending_on(link.ticket_id, name):
                continue  # the gateway's own change is on its way: the tracker is behind, not a person
            read_at = time.time()
            try:
                change = read(remote_ticket(link))
            except ConnectorError as exc:
                errors.append(rt.redactor()(f"{link.external_key}: {exc.message}"))
                continue
            applied = apply_changes(rt, target, adapter, Inbound(changes=[change]), read_at)
            enqueue(dispatcher, applied)
            notes += [n for n in applied.notes if n.get("result") not in ("in step", "own change")]
    finally:
        connector.close()
    rt.mirror.save_cursor(name, reconciled_at=time.time(), reconciled_after=resume_after)
    return {"target": name, "checked": len(links), "changes": notes, "errors": errors}


def poll(rt: Runtime, dispatcher: Dispatcher | None, name: str) -> dict[str, Any]:
    """Records changed since the last poll, and their journal entries (trackers that offer `poll`)."""
    target, adapter = sync_target(rt, name)
    connector = KINDS[target.kind].build(target.config)
    notes: list[dict[str, str]] = []
    try:
        poll_since = getattr(connector, "poll", None)
        if poll_since is None:
            return {"target": name, "changes": notes}
        links = rt.mirror.watched_links(name, rt.mappings.lifecycle.movable())
        read_at = time.time()
        inbounds, until = poll_since([remote_ticket(link) for link in links], rt.mirror.cursor(name)["polled_until"])
        for inbound in inbounds:
            for part in _in_chunks(inbound):
                applied = apply_changes(rt, target, adapter, part, read_at)
                enqueue(dispatcher, applied)
                notes += [n for n in applied.notes if n.get("result") not in QUIET]
    finally:
        connector.close()
    rt.mirror.save_cursor(name, polled_until=until, polled_at=time.time())
    return {"target": name, "changes": notes}


def _in_chunks(inbound: Inbound) -> list[Inbound]:
    """Records read as they are now, oldest first, APPLY_CHUNK at a time; a delivery whole."""
    changes = sorted(inbound.changes, key=lambda c: c.at)
    if inbound.delivery_id or len(changes) <= APPLY_CHUNK:
        return [inbound]
    return [
        msgspec.structs.replace(inbound, changes=changes[start : start + APPLY_CHUNK])
        for start in range(0, len(changes), APPLY_CHUNK)
    ]


def run_due(rt: Runtime, dispatcher: Dispatcher | None, now: float | None = None) -> None:
    """One tick: every target whose poll or reconcile turn is due (and this node won it)."""
    now = time.time() if now is None else now
    for name in sync_targets(rt):
        sync = rt.mappings.targets[name].config.sync
        passes = [("polled_at", float(getattr(sync, "poll_interval", 0.0)), poll)]
        passes.append(("reconciled_at", float(sync.reconcile_interval), reconcile))
        for column, interval, run in passes:
            if interval > 0 and rt.mirror.claim_turn(name, column, now, interval):
                try:
                    run(rt, dispatcher, name)
                except ConnectorError as exc:
                    log.warning("sync %s of %s failed: %s", run.__name__, name, rt.redactor()(exc.message))


def start(rt: Runtime, dispatcher: Dispatcher) -> tuple[threading.Thread, threading.Event]:
    """The worker's sync thread (beside the sweeper); does nothing when no target has `sync:`."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(TICK_S):
            try:
                run_due(rt, dispatcher)
            except Exception as exc:  # a tracker or database outage must not end the loop
                log.warning("sync tick failed: %s", type(exc).__name__)

    thread = threading.Thread(target=loop, name="tracker-sync", daemon=True)
    thread.start()
    return thread, stop
