"""Jinja2 with autoescape on, the console's filters, and HTML responses that carry the session cookie."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from litestar import MediaType, Request, Response
from litestar.response import Redirect
from markupsafe import Markup, escape

from gateway.web.ui import auth

HERE = Path(__file__).parent
# Pages render untrusted payloads: nothing but our own files, scripts and styles.
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
    " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


def when(value: str | float | None) -> Markup:
    """A time in UTC, turned into the viewer's zone by console.js; the UTC value stays on hover."""
    if value is None or value == "":
        return Markup("&ndash;")
    moment = (
        datetime.fromtimestamp(value, UTC)
        if isinstance(value, int | float)
        else datetime.fromisoformat(value.replace("Z", "+00:00"))
    )
    iso = moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    text = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup('<time datetime="{0}" title="{1}">{1}</time>').format(iso, text)


def hour_utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M UTC")


def duration(milliseconds: float | None) -> str:
    """1234 -> '1.2 s', 95000 -> '1 min 35 s'."""
    if milliseconds is None:
        return "-"
    if milliseconds < 1000:
        return f"{int(milliseconds)} ms"
    seconds = milliseconds / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def between(start: str | None, end: str | None) -> str:
    if not start or not end:
        return "-"
    first, last = (datetime.fromisoformat(v.replace("Z", "+00:00")) for v in (start, end))
    return duration((last - first).total_seconds() * 1000)


def query(values: dict[str, Any], **changes: Any) -> str:
    """The current filters with some changed, as a query string (empty values dropped)."""
    merged = {**values, **changes}
    return urlencode({k: v for k, v in merged.items() if v is not None and v != ""})


@pass_context
def shown(context: Context, value: Any) -> Any:
    """What every `{{ }}` prints: text from the mirror with a configured secret masked (a description, comment
    or note quoting one), as notifications and chat replies mask it. Only values: the page's own markup, and
    what our filters build as markup from times, is never touched (a short secret may be a word of HTML)."""
    redact = context.get("redact")
    if redact is None or not isinstance(value, str) or isinstance(value, Markup):
        return value
    return redact(value)


ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=shown,
)
ENV.filters.update(when=when, duration=duration, between=between, hour_utc=hour_utc)
ENV.globals.update(query=query, escape=escape)


def _finish(request: Request[Any, Any, Any], response: Response[Any]) -> Response[Any]:
    if auth.is_new(request):
        response.cookies.append(auth.cookie(request, auth.current(request)))
    response.headers.update(SECURITY_HEADERS)
    return response


def page(request: Request[Any, Any, Any], template: str, status: int = 200, **context: Any) -> Response[str]:
    session = auth.current(request)
    html = ENV.get_template(template).render(
        csrf=session.csrf,
        once=secrets.token_urlsafe(16),  # the page's forms that change something: each acts once (`checked_form`)
        signed_in=auth.token_required(request) and session.signed_in,
        here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        path=request.url.path,
        redact=request.app.state.runtime.redactor(),  # for `shown`: every value printed
        **context,
    )
    return _finish(request, Response(html, status_code=status, media_type=MediaType.HTML))


def redirect(request: Request[Any, Any, Any], to: str) -> Response[Any]:
    """After a POST: see the result with a GET (303)."""
    return _finish(request, Redirect(to, status_code=303))
