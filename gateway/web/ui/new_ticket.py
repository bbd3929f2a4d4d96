"""A person files a ticket from the catalog: choose an item, fill in only the fields it opens."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from gateway.core.errors import NotFound
from gateway.decide import user_tickets
from gateway.web.routes.common import DispatcherDep, RuntimeDep, in_thread
from gateway.web.ui import auth
from gateway.web.ui.render import page, redirect

LABELS = {"short_description": "Title"}  # what a person calls the summary


def _item(rt: Any, name: str) -> dict[str, Any]:
    found = next((item for item in user_tickets.catalog_view(rt) if item["name"] == name), None)
    if found is None:
        raise NotFound(f"there is no catalog item {name!r}", code="unknown_catalog_item")
    return found


@get("/new", sync_to_thread=True)
def catalog(request: Request[Any, Any, Any], rt: RuntimeDep) -> Response[str]:
    return page(request, "new_ticket.html", items=user_tickets.catalog_view(rt), item=None, labels=LABELS)


@get("/new/{name:str}", sync_to_thread=True)
def item_form(name: str, request: Request[Any, Any, Any], rt: RuntimeDep) -> Response[str]:
    return page(request, "new_ticket.html", items=[], item=_item(rt, name), labels=LABELS)


@post("/new/{name:str}")
async def file_ticket(
    name: str, request: Request[Any, Any, Any], rt: RuntimeDep, dispatch: DispatcherDep
) -> Response[Any]:
    form = await auth.checked_form(request)
    fields = {key: value for key, value in form.items() if value.strip()}
    if "short_description" in fields:  # the form names it as the API does: `title`
        fields["title"] = fields.pop("short_description")
    ticket, _ = await in_thread(
        lambda: user_tickets.open_ticket(
            rt, dispatch, requester="console", fields=fields, catalog=name, origin="console"
        )
    )
    return redirect(request, f"/ui/tickets/{rt.number(ticket.id)}")
