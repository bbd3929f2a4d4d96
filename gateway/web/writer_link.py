"""The web process's end of the ingress writer process (`gateway serve`).

One interpreter cannot use both cores: its event loop (HTTP, verifying, parsing) and its writer thread
(planning, SQL, the enqueue) take turns on one lock. With the writer in a process of its own, the web
process hands each parsed delivery over a socket pair and answers with what comes back.

While the process is away or loading (starting again after it died) deliveries are planned by the
in-process writer thread, and deliveries it had not answered are planned again there: one it had committed
is then found by the event dedupe and answered as a duplicate, so nothing is lost or recorded twice.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
from collections.abc import Callable
from typing import Any, cast

from gateway.decide.ingest import Received, Recorded, answer
from gateway.decide.writer import READY, Answered, Frames, IngestWriter, Submitted, frame, raised

log = logging.getLogger("gateway.web.writer_link")
Spawn = Callable[[socket.socket], subprocess.Popen[bytes]]  # starts the process on its end of the pair
Answer = tuple[dict[str, Any], int]
FIRST_RESTART_S = 0.5
LAST_RESTART_S = 30.0
STOP_WAIT_S = 10.0
STARTUP_WAIT_S = 30.0


class WriterLink:
    def __init__(self, spawn: Spawn, fallback: IngestWriter) -> None:
        self._spawn = spawn
        self.fallback = fallback
        self.process: subprocess.Popen[bytes] | None = None
        self._wire: _Wire | None = None
        self._waiting: dict[int, tuple[asyncio.Future[Answer], Received]] = {}
        self._seq = 0
        self._restart_in = FIRST_RESTART_S
        self._stopping = False
        self._launched: asyncio.Future[bool] | None = None  # the current process: True once it is ready
        self._tasks: set[asyncio.Future[Any]] = set()

    @property
    def state(self) -> str:
        """For /readyz: "ok"; "starting" (loading: deliveries are planned in the web process meanwhile);
        "restarting" (it ended and starts again soon)."""
        if self._wire is None:
            return "restarting"
        return "ok" if self._ready() else "starting"

    def _launch_done(self, *, ready: bool) -> None:
        """The current process said it is ready, or ended before it did (only the first word counts)."""
        if self._launched is not None and not self._launched.done():
            self._launched.set_result(ready)

    def _ready(self) -> bool:
        launched = self._launched
        return launched is not None and launched.done() and launched.result()

    async def start(self) -> None:
        """Start the process and wait until it has loaded (`gateway serve` listens after this)."""
        launched = await self._launch()
        try:
            ready = await asyncio.wait_for(asyncio.shield(launched), STARTUP_WAIT_S)
        except TimeoutError:
            ready = False
        if not ready:
            log.warning("the ingress writer process did not start; the web process plans deliveries until it does")

    async def _launch(self) -> asyncio.Future[bool]:
        """Spawn the process on a new socket pair; the future says whether it became ready (or ended first)."""
        loop = asyncio.get_running_loop()
        launched = self._launched = loop.create_future()
        ours, theirs = socket.socketpair()
        try:
            self.process = self._spawn(theirs)
        except OSError:
            ours.close()
            log.exception("could not start the ingress writer process")
            launched.set_result(False)
            self._restart_later()
            return launched
        finally:
            theirs.close()
        _, self._wire = await loop.create_connection(lambda: _Wire(self), sock=ours)
        return launched

    async def plan(self, received: Received) -> Answer:
        """The 202's body and status for `received`, planned by the writer process (or raised there)."""
        wire = self._wire
        if wire is None or not self._ready():  # away, or still loading: no delivery waits for it
            return await plan_in_process(self.fallback, received)
        self._seq += 1
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting[self._seq] = (future, received)
        wire.send(frame(Submitted(self._seq, received.source, received.body, received.parsed)))
        return await future

    def answered(self, message: Answered) -> None:
        if message.seq == READY:
            self._launch_done(ready=True)
            log.info("ingress writer process ready, pid %s", self.process.pid if self.process else None)
            return
        waiting = self._waiting.pop(message.seq, None)
        if waiting is None or waiting[0].done():
            return
        self._restart_in = FIRST_RESTART_S  # the process works: a later death restarts it at once
        future = waiting[0]
        if message.error is not None:
            future.set_exception(raised(message.error))
        else:
            future.set_result((message.result or {}, message.status))

    def lost(self) -> None:
        self._wire = None
        code = self.process.poll() if self.process is not None else None
        waiting, self._waiting = self._waiting, {}
        self._launch_done(ready=False)
        if not self._stopping:
            log.warning(
                "the ingress writer process ended (exit %s) with %d deliveries unanswered; "
                "they and new ones are planned in the web process until it is back",
                code,
                len(waiting),
            )
            self._restart_later()
        for future, received in waiting.values():
            if not future.done():
                task = asyncio.ensure_future(_settle_in_process(future, self.fallback, received))
                self._tasks.add(task)  # the loop keeps only a weak reference
                task.add_done_callback(self._tasks.discard)

    def _restart_later(self) -> None:
        if self._stopping:
            return
        delay, self._restart_in = self._restart_in, min(self._restart_in * 2, LAST_RESTART_S)
        asyncio.get_running_loop().call_later(delay, self._restart_soon)

    def _restart_soon(self) -> None:
        task = asyncio.ensure_future(self._restart())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _restart(self) -> None:
        if not self._stopping and self._wire is None:
            if self.process is not None and self.process.poll() is None:
                self.process.kill()  # its socket closed but it lives on (stuck): a new one takes over
                self.process.wait()
            await self._launch()

    async def stop(self) -> None:
        """Close the link (the process answers what it has, then ends) and wait for the process."""
        self._stopping = True
        if self._wire is not None:
            self._wire.close()
        process = self.process
        if process is None:
            return
        try:
            code = await asyncio.get_running_loop().run_in_executor(None, process.wait, STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        log.info("ingress writer process stopped (exit %s)", code)


async def plan_in_process(writer: IngestWriter, received: Received) -> Answer:
    """The 202's body and status for `received`, planned by the web process's writer thread."""
    return answer(received, await planned(writer, received))


async def planned(writer: IngestWriter, received: Received) -> Recorded:
    """Hand the delivery to the in-process writer thread and wait for its batch to commit."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Recorded] = loop.create_future()

    def settle(result: Recorded | BaseException) -> None:
        loop.call_soon_threadsafe(_resolve, future, result)

    writer.submit(received, settle)
    return await future


def _resolve(future: asyncio.Future[Recorded], result: Recorded | BaseException) -> None:
    if future.done():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


async def _settle_in_process(future: asyncio.Future[Answer], writer: IngestWriter, received: Received) -> None:
    try:
        result = await plan_in_process(writer, received)
    except Exception as exc:
        if not future.done():
            future.set_exception(exc)
    else:
        if not future.done():
            future.set_result(result)


class _Wire(asyncio.Protocol):
    def __init__(self, link: WriterLink) -> None:
        self.link = link
        self.frames = Frames(Answered)
        self.transport: asyncio.WriteTransport | None = None
        self.outgoing: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.WriteTransport, transport)  # uvloop's is no asyncio.Transport subclass

    def send(self, data: bytes) -> None:
        """Deliveries handed over in one turn of the event loop go out in one write (one system call)."""
        if not self.outgoing:
            asyncio.get_running_loop().call_soon(self._flush)
        self.outgoing.append(data)

    def _flush(self) -> None:
        outgoing, self.outgoing = self.outgoing, []
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(outgoing))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        for message in self.frames.feed(data):
            self.link.answered(message)

    def connection_lost(self, exc: Exception | None) -> None:
        self.link.lost()
