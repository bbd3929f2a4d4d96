"""Re-enqueue what the transport lost: expired leases, due backoffs, never-enqueued work."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from gateway.dispatch.queue import Dispatcher
from gateway.record.runtime import Runtime
from gateway.record.store import BULK_CHUNK, Tx

log = logging.getLogger("gateway.dispatch.sweeper")
ENQUEUE_GRACE_S = 5.0  # the ingress enqueues right after commit; give it that long first
PRUNE_EVERY_S = 3600.0  # retention is in days: once an hour per worker is plenty
OnBreach = Callable[[Tx, int, str, float], object]  # (tx, ticket id, timer, now)


class Sweeper:
    def __init__(self, runtime: Runtime, dispatcher: Dispatcher, on_breach: OnBreach | None = None) -> None:
        self.rt = runtime
        self.dispatcher = dispatcher
        self.on_breach = on_breach  # the worker fires `sla_breached` ticket events through it (decide/ is above)
        self.redis_away = False
        self.pruned_at = 0.0

    def prune(self, now: float) -> None:
        """Retention, at most once per PRUNE_EVERY_S (any worker may do it; doing it twice is harmless)."""
        if now - self.pruned_at < PRUNE_EVERY_S:
            return
        self.pruned_at = now
        pruned = self.rt.mirror.prune(now, self.rt.settings.retention_days)
        if pruned.executions or pruned.events or pruned.tickets:
            log.info("retention pruned %s", pruned)

    def sweep(self, now: float | None = None) -> list[str]:
        now = self.rt.clock() if now is None else now
        self.rt.mirror.checkpoint()  # here, beside the writers, not inside a commit (see store.WAL_BACKSTOP_PAGES)
        self.check_sla(now)  # needs only the database: breaches are found with Redis away too
        if not self.watch_redis(now):
            return []
        expired = self.rt.mirror.expire_leases(now)
        if expired:
            log.warning("leases expired (worker gone?), re-running %d executions", len(expired))
        due = self.rt.mirror.due_for_enqueue(now, ENQUEUE_GRACE_S, self.rt.settings.lease_seconds)
        return self.dispatcher.enqueue(due)

    def check_sla(self, now: float) -> int:
        """SLA timers past due, each recorded on its ticket's timeline once (however many sweepers run).

        A chunk of breaches a transaction (`BULK_CHUNK`): thousands may fall due at once."""
        total = 0
        while True:
            with self.rt.mirror.transaction() as tx:
                breaches = self.rt.mirror.mark_breaches(tx, now, BULK_CHUNK)
                for ticket_id, timer, due in breaches:
                    entry = {"timer": timer, "due_at": due}
                    self.rt.mirror.add_timeline(tx, ticket_id, "sla_breached", "gateway", entry, now)
                    if self.on_breach is not None:  # its executions are due now: the next sweep enqueues them
                        self.on_breach(tx, ticket_id, timer, now)
            for ticket_id, timer, _ in breaches:
                log.warning("%s: the %s SLA is breached", self.rt.number(ticket_id), timer)
            total += len(breaches)
            if not breaches:
                return total

    def watch_redis(self, now: float) -> bool:
        """False while Redis is away (said once per outage); when it comes back empty, re-send its jobs.

        A Redis server that restarts without its data has dropped every job it held, and the worker
        that watched it may be a new process: a marker key in Redis itself tells. The executions behind
        lost jobs are still queued in the database, so they are enqueued again at once instead of
        after a lease. Doubled jobs are harmless (claims are compare-and-set).
        """
        emptied = self.dispatcher.mark_redis()
        if emptied is None:
            if not self.redis_away:
                log.warning("redis is unavailable; webhooks are kept in the database until it returns")
            self.redis_away = True
            return False
        if self.redis_away:
            log.warning("redis is back")
        self.redis_away = False
        if emptied:
            count = self.rt.mirror.forget_enqueued(now)
            if count:
                log.warning("redis came back empty; enqueueing %d queued executions again", count)
        return True

    def run(self, stop: threading.Event) -> None:
        interval = self.rt.settings.sweep_interval_seconds
        while not stop.wait(interval):
            try:
                self.sweep()
                self.prune(self.rt.clock())
            except Exception as exc:  # the sweeper must outlive a Redis or database outage
                log.warning("sweep failed: %s", type(exc).__name__)

    def start(self) -> tuple[threading.Thread, threading.Event]:
        stop = threading.Event()
        thread = threading.Thread(target=self.run, args=(stop,), name="sweeper", daemon=True)
        thread.start()
        return thread, stop
