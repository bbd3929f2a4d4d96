"""The execution log: failed first, every attempt, Retry and Retry all failed (after a confirmation)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post

from gateway.core.errors import NotFound
from gateway.decide import operations
from gateway.record import console_queries as queries
from gateway.record.runtime import Runtime
from gateway.record.views import execution_view
from gateway.web.routes.common import DispatcherDep, RuntimeDep, in_thread, one_of, since_time
from gateway.web.ui import auth
from gateway.web.ui.render import page, redirect
from gateway.web.ui.tickets import PAGE_SIZE, UNFINISHED, executions, offset

STATUSES = ("failed", "queued", "running", "succeeded", "skipped")
RETRY_FILTERS = ("target", "flow", "action", "error_kind", "since")


@get("/executions", sync_to_thread=True)
def execution_list(
    request: Request[Any, Any, Any],
    rt: RuntimeDep,
    page_number: int,
    status: str | None = None,
    target: str | None = None,
    flow: str | None = None,
    action: str | None = None,
    error_kind: str | None = None,
    since: str | None = None,
) -> Response[str]:
    filters = {"status": status, "target": target, "flow": flow, "action": action, "error_kind": error_kind}
    when = since_time(since)
    found = queries.execution_page(
        rt.mirror,
        status=one_of("status", status, STATUSES),
        target=target,
        flow=flow,
        action=action,
        error_kind=error_kind,
        since=when,
        offset=offset(page_number),
        limit=PAGE_SIZE,
    )
    shown = executions(rt, found.ids)
    retryable = 0 if status not in (None, "", "failed") else _failed_count(rt, filters, when)
    return page(
        request,
        "executions.html",
        executions=shown,
        total=found.total,
        filters={**filters, "since": since},
        page_number=page_number,
        pages=max((found.total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        busy=any(e["status"] in UNFINISHED for e in shown),
        retryable=retryable,
        statuses=STATUSES,
        targets=sorted([*rt.mappings.targets, *rt.mappings.channels]),
        flows=queries.distinct(rt.mirror, "executions", "flow"),
        actions=queries.distinct(rt.mirror, "executions", "action"),
        error_kinds=queries.distinct(rt.mirror, "executions", "error_kind"),
    )


def _failed_count(rt: Runtime, filters: dict[str, Any], since: float | None) -> int:
    """How many failed executions the filter covers (what Retry all failed would retry)."""
    mirror = rt.mirror
    return queries.execution_page(
        mirror,
        status="failed",
        target=filters.get("target"),
        flow=filters.get("flow"),
        action=filters.get("action"),
        error_kind=filters.get("error_kind"),
        since=since,
        limit=0,
    ).total


@get("/executions/{execution_id:str}", sync_to_thread=True)
def execution_page(execution_id: str, request: Request[Any, Any, Any], rt: RuntimeDep) -> Response[str]:
    found = rt.mirror.execution(execution_id)
    if found is None:
        raise NotFound(f"no execution {execution_id!r}", code="unknown_execution")
    execution = execution_view(rt, found)
    return page(request, "execution.html", execution=execution, busy=execution["status"] in UNFINISHED)


@post("/executions/{execution_id:str}/retry")
async def retry(
    execution_id: str, request: Request[Any, Any, Any], rt: RuntimeDep, dispatch: DispatcherDep
) -> Response[Any]:
    await auth.checked_form(request)
    await in_thread(operations.retry_execution, rt, dispatch, execution_id)
    return redirect(request, f"/ui/executions/{execution_id}")


@post("/executions/retry")
async def retry_all(request: Request[Any, Any, Any], rt: RuntimeDep, dispatch: DispatcherDep) -> Response[Any]:
    """Without `confirm`: a page saying how many would be retried; with it, retry them. Either way back to
    the list as it was filtered (its `status` too, which only narrows what is shown: failed ones are retried)."""
    form = await auth.checked_form(request)
    filters = {k: form.get(k, "") for k in RETRY_FILTERS}
    since = since_time(filters["since"])
    narrowed = {k: v or None for k, v in filters.items() if k != "since"}
    status = one_of("status", form.get("status"), STATUSES) or ""
    back = "/ui/executions?" + urlencode({k: v for k, v in {"status": status, **filters}.items() if v})
    if form.get("confirm") != "yes":
        count = await in_thread(_failed_count, rt, narrowed, since)
        return page(request, "retry_confirm.html", count=count, filters=filters, shown_status=status, back=back)
    await in_thread(operations.retry_executions, rt, dispatch, since=since, **narrowed)
    return redirect(request, back.rstrip("?"))
