"""What each tool sent and what it became; the mappings, `gateway check` and the preview form."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from litestar import Request, Response, get, post

from gateway.core.errors import GatewayError, NotFound
from gateway.core.redact import Redactor
from gateway.decide.preview import preview
from gateway.receive.sources import ADAPTERS
from gateway.receive.sources.base import SourceConfig
from gateway.record import console_queries as queries
from gateway.record.runtime import Runtime
from gateway.rules.live import TargetCheck, check_target
from gateway.rules.loader import MappingErrors, load_mappings
from gateway.rules.schema import Mappings
from gateway.web.routes.common import RuntimeDep, in_thread
from gateway.web.ui import auth
from gateway.web.ui.render import page
from gateway.web.ui.tickets import PAGE_SIZE, executions, offset

AUTH_NAMES = {
    "secret": "shared secret header",
    "hmac_secret": "HMAC signature",
    "token": "token header",
    "basic": "Basic auth",
}
LIVE_SECONDS = 30.0  # the console waits this long for the trackers; each call is bounded by its target's timeout


def _event(rt: Runtime, redactor: Redactor, event_id: str) -> dict[str, Any] | None:
    row = queries.event(rt.mirror, event_id)
    if row is None:
        return None
    runs = executions(rt, queries.execution_page(rt.mirror, event_id=event_id, limit=50).ids)
    return {
        **{k: row[k] for k in ("id", "source", "source_event_id", "event_type", "anomaly_id", "ignored_reason")},
        "received_at": row["received_at"],
        "ticket": rt.number(row["ticket_id"]) if row["ticket_id"] else None,
        "payload": redactor(queries.payload_text(row)),
        "executions": runs,
    }


@get("/events", sync_to_thread=True)
def event_list(
    request: Request[Any, Any, Any],
    rt: RuntimeDep,
    page_number: int,
    source: str | None = None,
    outcome: str | None = None,
) -> Response[str]:
    redactor = rt.redactor()  # as the runner redacts
    found = queries.event_page(rt.mirror, source=source, outcome=outcome, offset=offset(page_number), limit=PAGE_SIZE)
    shown = [e for e in (_event(rt, redactor, i) for i in found.ids) if e is not None]
    return page(
        request,
        "events.html",
        events=shown,
        total=found.total,
        filters={"source": source, "outcome": outcome},
        page_number=page_number,
        pages=max((found.total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        sources=sorted(rt.mappings.sources),
    )


@get("/events/{event_id:str}", sync_to_thread=True)
def event_page(event_id: str, request: Request[Any, Any, Any], rt: RuntimeDep) -> Response[str]:
    found = _event(rt, rt.redactor(), event_id)
    if found is None:
        raise NotFound(f"no event {event_id!r}", code="unknown_event")
    return page(request, "event.html", event=found)


def auth_kind(config: SourceConfig) -> str:
    keys = ADAPTERS[config.kind].auth_keys if config.kind in ADAPTERS else tuple(AUTH_NAMES)
    used = [AUTH_NAMES.get(k, k) for k in keys if getattr(config, k, None)]
    if used:
        return ", ".join(used)
    return "none (allow_unauthenticated)" if config.allow_unauthenticated else "none"


def check(rt: Runtime) -> dict[str, Any]:
    """What `gateway check` says of the mapping files as they are on disk now."""
    try:
        found = load_mappings(rt.settings.mappings)
    except MappingErrors as exc:
        return {"ok": False, "errors": [str(e) for e in exc.errors]}
    return {
        "ok": True,
        "summary": f"{len(found.files)} file(s), {len(found.sources)} source(s),"
        f" {len(found.targets)} target(s), {len(found.channels)} channel(s), {len(found.flows)} flow(s)",
    }


def _mappings_context(request: Request[Any, Any, Any], rt: Runtime) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    sources = [
        {"name": name, "kind": c.kind, "url": f"{base}/v1/webhooks/{name}", "auth": auth_kind(c)}
        for name, c in sorted(rt.mappings.sources.items())
    ]
    targets = [
        {"name": name, "kind": t.kind, "url": str(getattr(t.config, "url", "") or "")}
        for name, t in sorted(rt.mappings.targets.items())
    ]
    flows = [
        {
            "name": f.name,
            "file": f.file,
            "trigger": f.trigger.type,
            "sources": ", ".join(f.sources or ["any source"]),
            "actions": ", ".join(kind for kind, _ in f.actions),
        }
        for f in rt.mappings.flows
    ]
    return {"sources": sources, "targets": targets, "flows": flows, "check": check(rt)}


@get("/mappings", sync_to_thread=True)
def mappings(request: Request[Any, Any, Any], rt: RuntimeDep) -> Response[str]:
    return page(
        request,
        "mappings.html",
        **_mappings_context(request, rt),
        chosen="",
        payload="",
        result=None,
        error=None,
        live=None,
    )


@post("/mappings/preview")
async def preview_form(request: Request[Any, Any, Any], rt: RuntimeDep) -> Response[str]:
    """The preview endpoint's answer for a pasted payload, shown as it returns it (no side effects)."""
    form = await auth.checked_form(request)
    source, payload = form.get("source", ""), form.get("payload", "")
    result, error = None, None
    try:
        answer = await in_thread(preview, rt, source, {"content-type": "application/json"}, payload.encode())
        result = json.dumps(answer, indent=2, ensure_ascii=False)
    except GatewayError as exc:
        error = f"{exc.code}: {exc.detail}"
    context = await in_thread(_mappings_context, request, rt)
    return page(
        request, "mappings.html", **context, chosen=source, payload=payload, result=result, error=error, live=None
    )


@post("/mappings/live")
async def live_check(request: Request[Any, Any, Any], rt: RuntimeDep) -> Response[str]:
    """`gateway check --live` for the running gateway's targets, each in a thread, LIVE_SECONDS at most."""
    await auth.checked_form(request)
    checks = await live_checks(rt.mappings, LIVE_SECONDS)
    context = await in_thread(_mappings_context, request, rt)
    return page(request, "mappings.html", **context, chosen="", payload="", result=None, error=None, live=checks)


async def live_checks(mappings: Mappings, seconds: float) -> list[TargetCheck]:
    """Every target at once, off the event loop; one that has not answered in time says so (its
    thread ends on its own: each of its calls is bounded by the target's timeout)."""
    loop = asyncio.get_running_loop()
    names = sorted(mappings.targets)
    running = [loop.run_in_executor(None, check_target, mappings, name) for name in names]
    await asyncio.wait(running, timeout=seconds)
    checks = []
    for name, future in zip(names, running, strict=True):
        if future.done() and future.exception() is None:
            checks.append(future.result())
            continue
        target = mappings.targets[name]
        why = f"no answer within {seconds:g} s" if not future.done() else f"the check failed: {future.exception()!r}"
        file = mappings.origins.get(name, "")
        checks.append(TargetCheck(target=name, kind=target.kind, file=file, summary=why, answered=False))
    return checks
