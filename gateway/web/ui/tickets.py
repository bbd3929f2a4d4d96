"""The overview, the ticket list and a ticket's page, with its moves and comments."""

from __future__ import annotations

import time
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import Parameter

from gateway.core.errors import BadQuery
from gateway.core.models import TICKET_FIELDS
from gateway.decide import operations
from gateway.record import console_queries as queries
from gateway.record.runtime import Runtime
from gateway.record.views import execution_views, ticket_view
from gateway.rules.lifecycle import STATES
from gateway.web.routes.common import DispatcherDep, RuntimeDep, in_thread, state_of
from gateway.web.ui import auth, chart
from gateway.web.ui.render import page, redirect

PAGE_SIZE = 50
LAST_PAGE = 10**7  # past it every list is empty anyway; an offset beyond the databases' integers is an error
UNFINISHED = ("queued", "running")


def page_number(page: str | None = None) -> int:
    """`?page=` of every console list (the console's router provides it as `page_number`): a whole number from 1,
    the first page when left out or empty. Anything else is a 400 page naming it; it was Litestar's bare
    'Validation failed for GET /ui/tickets?page=abc'."""
    text = (page or "").strip()
    if not text:
        return 1
    digits = text.lstrip("0")
    if not (text.isascii() and text.isdigit()) or not digits:
        raise BadQuery(f"page={page!r} is not a page number: pages are whole numbers from 1")
    return int(digits) if len(digits) <= len(str(LAST_PAGE)) else LAST_PAGE


def offset(page_number: int) -> int:
    return (min(max(page_number, 1), LAST_PAGE) - 1) * PAGE_SIZE


def executions(rt: Runtime, ids: list[str]) -> list[dict[str, Any]]:
    found = (rt.mirror.execution(i) for i in ids)
    return execution_views(rt, [e for e in found if e is not None])


def tickets(rt: Runtime, ids: list[int]) -> list[dict[str, Any]]:
    found = (rt.mirror.ticket(i) for i in ids)
    return [ticket_view(rt, t) for t in found if t is not None]


@get("/", sync_to_thread=True)
def overview(request: Request[Any, Any, Any], rt: RuntimeDep) -> Response[str]:
    failed = queries.execution_page(rt.mirror, status="failed", limit=10)
    statuses = rt.mirror.counts()
    return page(
        request,
        "overview.html",
        states=rt.mirror.gauge_totals("tickets"),
        all_states=STATES,
        statuses=statuses,
        busy=any(statuses.get(s) for s in UNFINISHED),
        failed=executions(rt, failed.ids),
        failed_total=failed.total,
        recent=tickets(rt, queries.ticket_page(rt.mirror, limit=10).ids),
        chart=chart.build(queries.executions_per_hour(rt.mirror, time.time())),
    )


@get("/tickets", sync_to_thread=True)
def ticket_list(
    request: Request[Any, Any, Any],
    rt: RuntimeDep,
    page_number: int,
    state_filter: str | None = Parameter(query="state", default=None),
    source: str | None = None,
    target: str | None = None,
    q: str | None = None,
) -> Response[str]:
    filters = {"state": state_filter, "source": source, "target": target, "q": q}
    found = queries.ticket_page(
        rt.mirror,
        state=state_of(state_filter),
        source=source,
        target=target,
        q=q,
        offset=offset(page_number),
        limit=PAGE_SIZE,
    )
    return page(
        request,
        "tickets.html",
        tickets=tickets(rt, found.ids),
        total=found.total,
        filters=filters,
        page_number=page_number,
        pages=max((found.total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        states=STATES,
        sources=[*sorted(rt.mappings.sources), "user"],
        targets=sorted(rt.mappings.targets),
    )


@get("/tickets/{reference:str}", sync_to_thread=True)
def ticket_page(reference: str, request: Request[Any, Any, Any], rt: RuntimeDep) -> Response[str]:
    ticket = ticket_view(rt, operations.find_ticket(rt, reference), detail=True)
    found = queries.execution_page(rt.mirror, ticket_id=ticket["id"], limit=200)
    runs = executions(rt, found.ids)
    return page(
        request,
        "ticket.html",
        ticket=ticket,
        executions=runs,
        busy=any(e["status"] in UNFINISHED for e in runs),
        moves=rt.mappings.lifecycle.allowed(ticket["state"]),
        field_names=TICKET_FIELDS,
    )


@post("/tickets/{reference:str}/status")
async def move(
    reference: str, request: Request[Any, Any, Any], rt: RuntimeDep, dispatch: DispatcherDep
) -> Response[Any]:
    form = await auth.checked_form(request)
    ticket, _ = await in_thread(
        operations.move_ticket,
        rt,
        dispatch,
        reference,
        form.get("status", ""),
        note=form.get("note", ""),
        actor="console",
        origin="console",
    )
    return redirect(request, f"/ui/tickets/{rt.number(ticket.id)}")


@post("/tickets/{reference:str}/comments")
async def comment(
    reference: str, request: Request[Any, Any, Any], rt: RuntimeDep, dispatch: DispatcherDep
) -> Response[Any]:
    form = await auth.checked_form(request)
    ticket, _ = await in_thread(
        operations.comment_ticket, rt, dispatch, reference, form.get("text", ""), actor="console", origin="console"
    )
    return redirect(request, f"/ui/tickets/{rt.number(ticket.id)}")
