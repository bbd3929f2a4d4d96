"""POST /v1/webhooks/{source}: a data-quality tool's delivery."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from gateway.decide.ingest import accept
from gateway.web.routes.common import DispatcherDep, RuntimeDep, headers_of, in_thread, read_body


@post("/v1/webhooks/{source:str}", status_code=202, summary="Accept a webhook")
async def receive_webhook(
    source: str, request: Request[Any, Any, Any], rt: RuntimeDep, dispatch: DispatcherDep
) -> Response[dict[str, Any]]:
    body = await read_body(request, rt.settings.max_body_bytes)
    result, status = await in_thread(accept, rt, dispatch, source, headers_of(request), body)
    return Response(result, status_code=status)
