"""POST /v1/trackers/{target}/webhook: a tracker's own webhook (two-way sync), verified on the raw bytes."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from gateway.decide.inbound import receive
from gateway.web.routes.common import DispatcherDep, RuntimeDep, headers_of, in_thread, read_body


@post("/v1/trackers/{target:str}/webhook", status_code=202, summary="Accept a tracker's webhook")
async def tracker_webhook(
    target: str, request: Request[Any, Any, Any], rt: RuntimeDep, dispatch: DispatcherDep
) -> Response[dict[str, Any]]:
    body = await read_body(request, rt.settings.max_body_bytes)
    query = {name: str(value) for name, value in request.query_params.items()}
    result, status = await in_thread(receive, rt, dispatch, target, headers_of(request), query, body)
    return Response(result, status_code=status)
