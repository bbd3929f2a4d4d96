"""POST /v1/webhooks/{source}: a data-quality tool's delivery."""

from __future__ import annotations

import logging
import time
from typing import Any

from litestar import Request, Response, post

from gateway.decide.ingest import accept
from gateway.web.routes.bodies import documented_body
from gateway.web.routes.common import DispatcherDep, RuntimeDep, headers_of, in_thread, read_body

log = logging.getLogger("gateway.web")


@post("/v1/webhooks/{source:str}", status_code=202, summary="Accept a webhook", operation_class=documented_body())
async def receive_webhook(
    source: str, request: Request[Any, Any, Any], rt: RuntimeDep, dispatch: DispatcherDep
) -> Response[dict[str, Any]]:
    started = time.monotonic()
    body = await read_body(request, rt.settings.max_body_bytes)
    result, status = await in_thread(accept, rt, dispatch, source, headers_of(request), body)
    took = round((time.monotonic() - started) * 1000, 1)
    log.info(
        "webhook %s accepted: %d event(s), %d execution(s)%s in %.1f ms",
        source,
        len(result.get("event_ids", [])),
        len(result.get("executions", [])),
        " (duplicate)" if result.get("duplicate") else "",
        took,
        extra={
            "source": source,
            "status": status,
            "event_ids": result.get("event_ids", []),
            "executions": result.get("executions", []),
            "duration_ms": took,
        },
    )
    return Response(result, status_code=status)
