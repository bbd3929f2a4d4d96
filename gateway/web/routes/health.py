"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from gateway.record import measures
from gateway.record.store import DatabaseError
from gateway.web.metrics import Metrics
from gateway.web.routes.common import DispatcherDep, RuntimeDep


@get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", sync_to_thread=True)
def readyz(request: Request[Any, Any, Any], rt: RuntimeDep, dispatch: DispatcherDep) -> Response[dict[str, Any]]:
    """Which part is degraded: the database must take a write (503 otherwise); Redis away, the ingress
    writer process not ready or a target refusing the gateway's credentials is 'degraded' (webhooks
    are still accepted and kept).

    A target's credentials are judged by its latest answer in the execution log (401/403), so
    /readyz never calls a tracker itself.
    """
    try:
        rt.mirror.probe()  # a write lock, not a read: webhooks need to write (a locked DB still reads)
        database = "ok"
    except DatabaseError:
        database = "unavailable"
    redis = "ok" if dispatch is not None and dispatch.healthy() else "unavailable"
    targets = {name: "ok" for name in rt.mappings.targets}
    if database == "ok":
        for name, answer in measures.latest_answers(rt.mirror).items():
            if name in targets and answer in (401, 403):
                targets[name] = f"credentials refused (HTTP {answer})"
    link = request.app.state.writer_link
    writer = "in process" if link is None else link.state  # restarting: planned in the web process meanwhile
    degraded = [part for part, state in (("database", database), ("redis", redis)) if state != "ok"]
    degraded += ["ingress writer"] if writer in ("starting", "restarting") else []
    degraded += [f"target {name}" for name, state in targets.items() if state != "ok"]
    status = "unavailable" if database != "ok" else ("degraded" if degraded else "ok")
    body = {
        "status": status,
        "database": database,
        "redis": redis,
        "ingress_writer": writer,
        "targets": targets,
        "degraded": degraded,
    }
    return Response(body, status_code=503 if database != "ok" else 200)


@get("/metrics", sync_to_thread=True, media_type="text/plain; version=0.0.4")  # generate_latest's format
def metrics(request: Request[Any, Any, Any]) -> bytes:
    """Prometheus exposition (gateway.web.metrics): webhooks answered, the execution log's counts and timings."""
    found: Metrics = request.app.state.metrics
    return found.exposition()
