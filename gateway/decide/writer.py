"""One writer for the ingress: deliveries that arrive together are planned in one transaction.

Each webhook in its own thread and transaction spends most of its time queued on the database's
writer lock (SQLite's busy handler sleeps and polls; on PostgreSQL every commit is a flush). One
thread takes every delivery that is waiting, plans each under a savepoint (one that fails is rolled
back alone), marks the executions enqueued in the same transaction, commits once, and sends the ids
to Redis in one call. A delivery that met a concurrent writer's row (another node, PostgreSQL) is
planned again on its own, as `accept` does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from queue import Empty, SimpleQueue

from gateway.decide.ingest import Received, Recorded, record, record_alone
from gateway.dispatch.queue import Dispatcher
from gateway.record.runtime import Runtime
from gateway.record.store import CONFLICTS, Tx

log = logging.getLogger("gateway.decide.writer")
BATCH = 64  # bounds the transaction (and so the lock) a batch holds
IDLE_S = 30.0  # an idle writer thread ends; the next delivery starts another

Settle = Callable[[Recorded | BaseException], None]


@dataclass
class _Pending:
    received: Received
    settle: Settle


class IngestWriter:
    def __init__(self, runtime: Runtime, dispatcher: Callable[[], Dispatcher | None]) -> None:
        self.rt = runtime
        self.dispatcher = dispatcher  # read per batch: tests swap the app's dispatcher
        self._pending: SimpleQueue[_Pending | None] = SimpleQueue()  # None wakes a writer to stop
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, received: Received, settle: Settle) -> None:
        """Plan `received` soon; `settle` gets what was recorded, or the exception (called on the writer thread)."""
        self._pending.put(_Pending(received, settle))
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is pending, then end the writer thread."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            self._pending.put(None)
            thread.join(timeout)

    def _run(self) -> None:
        stop = False
        while not stop:
            try:
                first = self._pending.get(timeout=IDLE_S)
            except Empty:
                first = None
            batch = [first] if first is not None else []
            stop = first is None
            while len(batch) < BATCH:
                try:
                    more = self._pending.get_nowait()
                except Empty:
                    break
                if more is None:
                    stop = True
                else:
                    batch.append(more)
            if batch:
                self._write(batch)
            if stop:
                with self._lock:  # nothing was submitted since the last look: this thread ends
                    if not self._pending.empty():
                        stop = False
                        continue
                    self._thread = None

    def _write(self, batch: list[_Pending]) -> None:
        results: dict[int, Recorded | BaseException] = {}
        again: list[int] = []
        dispatcher = self.dispatcher()
        now = self.rt.clock()
        alone = len(batch) == 1  # no savepoint: its failure rolls back a transaction that is its own
        try:
            with self.rt.mirror.transaction() as tx:
                for index, pending in enumerate(batch):
                    plan = partial(record, self.rt, tx, pending.received, now)
                    outcome = plan() if alone else _under_savepoint(tx, index, plan)
                    if outcome is None:
                        again.append(index)
                    else:
                        results[index] = outcome
                queued = [e for r in results.values() if isinstance(r, Recorded) for e in r.queued]
                if dispatcher is not None:
                    self.rt.mirror.mark_enqueued_in(tx, queued, now)
        except Exception as exc:  # BEGIN or COMMIT failed (or a lone delivery's plan): nothing was written
            if alone and isinstance(exc, CONFLICTS):  # a concurrent node's row: planned again, as in a batch
                _settle(batch[0], self._alone(batch[0].received, dispatcher))
                return
            for pending in batch:
                _settle(pending, exc)
            return
        if dispatcher is not None and queued:
            try:
                dispatcher.send_marked(queued, now)
            except Exception as exc:  # marked but not sent: the sweeper sends them after a lease
                log.warning("could not send %d executions: %s", len(queued), type(exc).__name__)
        for index, pending in enumerate(batch):
            if index in again:
                results[index] = self._alone(pending.received, dispatcher)
            _settle(pending, results[index])

    def _alone(self, received: Received, dispatcher: Dispatcher | None) -> Recorded | BaseException:
        try:
            recorded = record_alone(self.rt, received)
        except Exception as exc:
            return exc
        if dispatcher is not None:
            dispatcher.enqueue(recorded.queued)
        return recorded


def _under_savepoint(tx: Tx, index: int, plan: Callable[[], Recorded]) -> Recorded | BaseException | None:
    """`plan` under its own savepoint; None when a concurrent writer's row crossed it (plan it again alone)."""
    name = f"delivery_{index}"
    tx.execute(f"SAVEPOINT {name}")
    try:
        recorded = plan()
    except CONFLICTS:
        tx.execute(f"ROLLBACK TO SAVEPOINT {name}")
        return None
    except Exception as exc:  # this delivery's failure is its own (a 5xx for it alone)
        tx.execute(f"ROLLBACK TO SAVEPOINT {name}")
        return exc
    tx.execute(f"RELEASE SAVEPOINT {name}")
    return recorded


def _settle(pending: _Pending, result: Recorded | BaseException) -> None:
    try:
        pending.settle(result)
    except Exception:  # the request went away; its delivery is recorded all the same
        log.debug("could not answer a delivery", exc_info=True)
