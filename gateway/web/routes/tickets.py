"""The ticket mirror: list, show, open (people's tickets), move, comment; the catalog people open from."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.params import Parameter

from gateway.core.errors import InvalidPayload
from gateway.core.models import TICKET_FIELDS
from gateway.decide import operations as actions
from gateway.decide import user_tickets
from gateway.record.history import FORMATS, history_records
from gateway.record.history import render as history_render
from gateway.record.views import next_after, ticket_view, ticket_views
from gateway.web.routes.bodies import documented_body
from gateway.web.routes.common import DispatcherDep, RuntimeDep, decode, in_thread, paging, read_body, state_of


class StatusChange(msgspec.Struct, forbid_unknown_fields=True):
    status: str
    note: str = ""


class NewComment(msgspec.Struct, forbid_unknown_fields=True):
    text: str


class AnomalyReference(msgspec.Struct, forbid_unknown_fields=True):
    source: str
    anomaly_id: str


class NewTicket(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`{"catalog": item, "fields": {...}}`, or ad hoc `{"fields": {the ten fields}, "targets": [...]}`
    (the ten fields may also stand at the top level, as DESIGN.md writes it)."""

    catalog: str | None = None
    fields: dict[str, str] = msgspec.field(default_factory=dict)
    targets: list[str] | None = None
    short_description: str | None = None
    description: str | None = None
    status: str | None = None
    priority: str | None = None
    urgency: str | None = None
    impact: str | None = None
    category: str | None = None
    subcategory: str | None = None
    assignment_group: str | None = None
    assigned_to: str | None = None

    def ticket_fields(self) -> dict[str, str]:
        top = {name: value for name in TICKET_FIELDS if (value := getattr(self, name)) is not None}
        if top and (self.fields or self.catalog):
            raise InvalidPayload(
                f'{", ".join(top)}: give the ticket\'s fields under "fields" or at the top level, not both '
                '(a catalog item\'s form goes under "fields")',
                code="ambiguous_fields",
            )
        return top or self.fields


def actor(request: Request[Any, Any, Any]) -> str:
    """Who acts: the X-Gateway-Actor header (a person behind a tool), else the API token's holder."""
    return request.headers.get("x-gateway-actor", "").strip() or "api"


@get("/v1/catalog", sync_to_thread=True)
def list_catalog(rt: RuntimeDep) -> dict[str, Any]:
    return {"items": user_tickets.catalog_view(rt)}


@post("/v1/tickets", status_code=201)
async def open_ticket(request: Request[Any, Any, Any], rt: RuntimeDep, dispatch: DispatcherDep) -> dict[str, Any]:
    """A person opens a ticket; its source is `user` and its requester the X-Gateway-Actor header (else `api`)."""
    new = decode(await read_body(request, rt.settings.max_body_bytes), NewTicket)
    ticket, executions = await in_thread(
        user_tickets.open_ticket,
        rt,
        dispatch,
        requester=actor(request),
        fields=new.ticket_fields(),
        catalog=new.catalog,
        targets=new.targets,
    )
    return {"ticket": ticket_view(rt, ticket, detail=True), "executions": executions}


@get("/v1/tickets", sync_to_thread=True)
def list_tickets(
    request: Request[Any, Any, Any],
    rt: RuntimeDep,
    state_filter: str | None = Parameter(query="state", default=None),
    source: str | None = None,
    q: str | None = None,
    limit: str | None = None,
    after: str | None = None,
) -> dict[str, Any]:
    size, start = paging(limit, after, 200)
    tickets = rt.mirror.list_tickets(state=state_of(state_filter), source=source, q=q, limit=size, after=start)
    return {"tickets": ticket_views(rt, tickets), "next": next_after(tickets, size, "id")}


@get("/v1/tickets/{reference:str}", sync_to_thread=True)
def show_ticket(reference: str, request: Request[Any, Any, Any], rt: RuntimeDep) -> dict[str, Any]:
    return ticket_view(rt, actions.find_ticket(rt, reference), detail=True)


@get("/v1/tickets/{reference:str}/history", sync_to_thread=True)
def ticket_history(
    reference: str, rt: RuntimeDep, fmt: str = Parameter(query="format", default="json")
) -> Response[str]:
    """The ticket's audit record: fields, links, anomalies and the append-only history (read-only)."""
    if fmt not in FORMATS:
        raise InvalidPayload(f"format {fmt!r} is not one of {', '.join(FORMATS)}", code="unknown_format")
    ticket = actions.find_ticket(rt, reference)
    [record] = history_records(rt, [ticket])
    media = "application/yaml" if fmt == "yaml" else "application/json"
    return Response(history_render(record, "yaml" if fmt == "yaml" else "json"), media_type=media)


@post(
    "/v1/tickets/{reference:str}/status",
    status_code=202,
    operation_class=documented_body(StatusChange),
)
async def change_status(
    reference: str, request: Request[Any, Any, Any], rt: RuntimeDep, dispatch: DispatcherDep
) -> dict[str, Any]:
    change = decode(await read_body(request, rt.settings.max_body_bytes), StatusChange)
    ticket, executions = await in_thread(
        actions.move_ticket, rt, dispatch, reference, change.status, note=change.note, actor=actor(request)
    )
    return {"ticket": ticket_view(rt, ticket, detail=True), "executions": executions}


@post(
    "/v1/tickets/{reference:str}/comments",
    status_code=202,
    operation_class=documented_body(NewComment),
)
async def add_comment(
    reference: str, request: Request[Any, Any, Any], rt: RuntimeDep, dispatch: DispatcherDep
) -> dict[str, Any]:
    comment = decode(await read_body(request, rt.settings.max_body_bytes), NewComment)
    ticket, executions = await in_thread(
        actions.comment_ticket, rt, dispatch, reference, comment.text, actor=actor(request)
    )
    return {"ticket": ticket_view(rt, ticket, detail=True), "executions": executions}


@post(
    "/v1/tickets/{reference:str}/anomalies",
    status_code=200,
    operation_class=documented_body(AnomalyReference),
)
async def link_anomaly(reference: str, request: Request[Any, Any, Any], rt: RuntimeDep) -> dict[str, Any]:
    """Link an anomaly by hand; `moved_from` names the open ticket it left."""
    body = decode(await read_body(request, rt.settings.max_body_bytes), AnomalyReference)
    ticket, moved_from = await in_thread(
        actions.link_anomaly, rt, reference, body.source, body.anomaly_id, actor=actor(request)
    )
    return {"ticket": ticket_view(rt, ticket, detail=True), "moved_from": moved_from}


@delete(
    "/v1/tickets/{reference:str}/anomalies",
    status_code=200,
    operation_class=documented_body(AnomalyReference),
)
async def unlink_anomaly(reference: str, request: Request[Any, Any, Any], rt: RuntimeDep) -> dict[str, Any]:
    body = decode(await read_body(request, rt.settings.max_body_bytes), AnomalyReference)
    ticket = await in_thread(actions.unlink_anomaly, rt, reference, body.source, body.anomaly_id, actor=actor(request))
    return {"ticket": ticket_view(rt, ticket, detail=True)}
