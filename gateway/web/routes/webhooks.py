"""POST /v1/webhooks/{source}: a data-quality tool's delivery."""

from __future__ import annotations

import logging
import time
from typing import Any

import msgspec
from litestar import Request, post
from litestar.openapi import ResponseSpec
from litestar.types import ASGIApp

from gateway.decide.ingest import receive, source_config
from gateway.record.runtime import Runtime
from gateway.web.limits import json_answer
from gateway.web.routes.bodies import documented_body
from gateway.web.routes.common import in_thread, raw_headers, receive_body
from gateway.web.writer_link import WriterLink, plan_in_process

log = logging.getLogger("gateway.web")
INLINE_BYTES = 64 * 1024  # verify and parse a small body on the event loop; a larger one in a thread


class IgnoredItem(msgspec.Struct):
    reason: str
    event_id: str | None


class Accepted(msgspec.Struct):
    """The 202's body, for the API description (`answer` builds it)."""

    event_ids: list[str]
    executions: list[str]
    duplicate: bool
    ignored: list[IgnoredItem]


# The hot path: no injected parameters (each costs a dependency resolution and a signature check a
# request) and an answer that is an ASGI app of its own (no Response to build and convert).
@post(
    "/v1/webhooks/{source:str}",
    status_code=202,
    summary="Accept a webhook",
    operation_class=documented_body(),
    responses={202: ResponseSpec(Accepted, generate_examples=False, description="Recorded; its executions are queued")},
)
async def receive_webhook(request: Request[Any, Any, Any]) -> ASGIApp:
    started = time.monotonic()
    rt: Runtime = request.app.state.runtime
    source: str = request.path_params["source"]
    source_config(rt, source)
    headers = raw_headers(request.scope)
    body = await receive_body(request.receive, rt.settings.max_body_bytes, headers.get("content-length"))
    if len(body) <= INLINE_BYTES:
        received = receive(rt, source, headers, body)
    else:
        received = await in_thread(receive, rt, source, headers, body)
    link: WriterLink | None = request.app.state.writer_link
    if link is not None:
        result, status = await link.plan(received)
    else:
        result, status = await plan_in_process(request.app.state.writer, received)
    took = round((time.monotonic() - started) * 1000, 1)
    if log.isEnabledFor(logging.INFO):
        log.info(
            "webhook %s accepted: %d event(s), %d execution(s)%s in %.1f ms",
            source,
            len(result["event_ids"]),
            len(result["executions"]),
            " (duplicate)" if result["duplicate"] else "",
            took,
            extra={
                "source": source,
                "status": status,
                "event_ids": result["event_ids"],
                "executions": result["executions"],
                "duration_ms": took,
            },
        )
    return json_answer(result, status)
