"""Request bounds enforced before any route runs: the size of the request head."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPResponseStartEvent, Receive, Scope, Send

from gateway.core.errors import error_body

MAX_HEAD_BYTES = 16 * 1024  # what h11, Node and nginx allow for a request line and headers together


async def send_json(send: Send, status: int, content: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """`content` as a JSON answer, sent straight to the ASGI server."""
    body = msgspec.json.encode(content)
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        + (headers or []),
    }
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def send_error(
    send: Send, status: int, code: str, detail: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """A `{"error", "detail"}` answer from ASGI middleware, before Litestar's handlers exist for the request."""
    await send_json(send, status, error_body(code, detail), headers)


def json_answer(content: Any, status: int) -> ASGIApp:
    """A route's JSON answer as an ASGI app: a hot route returns it instead of building a Response."""

    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        await send_json(send, status, content)

    return answer


def head_size(scope: Scope) -> int:
    raw_path: Any = scope.get("raw_path") or scope.get("path", "").encode()
    headers: Any = scope.get("headers", [])
    return len(raw_path) + len(scope.get("query_string", b"")) + sum(len(k) + len(v) + 4 for k, v in headers)


def head_limit(app: ASGIApp) -> ASGIApp:
    """431 for a request whose line and headers together pass MAX_HEAD_BYTES."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            size = head_size(scope)
            if size > MAX_HEAD_BYTES:
                detail = f"the request line and headers are {size} bytes; the limit is {MAX_HEAD_BYTES}"
                await send_error(send, 431, "headers_too_large", detail)
                return
        await app(scope, receive, send)

    return middleware
