"""What every route needs: the injected runtime and dispatcher, bounded body reads, JSON decoding."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any, TypeVar

from litestar import Request
from litestar.concurrency import sync_to_thread
from litestar.params import Dependency
from litestar.types import Receive

from gateway.core.errors import ClientGone, InvalidPayload, PayloadTooLarge
from gateway.core.jsonbody import decode_as
from gateway.dispatch.queue import Dispatcher
from gateway.record.runtime import Runtime
from gateway.rules.lifecycle import STATES, canonical_state

T = TypeVar("T")


# The runtime and the dispatcher, injected from app.state (gateway.web.app); they are not request data, so
# the signature model must not validate (and so describe) them.
RuntimeDep = Annotated[Runtime, Dependency(skip_validation=True)]
DispatcherDep = Annotated[Dispatcher | None, Dependency(skip_validation=True)]


async def read_body(request: Request[Any, Any, Any], limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it passes `limit` (never read whole first)."""
    _refuse_declared(request.headers.get("content-length"), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def receive_body(receive: Receive, limit: int, declared: str | None) -> bytes:
    """`read_body` straight from the ASGI server, for the hot route (no Request, headers already read)."""
    _refuse_declared(declared, limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect
            raise ClientGone("the client went away before its body arrived")
        chunk = message["body"]
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _refuse_declared(declared: str | None, limit: int) -> None:
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is {declared} bytes; the limit is {limit}")


def decode(body: bytes, shape: type[T]) -> T:
    return decode_as(body, shape)


def headers_of(request: Request[Any, Any, Any]) -> dict[str, str]:
    return raw_headers(request.scope)


def raw_headers(scope: Any) -> dict[str, str]:
    """The request's headers by lower-case name (the last of a repeated one), read from the ASGI scope."""
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}


async def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Blocking work (SQLite, Redis) off the event loop."""
    return await sync_to_thread(partial(fn, *args, **kwargs))


def paging(limit: str | None, after: str | None, default: int) -> tuple[int, int | None]:
    """`?limit=&after=`: a page size of 1-1000 and the opaque key the previous page ended at."""
    size = _whole("limit", limit, "a page size from 1 to 1000") if limit else default
    start = _whole("after", after, "the `next` the previous page ended with") if after else None
    if not 1 <= size <= 1000:
        raise InvalidPayload(f"limit={size} is out of range: 1 to 1000", code="invalid_query")
    if start is not None and not 0 <= start < 2**63:  # the databases' integers
        raise InvalidPayload("after is not a key a page ended at", code="invalid_query")
    return size, start


def _whole(name: str, value: str, must: str) -> int:
    """A query parameter that must be a whole number: 422 naming it and what it is for (not both at once)."""
    try:
        return int(value)
    except ValueError:
        problem = f"{name}={value!r} is not a whole number: {name} is {must}"
        raise InvalidPayload(problem, code="invalid_query") from None


def one_of(name: str, value: str | None, allowed: Sequence[str]) -> str | None:
    """A filter over a closed set (`?status=`): anything else would list nothing, as if nothing were there."""
    if not value:
        return None
    if value not in allowed:
        raise InvalidPayload(f"{name}={value!r} is not one of {', '.join(allowed)}", code="invalid_query")
    return value


def state_of(value: str | None) -> str | None:
    """`?state=` read as the CLI and chat read it ('in progress'); 422 naming the states for anything else."""
    if not value:
        return None
    state = canonical_state(value)
    if state is None:
        problem = f"state={value!r} is not a ticket state; states: {', '.join(STATES)}"
        raise InvalidPayload(problem, code="invalid_query")
    return state


def since_time(value: str | None) -> float | None:
    """`since=` as epoch seconds: ISO 8601, `Z` or an offset; a time without one is UTC (422 otherwise)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        problem = f"since={value!r} is not an ISO 8601 time such as 2026-01-25T12:00Z"
        raise InvalidPayload(problem, code="invalid_query") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
