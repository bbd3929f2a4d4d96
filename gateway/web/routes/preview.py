"""POST /v1/preview/{source}: a dry run for mapping authors (admin; no source signature)."""

from __future__ import annotations

from typing import Any

from litestar import Request, post

from gateway.decide.preview import preview
from gateway.web.routes.bodies import documented_body
from gateway.web.routes.common import RuntimeDep, headers_of, in_thread, read_body


@post(
    "/v1/preview/{source:str}",
    status_code=200,
    summary="Dry-run a payload",
    operation_class=documented_body(),
)
async def preview_payload(source: str, request: Request[Any, Any, Any], rt: RuntimeDep) -> dict[str, Any]:
    body = await read_body(request, rt.settings.max_body_bytes)
    return await in_thread(preview, rt, source, headers_of(request), body)
