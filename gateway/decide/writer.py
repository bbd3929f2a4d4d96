"""One writer for the ingress: deliveries that arrive together are planned in one transaction.

Each webhook in its own thread and transaction spends most of its time queued on the database's
writer lock (SQLite's busy handler sleeps and polls; on PostgreSQL every commit is a flush). One
thread takes every delivery that is waiting, plans them all, writes their executions already marked
enqueued, commits once, and sends the ids to Redis in one call. A delivery whose planning
fails, or meets a concurrent node's row (PostgreSQL), rolls the batch back, and each delivery of it is
planned again in a transaction of its own (as `accept` does): a failure stays its own. No savepoint a
delivery: on PostgreSQL those were two of a delivery's fourteen round trips, for a case that is rare.
On PostgreSQL the batch is pipelined: a write whose answer is not read (timeline, link, execution,
event outcome) goes with the next statement that is read, and the batch's first reads and its new
tickets' ids are asked ahead (`Planner.read_ahead`): a batch of new deliveries waits four round trips
however many it holds (its first reads, its tickets' ids, its writes, the COMMIT; before, two a delivery
and two more).
"""

from __future__ import annotations

import logging
import pickle
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from queue import Empty, SimpleQueue
from typing import Any, Generic, TypeVar

import msgspec

from gateway.core.errors import GatewayError
from gateway.core.models import Parsed
from gateway.decide.ingest import Received, Recorded, answer, record_alone, record_together
from gateway.dispatch.queue import Dispatcher
from gateway.record.runtime import Runtime
from gateway.record.store import CONFLICTS

log = logging.getLogger("gateway.decide.writer")
BATCH = 64  # bounds the transaction (and so the lock) a batch holds
IDLE_S = 30.0  # an idle writer thread ends; the next delivery starts another

Settle = Callable[[Recorded | BaseException], None]


@dataclass
class Pending:
    received: Received
    settle: Settle


class IngestWriter:
    def __init__(self, runtime: Runtime, dispatcher: Callable[[], Dispatcher | None]) -> None:
        self.rt = runtime
        self.dispatcher = dispatcher  # read per batch: tests swap the app's dispatcher
        self._pending: SimpleQueue[Pending | None] = SimpleQueue()  # None wakes a writer to stop
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, received: Received, settle: Settle) -> None:
        """Plan `received` soon; `settle` gets what was recorded, or the exception (called on the writer thread)."""
        self._pending.put(Pending(received, settle))
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
                self.write(batch)
            if stop:
                with self._lock:  # nothing was submitted since the last look: this thread ends
                    if not self._pending.empty():
                        stop = False
                        continue
                    self._thread = None

    def write(self, batch: list[Pending]) -> None:
        """Plan `batch` in one transaction and settle each (what the writer thread does with what waits)."""
        dispatcher = self.dispatcher()
        now = self.rt.clock()
        planning = False  # an exception while planning is a delivery's own; any other is the transaction's
        try:
            with self.rt.mirror.transaction(pipelined=True) as tx:
                planning = True
                received = [pending.received for pending in batch]  # queued: written marked enqueued, sent after
                results = record_together(self.rt, tx, received, now, enqueue=dispatcher is not None)
                self.rt.mirror.flush(tx)  # the writes sent without waiting, answered (a failure is a delivery's)
                planning = False
                queued = [execution for recorded in results for execution in recorded.queued]
        except Exception as exc:
            if not planning:  # BEGIN or COMMIT failed: nothing was written, every delivery gets the error
                for pending in batch:
                    _settle(pending, exc)
            elif len(batch) == 1 and not isinstance(exc, CONFLICTS):
                _settle(batch[0], exc)
            else:  # rolled back: each delivery again in its own transaction, so a failure stays its own
                for pending in batch:
                    _settle(pending, self._alone(pending.received, dispatcher))
            return
        if dispatcher is not None and queued:
            try:
                dispatcher.send_marked(queued, now)
            except Exception as exc:  # marked but not sent: the sweeper sends them after a lease
                log.warning("could not send %d executions: %s", len(queued), type(exc).__name__)
        for pending, recorded in zip(batch, results, strict=True):
            _settle(pending, recorded)

    def _alone(self, received: Received, dispatcher: Dispatcher | None) -> Recorded | BaseException:
        try:
            recorded = record_alone(self.rt, received)
        except Exception as exc:
            return exc
        if dispatcher is not None:
            dispatcher.enqueue(recorded.queued)
        return recorded


