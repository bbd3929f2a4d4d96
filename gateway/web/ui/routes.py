"""The console's routes, its error pages, its static files, and the vendored OpenAPI viewer."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from litestar import MediaType, Request, Response, Router
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

from gateway.core.errors import GatewayError
from gateway.record.store import DatabaseError, ValueRefused
from gateway.web.ui import auth, events, executions, login, new_ticket, tickets
from gateway.web.ui.render import HERE, SECURITY_HEADERS, page

log = logging.getLogger("gateway.web.ui")
STATIC = "/ui/static"
# what a person reads for an address no console page answers (Litestar's details are the status's name)
ROUTING = {
    404: ("Not found", "No console page has this address."),
    405: ("Method not allowed", "This address takes a form's submission; go back to the page the form is on."),
}


def _login_required(request: Request[Any, Any, Any], _: auth.LoginRequired) -> Response[Any]:
    """To the login, then back here; a form's address takes POSTs only, so back to its page (one step up:
    /ui/tickets/DQ-1/comments -> /ui/tickets/DQ-1), not to a 405 after signing in."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        here = request.url.path.rsplit("/", 1)[0]
    target = "/ui/login?next_path=" + quote(here)
    if request.headers.get("hx-request"):  # a live refresh after the session ended: the whole page goes
        return Response("", status_code=401, headers={"hx-redirect": target})
    return Response("", status_code=303, headers={"location": target})


def _already_submitted(request: Request[Any, Any, Any], _: auth.AlreadySubmitted) -> Response[Any]:
    """A form sent twice: back to its page (one step up from the form's address), which shows what the first did;
    a ticket filed from the catalog is in the ticket list (the catalog would look as if nothing happened)."""
    path = request.url.path
    back = "/ui/tickets" if path.startswith("/ui/new/") else path.rsplit("/", 1)[0]
    return Response("", status_code=303, headers={"location": back})


def _error_page(request: Request[Any, Any, Any], status: int, title: str, detail: str) -> Response[Any]:
    if request.method == "POST":  # the form did not do what it asked: the same page may send it again
        auth.forget_submission(request)
    try:
        return page(request, "error.html", status=status, title=title, detail=detail)
    except Exception:  # the error page itself failed: plain text, still no request data
        log.exception("the console's error page failed")
        return Response(detail, status_code=status, media_type=MediaType.TEXT, headers=SECURITY_HEADERS)


def _forbidden(request: Request[Any, Any, Any], exc: auth.Forbidden) -> Response[Any]:
    return _error_page(request, 403, "Forbidden", exc.detail)


def _gateway_error(request: Request[Any, Any, Any], exc: GatewayError) -> Response[Any]:
    return _error_page(request, exc.status_code, exc.code.replace("_", " ").capitalize(), exc.detail)


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Also the app's answer for console addresses no route matches, so a browser never gets JSON."""
    if exc.status_code in ROUTING:
        return _error_page(request, exc.status_code, *ROUTING[exc.status_code])
    return _error_page(request, exc.status_code, "Request refused", str(exc.detail))


def _database_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The API's 503, as a page: a lock held past the busy timeout, PostgreSQL away."""
    log.error("database error: %s", type(exc).__name__)
    detail = "The mirror database is unavailable right now; nothing was recorded. Try again in a moment."
    return _error_page(request, 503, "Database unavailable", detail)


def _value_refused(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return _error_page(request, 422, "Invalid value", f"A value you sent cannot be stored: {reason}")


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("the console failed unexpectedly", exc_info=exc)
    return _error_page(request, 500, "Internal error", "The gateway failed unexpectedly; its log says why.")


def owns(path: str) -> bool:
    return path == "/ui" or path.startswith("/ui/")


def router() -> Router:
    """Every console route; all but the login page and static files behind the console's guard."""
    pages = Router(
        path="/ui",
        route_handlers=[
            tickets.overview,
            tickets.ticket_list,
            tickets.ticket_page,
            tickets.move,
            tickets.comment,
            executions.execution_list,
            executions.execution_page,
            executions.retry,
            executions.retry_all,
            events.event_list,
            events.event_page,
            events.mappings,
            events.preview_form,
            events.live_check,
            new_ticket.catalog,
            new_ticket.item_form,
            new_ticket.file_ticket,
            login.logout,
        ],
        guards=[auth.console_guard],
        dependencies={"page_number": Provide(tickets.page_number, sync_to_thread=False)},  # ?page= of every list
        include_in_schema=False,
    )
    public = Router(path="/ui", route_handlers=[login.login_page, login.login], include_in_schema=False)
    return Router(
        path="/",
        route_handlers=[
            pages,
            public,
            create_static_files_router(path=STATIC, directories=[HERE / "static"], include_in_schema=False),
        ],
        exception_handlers={
            auth.LoginRequired: _login_required,
            auth.AlreadySubmitted: _already_submitted,
            auth.Forbidden: _forbidden,
            GatewayError: _gateway_error,
            HTTPException: http_error,
            **dict.fromkeys(DatabaseError, _database_error),
            **dict.fromkeys(ValueRefused, _value_refused),
            Exception: _unexpected,
        },
    )


def schema_viewer() -> SwaggerRenderPlugin:
    """Swagger UI at /schema from the vendored files (no CDN); the JSON stays at /schema/openapi.json."""
    return SwaggerRenderPlugin(
        js_url=f"{STATIC}/swagger/swagger-ui-bundle.js",
        css_url=f"{STATIC}/swagger/swagger-ui.css",
        standalone_preset_js_url=f"{STATIC}/swagger/swagger-ui-standalone-preset.js",
        path="/",
        favicon="",
    )
