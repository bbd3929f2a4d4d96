"""The execution log: find what failed, read every attempt, retry."""

from __future__ import annotations

from typing import Any, get_args

from litestar import Request, get, post

from gateway.core.errors import NotFound
from gateway.core.models import EXECUTION_STATUSES, ActionName
from gateway.core.outbound import ErrorKind
from gateway.decide import operations as actions
from gateway.record.views import execution_view, execution_views, next_after
from gateway.web.routes.common import DispatcherDep, RuntimeDep, one_of, paging, since_time


@get("/v1/executions", sync_to_thread=True)
def list_executions(
    request: Request[Any, Any, Any],
    rt: RuntimeDep,
    status: str | None = None,
    target: str | None = None,
    flow: str | None = None,
    action: str | None = None,
    error_kind: str | None = None,
    since: str | None = None,
    limit: str | None = None,
    after: str | None = None,
) -> dict[str, Any]:
    size, start = paging(limit, after, 500)
    found = rt.mirror.list_executions(
        status=one_of("status", status, EXECUTION_STATUSES),
        target=target,
        flow=flow,
        action=one_of("action", action, get_args(ActionName)),
        error_kind=one_of("error_kind", error_kind, get_args(ErrorKind)),
        since=since_time(since),
        limit=size,
        after=start,
    )
    return {"executions": execution_views(rt, found), "next": next_after(found, size, "seq")}


@get("/v1/executions/{execution_id:str}", sync_to_thread=True)
def show_execution(execution_id: str, request: Request[Any, Any, Any], rt: RuntimeDep) -> dict[str, Any]:
    execution = rt.mirror.execution(execution_id)
    if execution is None:
        raise NotFound(f"no execution {execution_id!r}", code="unknown_execution")
    return execution_view(rt, execution)


@post("/v1/executions/{execution_id:str}/retry", status_code=202, sync_to_thread=True)
def retry_execution(
    execution_id: str, request: Request[Any, Any, Any], rt: RuntimeDep, dispatch: DispatcherDep
) -> dict[str, Any]:
    return execution_view(rt, actions.retry_execution(rt, dispatch, execution_id))


@post("/v1/executions/retry", status_code=202, sync_to_thread=True)
def retry_failed(
    request: Request[Any, Any, Any],
    rt: RuntimeDep,
    dispatch: DispatcherDep,
    target: str | None = None,
    flow: str | None = None,
    error_kind: str | None = None,
    since: str | None = None,
) -> dict[str, Any]:
    retried = actions.retry_executions(
        rt,
        dispatch,
        target=target,
        flow=flow,
        error_kind=one_of("error_kind", error_kind, get_args(ErrorKind)),  # a typo retried nothing, said 202
        since=since_time(since),
    )
    return {"retried": retried}
