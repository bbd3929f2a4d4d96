"""create_app(runtime): routes, exception handlers, lifespan; wiring only."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Litestar, MediaType, Request, Response
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from gateway.core.errors import GatewayError, error_body
from gateway.decide.writer import IngestWriter
from gateway.dispatch.queue import Dispatcher
from gateway.record.runtime import Runtime
from gateway.record.store import DatabaseError, ValueRefused
from gateway.web.access import access_check
from gateway.web.limits import head_limit
from gateway.web.metrics import Metrics, count_webhooks
from gateway.web.routes import chatops, executions, health, preview, tickets, trackers, webhooks
from gateway.web.ui import routes as console
from gateway.web.ui.routes import router as console_router
from gateway.web.ui.routes import schema_viewer
from gateway.web.writer_link import Spawn, WriterLink

log = logging.getLogger("gateway.web.app")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    421: "host_not_allowed",
    431: "headers_too_large",
}


def _gateway_error(_: Request[Any, Any, Any], exc: GatewayError) -> Response[dict[str, Any]]:
    return Response(error_body(exc.code, exc.detail), status_code=exc.status_code, media_type=MediaType.JSON)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """JSON, but a page for a console address no route matches (a browser shows it)."""
    if console.owns(request.url.path):
        return console.http_error(request, exc)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return Response(error_body(code, str(exc.detail)), status_code=exc.status_code, media_type=MediaType.JSON)


def _database_error(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.error("database error: %s", type(exc).__name__)
    return Response(
        error_body("database_unavailable", "the mirror database is unavailable; nothing was recorded"),
        status_code=503,
        media_type=MediaType.JSON,
    )


def _value_refused(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """A value the database cannot hold (a NUL on PostgreSQL) is bad input, not an unavailable database:
    a 503 would have the sending tool retry it forever. Nothing was recorded (its transaction rolled back)."""
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return Response(
        error_body("invalid_value", f"a value of this request cannot be stored: {reason}"),
        status_code=422,
        media_type=MediaType.JSON,
    )


def _unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unexpected error", exc_info=exc)
    return Response(
        error_body("internal_error", "the gateway failed unexpectedly; see its log"),
        status_code=500,
        media_type=MediaType.JSON,
    )


def _runtime(state: State) -> Runtime:
    rt: Runtime = state.runtime
    return rt


def _dispatcher(state: State) -> Dispatcher | None:
    found: Dispatcher | None = state.dispatcher
    return found


_BEARER = SecurityScheme(type="http", scheme="bearer", description="GATEWAY_API_TOKEN")


def _stop_followups(state: State) -> None:
    """Slack outcome posts still waiting when the app stops post nothing (their app is gone)."""
    followups = getattr(state, "slack_followups", None)
    if followups is not None:
        followups.stopped.set()


def create_app(
    runtime: Runtime, dispatcher: Dispatcher | None, *, writer_process: Spawn | None = None, head_bounded: bool = False
) -> Litestar:
    """`writer_process` starts the ingress writer in a process of its own (`gateway serve`); without it
    deliveries are planned by a thread of this process. `head_bounded`: the HTTP server already answers
    431 to a head over the bound (`gateway serve`'s protocol), so no middleware counts it again."""
    app = Litestar(
        route_handlers=[
            webhooks.receive_webhook,
            trackers.tracker_webhook,
            preview.preview_payload,
            tickets.list_tickets,
            tickets.show_ticket,
            tickets.ticket_history,
            tickets.open_ticket,
            tickets.list_catalog,
            tickets.change_status,
            tickets.add_comment,
            tickets.link_anomaly,
            tickets.unlink_anomaly,
            executions.list_executions,
            executions.show_execution,
            executions.retry_execution,
            executions.retry_failed,
            health.healthz,
            health.readyz,
            health.metrics,
            chatops.slack_commands,
            chatops.teams_messages,
            console_router(),
        ],
        exception_handlers={
            GatewayError: _gateway_error,
            HTTPException: _http_error,
            **dict.fromkeys(DatabaseError, _database_error),
            **dict.fromkeys(ValueRefused, _value_refused),
            Exception: _unexpected,
        },
        # outermost first: a 431 from head_limit is counted too
        middleware=[
            count_webhooks,
            *([] if head_bounded else [head_limit]),
            access_check(runtime.settings.allowed_hosts),
        ],
        openapi_config=OpenAPIConfig(
            title="Data-quality ticketing gateway",
            version="0.1.0",
            path="/schema",
            render_plugins=[schema_viewer()],
            components=Components(security_schemes={"bearer": _BEARER}),
            security=[{"bearer": []}],
        ),
        dependencies={
            "rt": Provide(_runtime, sync_to_thread=False),
            "dispatch": Provide(_dispatcher, sync_to_thread=False),
        },
        logging_config=None,
        debug=False,
        request_max_body_size=runtime.settings.max_body_bytes,  # forms too (the console's login is open to all)
    )
    app.state.runtime = runtime
    app.state.dispatcher = dispatcher
    app.state.metrics = Metrics(runtime, lambda: app.state.dispatcher)  # tests swap the dispatcher
    writer = app.state.writer = IngestWriter(runtime, lambda: app.state.dispatcher)
    link = app.state.writer_link = WriterLink(writer_process, writer) if writer_process is not None else None
    if link is not None:
        app.on_startup.append(link.start)
        app.on_shutdown.append(link.stop)
    app.on_shutdown.append(lambda: writer.stop())
    app.on_shutdown.append(lambda: _stop_followups(app.state))
    return app
