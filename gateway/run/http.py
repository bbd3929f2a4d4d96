"""The HTTP/1.1 protocol `gateway serve` runs: h11 with a bounded head and a deadline per request.

uvicorn's httptools protocol accepts headers of any size and neither it nor uvicorn's h11
protocol limits the time a client takes to send a request (a slow client holds a connection
for ever). h11 buffers at most `h11_max_incomplete_event_size` of an unfinished head; the web
app refuses a finished head over 16 KiB (gateway.web.limits); this class cuts a connection
whose request has not fully arrived `request_timeout` seconds after its first byte.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("gateway.run.http")


class BoundedH11Protocol(H11Protocol):
    request_timeout = 30.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._track()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._track()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_deadline()
        super().connection_lost(exc)

    def _track(self) -> None:
        """A request on its way in has a deadline; once it is all in (or none has begun) it has none."""
        receiving = self.conn.their_state is h11.IDLE or self.conn.their_state is h11.SEND_BODY
        if not receiving or self.transport.is_closing():
            self._stop_deadline()
        elif self._deadline is None and self.timeout_keep_alive_task is None:
            self._deadline = self.loop.call_later(self.request_timeout, self._too_slow)

    def _stop_deadline(self) -> None:
        if getattr(self, "_deadline", None) is not None:
            assert self._deadline is not None
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            log.info("closed a connection whose request took over %s s to arrive", self.request_timeout)
            self.transport.close()


def bounded_protocol(request_timeout: float) -> type[BoundedH11Protocol]:
    """The protocol class uvicorn builds per connection, with this deadline."""
    attributes: dict[str, Any] = {"request_timeout": request_timeout}
    return type("GatewayH11Protocol", (BoundedH11Protocol,), attributes)