def _settle(pending: Pending, result: Recorded | BaseException) -> None:
    try:
        pending.settle(result)
    except Exception:  # the request went away; its delivery is recorded all the same
        log.debug("could not answer a delivery", exc_info=True)


# The writer in a process of its own (`gateway serve`): the web process verifies and parses, the writer
# process plans and commits, so the two share the machine's cores instead of one interpreter's lock.
# Frames on a socket pair: a 4-byte length, then a msgpack Struct.

_LENGTH = struct.Struct(">I")
READ_BYTES = 1 << 20
T = TypeVar("T")


class Submitted(msgspec.Struct, array_like=True):
    """A verified, parsed delivery on its way to the writer process."""

    seq: int
    source: str
    body: bytes
    parsed: Parsed


class Answered(msgspec.Struct, array_like=True):
    """The writer process's answer: the 202's body and status, or the exception that planning raised.
    Its first message, `READY`, says it has loaded and takes deliveries."""

    seq: int
    status: int = 0
    result: dict[str, Any] | None = None
    error: bytes | None = None  # pickled: the two ends are one program, parent and child


READY = 0  # the seq of the writer process's first message; deliveries count from 1
_encoder = msgspec.msgpack.Encoder()


def frame(message: Submitted | Answered) -> bytes:
    payload = _encoder.encode(message)
    return _LENGTH.pack(len(payload)) + payload


class Frames(Generic[T]):
    """Reassembles frames from a stream's reads (a read may end inside a frame)."""

    def __init__(self, kind: type[T]) -> None:
        self._decoder = msgspec.msgpack.Decoder(kind)
        self._buffer = b""

    def feed(self, data: bytes) -> list[T]:
        buffer = self._buffer + data if self._buffer else data
        messages: list[T] = []
        start = 0
        while len(buffer) - start >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(buffer, start)
            end = start + _LENGTH.size + length
            if end > len(buffer):
                break
            messages.append(self._decoder.decode(buffer[start + _LENGTH.size : end]))
            start = end
        self._buffer = buffer[start:]
        return messages


def raised(error: bytes) -> BaseException:
    """The exception an `Answered` carries, as the web process's handlers expect it."""
    try:
        found = pickle.loads(error)
    except Exception as exc:  # an exception type that does not round-trip: still a failure, named
        return RuntimeError(f"the ingress writer failed and its error could not be read: {exc}")
    return found if isinstance(found, BaseException) else RuntimeError(repr(found))


def _answered(seq: int, received: Received, result: Recorded | BaseException) -> Answered:
    if not isinstance(result, BaseException):
        body, status = answer(received, result)
        return Answered(seq, status, body)
    if not isinstance(result, GatewayError):  # a bug or an outage: its traceback stays in this process's log
        log.error("planning a %s delivery failed", received.source, exc_info=result)
    try:
        return Answered(seq, error=pickle.dumps(result))
    except Exception:
        return Answered(seq, error=pickle.dumps(RuntimeError(f"{type(result).__name__}: {result}")))


def _reply(answers: list[bytes], seq: int, received: Received, result: Recorded | BaseException) -> None:
    answers.append(frame(_answered(seq, received, result)))


def serve_link(link: socket.socket, writer: IngestWriter) -> None:
    """The writer process's loop: what waits on the socket is planned in batches, the answers sent in one write.
    Ends when the web process closes its end (or exits)."""
    frames = Frames(Submitted)
    link.sendall(frame(Answered(READY)))
    while data := link.recv(READ_BYTES):
        submitted = frames.feed(data)
        answers: list[bytes] = []
        for start in range(0, len(submitted), BATCH):
            batch = []
            for item in submitted[start : start + BATCH]:
                received = Received(item.source, item.body, item.parsed)
                batch.append(Pending(received, partial(_reply, answers, item.seq, received)))
            writer.write(batch)
        if answers:
            link.sendall(b"".join(answers))
