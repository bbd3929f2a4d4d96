"""The login page (when GATEWAY_API_TOKEN is set) and signing out."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from gateway.web.routes.common import in_thread
from gateway.web.ui import auth
from gateway.web.ui.render import page, redirect


@get("/login")
async def login_page(request: Request[Any, Any, Any], next_path: str | None = None) -> Response[Any]:
    if not auth.token_required(request) or auth.current(request).signed_in:
        return redirect(request, auth.safe_next(next_path))
    return page(request, "login.html", next_path=auth.safe_next(next_path), error=None)


@post("/login")
async def login(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await auth.checked_form(request)
    target = auth.safe_next(form.get("next_path"))
    if not auth.token_required(request):
        return redirect(request, target)
    if not auth.token_matches(request, form.get("token", "")):
        return page(request, "login.html", status=401, next_path=target, error="That is not the API token.")
    response = redirect(request, target)
    response.cookies.append(auth.cookie(request, auth.new_session(request, signed_in=True)))
    return response


@post("/logout")
async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
    await auth.checked_form(request)
    await in_thread(auth.sign_out, request)
    response = redirect(request, "/ui/login")
    response.cookies.append(auth.cookie(request, None))
    return response
