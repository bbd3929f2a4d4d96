"""A small threaded HTTP server for tracker emulators: routing, auth, fault injection, request log.

Faults are queued and consumed one request at a time, so a test can say "the next three
requests answer 429 with Retry-After: 2" and then watch the connector recover. They can be
set in-process (`server.inject(...)`) or over HTTP (`POST /_emulator/faults`) when the
emulator runs in another process (the sandbox, the soak benchmark). The control endpoints need
`X-Emulator-Token: <emulator.control_token>`: the tracker's users cannot reach them.
With `keep_state(path)` a server keeps its records in a JSON file across restarts (the sandbox).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import json
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import msgspec

REQUEST_LOG_LIMIT = 10_000  # the newest requests a test can read; a sandbox left running keeps no more

FaultKind = Literal["status", "slow", "slow_after", "drop", "drop_after", "status_after", "html"]


class Fault(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One injected misbehaviour, applied to the next `count` matching requests.

    status: answer `status` (with Retry-After when given) instead of handling the request;
    slow: sleep `delay` seconds, then handle it; slow_after: handle it, then sleep `delay` seconds before
    answering (what it says is as old as that when it arrives); drop: close the connection unanswered;
    drop_after: handle it (the change is made) and then close unanswered; status_after: handle it
    and answer `status` all the same (a proxy's 5xx after the instance applied it); html: 200 text/html.
    `method` / `path` (a regex searched in the path) narrow which requests it hits; the first
    `skip` requests that match pass untouched.
    """

    kind: FaultKind
    count: int = 1
    status: int = 500
    retry_after: float | None = None
    delay: float = 0.0
    method: str | None = None
    path: str | None = None
    skip: int = 0
    headers: dict[str, str] = msgspec.field(default_factory=dict)  # more answer headers (RateLimit-Reason)

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        return not (self.path and not re.search(self.path, path))


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    user: str = ""

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json"


class Unauthenticated(Exception):
    """Raised by an auth check; the emulator answers 401."""


Handler = Callable[[Request], Response]


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int


class Emulator:
    """Routes + users + faults. Subclasses register routes in `__init__`."""

    name = "emulator"

    def __init__(
        self, users: dict[str, str] | None = None, tokens: set[str] | None = None, *, log_limit: int = REQUEST_LOG_LIMIT
    ) -> None:
        self.users = dict(users or {})
        self.tokens = set(tokens or ())
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.faults: list[Fault] = []
        self.log: list[LoggedRequest] = []  # a list, not a deque: a test may read it while requests arrive
        self.log_limit = log_limit
        self.served = 0  # every request logged, also those the log no longer holds
        self.lock = threading.RLock()
        self.control_token = secrets.token_urlsafe(16)

    # -- routing -------------------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(f"^{pattern}$"), handler))

    def authenticate(self, request: Request) -> str:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise Unauthenticated() from None
            if self.users.get(user) == password:
                return user
        if auth.lower().startswith("bearer ") and auth[7:].strip() in self.tokens:
            return "token"
        raise Unauthenticated()

    def unauthenticated(self) -> Response:
        return Response(401, {"error": "unauthenticated"})

    def not_found(self, request: Request) -> Response:
        return Response(404, {"error": f"no route for {request.method} {request.path}"})

    def dispatch(self, request: Request) -> Response:
        for method, pattern, handler in self.routes:
            found = pattern.match(request.path)
            if found and method == request.method:
                request.params = found.groupdict()
                try:
                    request.user = self.authenticate(request)
                except Unauthenticated:
                    return self.unauthenticated()
                with self.lock:
                    return handler(request)
        return self.not_found(request)

    def record(self, request: LoggedRequest) -> None:
        """Log a request; past the limit the oldest tenth goes (so trimming is rare, not per request)."""
        with self.lock:
            self.served += 1
            self.log.append(request)
            if len(self.log) > self.log_limit:
                del self.log[: len(self.log) - self.log_limit + self.log_limit // 10]

    # -- faults --------------------------------------------------------------------------
    def inject(self, *faults: Fault) -> None:
        with self.lock:
            self.faults.extend(faults)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path) and fault.skip > 0:
                    fault.skip -= 1
                elif fault.matches(method, path):
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def reset(self) -> None:
        """Forget every record; subclasses extend this."""
        with self.lock:
            self.faults.clear()
            self.log.clear()
            self.served = 0

    def snapshot(self) -> Any:
        """The records a restart must keep (JSON-able); subclasses say which."""
        return {}

    def restore(self, data: Any) -> None:
        """Take back what `snapshot` returned."""

    def control(self, request: Request) -> Response | None:
        """`/_emulator/...`: faults, request log, state; only with the control token."""
        given = request.headers.get("x-emulator-token", "")
        if not hmac.compare_digest(given.encode(), self.control_token.encode()):
            return Response(401, {"error": "the emulator's control endpoints need X-Emulator-Token"})
        if request.path == "/_emulator/faults" and request.method == "POST":
            payload = request.json() or {}
            items = payload.get("faults", [payload]) if isinstance(payload, dict) else payload
            self.inject(*msgspec.convert(items, list[Fault]))
            return Response(204)
        if request.path == "/_emulator/faults" and request.method == "DELETE":
            self.clear_faults()
            return Response(204)
        if request.path == "/_emulator/reset" and request.method == "POST":
            self.reset()
            return Response(204)
        if request.path == "/_emulator/state" and request.method == "GET":
            return Response(200, self.state())
        return None

    def state(self) -> Any:
        return {}

    def fault_body(self, status: int) -> Any:
        """The body of an injected error answer, in the tracker's own error shape."""
        return {"error": f"injected fault {status}"}


