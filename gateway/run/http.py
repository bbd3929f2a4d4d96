"""The HTTP/1.1 protocol `gateway serve` runs: uvicorn's httptools one with a bounded head and a deadline.

uvicorn's httptools protocol accepts headers of any size (httptools buffers a header until it ends)
and no uvicorn protocol limits the time a client takes to send a request (a slow client holds a
connection for ever). This class refuses a head over MAX_HEAD_BYTES with a 431 (counting what
arrives before the head is complete, so a header that never ends is cut too), and cuts a
connection whose request has not fully arrived `request_timeout` seconds after it opened or after
the request's first byte. httptools, not h11: it parses in C (h11 was a fifth of the web process's
CPU per webhook under load).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httptools
import msgspec
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from gateway.core.errors import error_body
from gateway.web.limits import MAX_HEAD_BYTES

log = logging.getLogger("gateway.run.http")


class HeadTooLarge(Exception):
    """Raised inside the parser's callbacks; httptools turns it into a parser error."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    request_timeout = 30.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_since: float | None = None  # when the connection opened or its request began; None between
        self._in_head = True
        self._head_bytes = 0  # the line and headers parsed so far: the limit
        self._head_raw = 0  # bytes received while a head is unfinished: a header that never ends
        self._head_refused = False
        super().connection_made(transport)
        self._start_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """uvicorn's, but a head over the bound is answered 431 and logged as what it is."""
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self._head_refused:  # HeadTooLarge, raised in a callback below
                self._refuse_head()
            else:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._in_head and not self._head_refused and not self.transport.is_closing():
            self._head_raw += len(data)
            if self._head_raw > 2 * MAX_HEAD_BYTES:
                self._refuse_head()

    # Parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes, self._head_raw = True, 0, 0
        self._start_deadline()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._waiting_since = None  # its timer, if armed, finds nothing to cut and is not armed again
        super().on_message_complete()

    def _refuse_head(self) -> None:
        """Answer 431 (JSON, as the app's errors) and close: the rest of the head is never read."""
        self._head_refused = True
        log.info("refused a request whose line and headers passed %d bytes (431)", MAX_HEAD_BYTES)
        detail = f"the request line and headers are over {MAX_HEAD_BYTES} bytes; the limit is {MAX_HEAD_BYTES}"
        body = msgspec.json.encode(error_body("headers_too_large", detail))
        head = b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body)
        self.transport.write(STATUS_LINE[431] + head + body)
        self.transport.close()

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            self._head_refused = True
            raise HeadTooLarge

    def _start_deadline(self) -> None:
        """One timer a connection, armed again only when it fires: a timer made and cancelled per request
        was a cost every request paid for the rare slow one."""
        if self._waiting_since is None:
            self._waiting_since = self.loop.time()
        if self._deadline is None:
            self._deadline = self.loop.call_at(self._waiting_since + self.request_timeout, self._too_slow)

    def _stop_deadline(self) -> None:
        if getattr(self, "_deadline", None) is not None:
            assert self._deadline is not None
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self._waiting_since is None:  # answered in time; the next request arms it again
            return
        if self.loop.time() < self._waiting_since + self.request_timeout:  # a later request, still in time
            self._start_deadline()
            return
        if not self.transport.is_closing():
            log.info("closed a connection whose request took over %s s to arrive", self.request_timeout)
            self.transport.close()


def bounded_protocol(request_timeout: float) -> type[BoundedHttpToolsProtocol]:
    """The protocol class uvicorn builds per connection, with this deadline."""
    attributes: dict[str, Any] = {"request_timeout": request_timeout}
    return type("GatewayHttpProtocol", (BoundedHttpToolsProtocol,), attributes)
