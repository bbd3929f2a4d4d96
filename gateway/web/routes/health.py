"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import sqlite3
from typing import Any

from litestar import Request, Response, get

from gateway.web.routes.common import DispatcherDep, RuntimeDep


@get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", sync_to_thread=True)
def readyz(request: Request[Any, Any, Any], rt: RuntimeDep, dispatch: DispatcherDep) -> Response[dict[str, Any]]:
    """The database must take a write; Redis away is 'degraded' (webhooks are still accepted and kept)."""
    try:
        with rt.mirror.transaction():  # a write lock, not a read: webhooks need to write (a locked DB still reads)
            pass
        database = "ok"
    except sqlite3.Error:
        database = "unavailable"
    found = dispatch
    redis = "ok" if found is not None and found.healthy() else "unavailable"
    status = "ok" if database == "ok" and redis == "ok" else ("degraded" if database == "ok" else "unavailable")
    body = {"status": status, "database": database, "redis": redis}
    return Response(body, status_code=503 if database != "ok" else 200)


_METRICS = {
    "executions": (
        "dq_gateway_executions",
        "Executions in the log by status, action and target.",
        ("status", "action", "target"),
    ),
    "tickets": ("dq_gateway_tickets", "Mirror tickets by state.", ("state",)),
    "events": ("dq_gateway_events", "Recorded webhook events by source and type.", ("source", "type")),
    "sla": ("dq_gateway_sla_breaches", "Tickets whose SLA timer was breached, by timer.", ("timer",)),
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@get("/metrics", sync_to_thread=True, media_type="text/plain; version=0.0.4")
def metrics(request: Request[Any, Any, Any], rt: RuntimeDep, dispatch: DispatcherDep) -> str:
    """Prometheus text exposition: the execution log and the mirror as gauges, and whether Redis is up."""
    lines: list[str] = []
    for key, values in {**rt.mirror.gauges(), "sla": rt.mirror.sla_breach_counts()}.items():
        name, text, labels = _METRICS[key]
        lines += [f"# HELP {name} {text}", f"# TYPE {name} gauge"]
        for label_values, count in sorted(values.items()):
            pairs = ",".join(f'{label}="{_escape(value)}"' for label, value in zip(labels, label_values, strict=True))
            lines.append(f"{name}{{{pairs}}} {count}")
    found = dispatch
    up = int(found is not None and found.healthy())
    lines += [
        "# HELP dq_gateway_redis_up Whether the queue's Redis answers.",
        "# TYPE dq_gateway_redis_up gauge",
        f"dq_gateway_redis_up {up}",
    ]
    return "\n".join(lines) + "\n"
