"""Who may use the console: a signed session cookie, a CSRF token per session, the loopback rule.

With GATEWAY_API_TOKEN set, the login page takes the token once and the cookie says so until it
expires or is signed out (kept in the database, so a copy of the cookie ends with it on every node);
the signing key derives from the token, so a new token ends every session. Without a
token the console answers loopback clients only (`allowed`). Every POST carries the session's
CSRF token; the cookie is HttpOnly and SameSite=Strict.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import secrets
import time
from contextlib import suppress
from typing import Any

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.handlers.base import BaseRouteHandler

from gateway.receive.security import same
from gateway.record import console_sessions
from gateway.record.runtime import Runtime
from gateway.record.store import DatabaseError

COOKIE = "gateway_console"
PATH = "/ui"


class Session(msgspec.Struct, frozen=True):
    csrf: str
    expires: float
    signed_in: bool


class LoginRequired(Exception):
    """The console needs the API token first."""


class AlreadySubmitted(Exception):
    """This form was submitted before: the second time does nothing (the page shows what the first did)."""


class Forbidden(Exception):
    """Refused: a missing or wrong CSRF token, or not loopback without a token."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _key(connection: ASGIConnection[Any, Any, Any, Any]) -> bytes:
    """From the API token when set (shared by every web node); else one random key per process."""
    token = _runtime(connection).settings.api_token
    if token:
        return hashlib.sha256(b"gateway-console-session\0" + token.encode()).digest()
    state = connection.app.state
    key: bytes | None = getattr(state, "console_key", None)
    if key is None:
        key = state.console_key = secrets.token_bytes(32)
    return key


def _runtime(connection: ASGIConnection[Any, Any, Any, Any]) -> Runtime:
    rt: Runtime = connection.app.state.runtime
    return rt


def _sign(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def encode(key: bytes, session: Session) -> str:
    data = base64.urlsafe_b64encode(msgspec.json.encode(session)).decode().rstrip("=")
    return f"{data}.{_sign(key, data.encode())}"


def decode(key: bytes, value: str, now: float) -> Session | None:
    data, _, signature = value.partition(".")
    if not data or not same(signature, _sign(key, data.encode())):
        return None
    try:
        session = msgspec.json.decode(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)), type=Session)
    except (msgspec.DecodeError, ValueError):
        return None
    return session if session.expires > now else None


def new_session(connection: ASGIConnection[Any, Any, Any, Any], *, signed_in: bool) -> Session:
    hours = _runtime(connection).settings.ui_session_hours
    return Session(csrf=secrets.token_urlsafe(32), expires=time.time() + hours * 3600, signed_in=signed_in)


def cookie(connection: ASGIConnection[Any, Any, Any, Any], session: Session | None) -> Cookie:
    """The session cookie to set (None: the one that clears it)."""
    secure = connection.url.scheme == "https"
    if session is None:
        return Cookie(key=COOKIE, value="", path=PATH, max_age=0, httponly=True, samesite="strict", secure=secure)
    return Cookie(
        key=COOKIE,
        value=encode(_key(connection), session),
        path=PATH,
        max_age=max(int(session.expires - time.time()), 1),
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def session_id(session: Session) -> str:
    """What names a session where it is kept as signed out: a digest of its CSRF token, never the token."""
    return hashlib.sha256(b"gateway-console-signout\0" + session.csrf.encode()).hexdigest()


def sign_out(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """End this session on every web node, also for a copy of its cookie (kept until it would expire)."""
    session = current(connection)
    if session.signed_in:
        console_sessions.sign_out(_runtime(connection).mirror, session_id(session), session.expires, time.time())


def current(connection: ASGIConnection[Any, Any, Any, Any]) -> Session:
    """This request's session; a new anonymous one (set by the page's response) when it has none, or when
    the one it names was signed out."""
    found: Session | None = connection.state.get("console_session")
    if found is not None:
        return found
    value = connection.cookies.get(COOKIE, "")
    found = decode(_key(connection), value, time.time()) if value else None
    if (
        found is not None
        and found.signed_in
        and console_sessions.signed_out(_runtime(connection).mirror, session_id(found))
    ):
        found = None
    if found is None:
        found = new_session(connection, signed_in=False)
        connection.state["console_session_new"] = True
    connection.state["console_session"] = found
    return found


def is_new(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    return bool(connection.state.get("console_session_new"))


def token_required(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    return bool(_runtime(connection).settings.api_token)


def token_matches(connection: ASGIConnection[Any, Any, Any, Any], given: str) -> bool:
    token = _runtime(connection).settings.api_token
    return bool(token) and same(given.strip(), token or "")


def allowed(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """The console's one access rule: signed in with the API token, or, without a token, loopback only."""
    if token_required(connection):
        return current(connection).signed_in
    host = connection.client.host if connection.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def console_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if allowed(connection):
        return
    if token_required(connection):
        raise LoginRequired()
    raise Forbidden("without GATEWAY_API_TOKEN the console answers loopback clients only; set a token to open it")


async def checked_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The posted form, once its CSRF token matches this session's; 403 otherwise. A form that changes
    something carries a one-time token (`once`): sent again (a double click, a resubmitted page) it is
    `AlreadySubmitted`, and the second submission does nothing."""
    form = await request.form()
    values = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    given = values.pop("csrf", "")
    session = current(request)
    if not given or is_new(request) or not same(given, session.csrf):
        raise Forbidden("the form's CSRF token is missing or out of date; reload the page and try again")
    once = values.pop("once", "")
    if once:
        form_id = hashlib.sha256(b"gateway-console-form\0" + once.encode()).hexdigest()
        mirror = _runtime(request).mirror
        if not await asyncio.to_thread(console_sessions.first_submission, mirror, form_id, time.time()):
            raise AlreadySubmitted()
        request.state["console_form"] = form_id
    return values


def forget_submission(request: Request[Any, Any, Any]) -> None:
    """This request's form did not do what it asked (refused, failed): it may be sent again."""
    form_id = request.state.get("console_form")
    if form_id:
        with suppress(*DatabaseError):
            console_sessions.forget_submission(_runtime(request).mirror, form_id)


def safe_next(value: str | None) -> str:
    """Only console paths, never another host (`//host`, `/\\host`)."""
    if value and value.startswith(PATH) and not value.startswith(("//", "/\\")) and "\\" not in value:
        return value
    return PATH
