"""Liveness and readiness."""

from __future__ import annotations

import sqlite3
from typing import Any

from litestar import Request, Response, get

from gateway.routes.common import dispatcher, runtime


@get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", sync_to_thread=True)
def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """The database must take a write; Redis away is 'degraded' (webhooks are still accepted and kept)."""
    rt = runtime(request)
    try:
        with rt.mirror.transaction():  # a write lock, not a read: webhooks need to write (a locked DB still reads)
            pass
        database = "ok"
    except sqlite3.Error:
        database = "unavailable"
    found = dispatcher(request)
    redis = "ok" if found is not None and found.healthy() else "unavailable"
    status = "ok" if database == "ok" and redis == "ok" else ("degraded" if database == "ok" else "unavailable")
    body = {"status": status, "database": database, "redis": redis}
    return Response(body, status_code=503 if database != "ok" else 200)
