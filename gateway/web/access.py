"""Who may call what: private by default.

With GATEWAY_API_TOKEN set, everything but the webhooks (data-quality tools' and trackers'), the
chat endpoints (each with its own proof), the health checks, the API description and the console
(its own login) needs `Authorization: Bearer <token>`; /metrics also takes GATEWAY_METRICS_TOKEN.
State-changing API calls take JSON only and refuse a foreign Origin, so a web page cannot forge
them. Without a token the Host header must be one of GATEWAY_ALLOWED_HOSTS (DNS rebinding).
`bearer_ok` is the check to reuse for any new surface.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from gateway.core.errors import GatewayError, Unauthorized
from gateway.receive.security import same
from gateway.web.limits import send_error

# /schema describes the API (no data) and the console links its Swagger UI, which a browser opens without a bearer.
OPEN_PREFIXES = ("/v1/webhooks/", "/slack/", "/teams/", "/ui", "/schema")
OPEN_PATHS = ("/healthz", "/readyz")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class UnsupportedMediaType(GatewayError):
    status_code = 415
    code = "unsupported_media_type"


class Forbidden(GatewayError):
    status_code = 403
    code = "forbidden"


def bearer_ok(headers: Any, *tokens: str | None) -> bool:
    """True when `Authorization: Bearer` carries one of the (set) tokens; each compared in constant time."""
    auth = str(headers.get("authorization", ""))
    if not auth.lower().startswith("bearer "):
        return False
    given = auth[7:].strip()
    matched = False
    for token in tokens:
        if token:
            matched |= same(given, token)
    return matched


def is_open(path: str) -> bool:
    # a tracker's webhook carries its own proof (Jira cannot add an Authorization header)
    tracker_webhook = path.startswith("/v1/trackers/") and path.endswith("/webhook")
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES) or tracker_webhook


def api_guard(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """The token for everything not open, JSON and same-origin for changes."""
    path = connection.scope["path"]
    settings = connection.app.state.runtime.settings
    if settings.api_token:
        extra = settings.metrics_token if path == "/metrics" else None
        if not bearer_ok(connection.headers, settings.api_token, extra):
            raise Unauthorized("this endpoint needs Authorization: Bearer <GATEWAY_API_TOKEN>", code="unauthorized")
    if connection.scope.get("method", "GET") not in SAFE_METHODS:
        _same_origin_json(connection)


def _same_origin_json(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    origin = connection.headers.get("origin")
    if origin and urlsplit(origin).netloc.lower() != connection.headers.get("host", "").lower():
        raise Forbidden(f"requests from the origin {origin!r} are refused", code="foreign_origin")
    # A browser's cross-site form or fetch always names a type (form, multipart, text/plain): refuse all but JSON.
    media = connection.headers.get("content-type", "").split(";")[0].strip().lower()
    if media and media != "application/json":
        raise UnsupportedMediaType(f"send Content-Type: application/json, not {media!r}")


def _host(headers: Any) -> str:
    for name, value in headers:  # ASGI names are lower case; a dict of them all cost more than the search
        if name == b"host":
            return str(value.decode("latin-1").lower())
    return ""


def access_check(allowed: tuple[str, ...]) -> Any:
    """ASGI middleware: the Host check (only when no API token is set), then `api_guard`.

    A middleware, not a Litestar guard: Litestar runs a sync guard in a thread per request."""
    check_host = bool(allowed) and "*" not in allowed

    def middleware(app: ASGIApp) -> ASGIApp:
        async def check(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == ScopeType.HTTP:
                if check_host and not scope["app"].state.runtime.settings.api_token:
                    host = _host(scope["headers"])
                    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
                    if name.strip("[]") not in allowed:
                        detail = f"the Host {host!r} is not one of GATEWAY_ALLOWED_HOSTS ({', '.join(allowed)})"
                        await send_error(send, 421, "host_not_allowed", detail)
                        return
                if not is_open(scope["path"]):
                    api_guard(ASGIConnection(scope))
            await app(scope, receive, send)

        return check

    return middleware