class _RequestHandler(BaseHTTPRequestHandler):
    server: EmulatorHTTPServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:  # the test output stays quiet
        return

    def _handle(self) -> None:
        emulator = self.server.emulator
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        if parts.path.startswith("/_emulator/"):
            response = emulator.control(request) or emulator.not_found(request)
            if request.method != "GET" and response.status < 400:
                self.server.changed()  # a reset is kept too
            self._send(response)
            return
        fault = emulator.take_fault(request.method, request.path)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
        if fault is not None and fault.kind == "drop":
            self._drop()
            return
        if fault is not None and fault.kind == "status":
            headers = {} if fault.retry_after is None else {"Retry-After": _seconds(fault.retry_after)}
            headers.update(fault.headers)
            response = Response(fault.status, emulator.fault_body(fault.status), headers)
        elif fault is not None and fault.kind == "html":
            response = Response(200, raw=b"<html><body>Instance hibernating</body></html>", content_type="text/html")
        else:
            response = emulator.dispatch(request)
        try:
            logged_body = request.json() if body else None
        except ValueError:
            logged_body = body.decode(errors="replace")
        emulator.record(LoggedRequest(request.method, request.path, request.query, logged_body, response.status))
        if request.method != "GET" and response.status < 400:
            self.server.changed()
        if fault is not None and fault.kind == "drop_after":
            self._drop()
            return
        if fault is not None and fault.kind == "status_after":
            response = Response(fault.status, emulator.fault_body(fault.status))
        if fault is not None and fault.kind == "slow_after":
            time.sleep(fault.delay)
        self._send(response)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may have gone already
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, response: Response) -> None:
        if response.raw is not None:
            payload = response.raw
        elif response.body is None:
            payload = b""
        else:
            payload = json.dumps(response.body).encode()
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if payload or response.status != 204:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


SAVE_EVERY_S = 5.0  # the whole state is written: with thousands of tickets, not too often
PIECE = 500  # members of a big dict or list encoded in one call: the interpreter's lock is let go between


def encode_in_pieces(value: Any, out: list[bytes], depth: int = 0) -> None:
    """`value` as JSON, appended to `out` a piece at a time. Encoded in one call under the emulator's lock,
    12,000 incidents held every request (and the process's other threads) for 40 ms or more every
    SAVE_EVERY_S. A big dict or list (the records) is encoded PIECE members a call, each member whole, so each
    is as one moment saw it; the small dicts above are walked; `snapshot` puts last what must cover every
    saved record (an incident counter)."""
    if isinstance(value, dict | list) and len(value) > PIECE:
        members: list[Any] = list(value.items()) if isinstance(value, dict) else list(value)
        out.append(b"{" if isinstance(value, dict) else b"[")
        for start in range(0, len(members), PIECE):
            piece = members[start : start + PIECE]
            encoded = msgspec.json.encode(dict(piece) if isinstance(value, dict) else piece)
            out.append((b"," if start else b"") + encoded[1:-1])  # without the piece's own brackets
            time.sleep(0)  # the requests waiting for the interpreter go first
        out.append(b"}" if isinstance(value, dict) else b"]")
    elif isinstance(value, dict) and depth < 2:
        out.append(b"{")
        for index, (key, member) in enumerate(list(value.items())):
            out.append((b"," if index else b"") + msgspec.json.encode(str(key)) + b":")
            encode_in_pieces(member, out, depth + 1)
        out.append(b"}")
    else:
        out.append(msgspec.json.encode(value))


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _RequestHandler)
        self.emulator = emulator
        self._thread: threading.Thread | None = None
        self.state_file: Path | None = None
        self._save_lock = threading.Lock()
        self._file_lock = threading.Lock()  # the timer's save and the one at shutdown share a partial file
        self._saver: threading.Timer | None = None

    def keep_state(self, path: Path) -> EmulatorHTTPServer:
        """Load the records from `path` (when it exists) and write them there after every change."""
        self.state_file = path
        if path.is_file():
            self.emulator.restore(json.loads(path.read_text()))
        return self

    def changed(self) -> None:
        """Records changed: written within SAVE_EVERY_S (the whole state each time, so not after every write)."""
        if self.state_file is None:
            return
        with self._save_lock:
            if self._saver is None or not self._saver.is_alive():
                self._saver = threading.Timer(SAVE_EVERY_S, self.save_state)
                self._saver.daemon = True
                self._saver.start()

    def save_state(self) -> None:
        if self.state_file is None:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        partial = self.state_file.with_suffix(".partial")
        with self._file_lock:  # the snapshot inside it too: an older one is never written last
            with self.emulator.lock:
                state = self.emulator.snapshot()
            pieces: list[bytes] = []
            encode_in_pieces(state, pieces)
            partial.write_bytes(b"".join(pieces))
            os.replace(partial, self.state_file)  # never a half-written file after a crash

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> EmulatorHTTPServer:
        self._thread = threading.Thread(target=self.serve_forever, name=f"{self.emulator.name}-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._saver is not None:
            self._saver.cancel()
        self.save_state()
