"""The one httpx client for outbound calls (chat posts, Slack response_url, link-back, webhook actions).

Every failure is classified by `gateway.core.outbound`, once, and never carries the URL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx

from gateway.core.outbound import PermanentError, RetryableError, from_status


class _HostOnly(logging.Filter):
    """httpx logs every request's full URL at INFO; webhook URLs and response_urls are secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_host_only(a) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


def _host_only(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.host}/..."


logging.getLogger("httpx").addFilter(_HostOnly())


def post_json(
    url: str,
    payload: dict[str, Any],
    *,
    what: str,
    timeout: float,
    headers: dict[str, str] | None = None,
    show_body: bool = True,
    extensions: dict[str, Any] | None = None,
    trust_env: bool = True,
    describe: Callable[[httpx.Response], str] | None = None,
) -> httpx.Response:
    """POST JSON; every failure classified here, without the URL in it.

    `show_body=False` for URLs a payload chose: the callee's answer is then never repeated
    (status code only), so the gateway cannot be used to read other services. `trust_env=False`
    ignores proxy settings, so a checked address is the one connected to. Redirects are never
    followed (a 3xx is a PermanentError). `describe` reads a refusal's body the callee's way
    (its error field) instead of a plain snippet.
    """
    return send(
        "POST", url, what=what, timeout=timeout, headers=headers, show_body=show_body, extensions=extensions,
        trust_env=trust_env, describe=describe, json=payload,
    )  # fmt: skip


def send(
    method: str,
    url: str,
    *,
    what: str,
    timeout: float,
    headers: dict[str, str] | None = None,
    show_body: bool = True,
    extensions: dict[str, Any] | None = None,
    trust_env: bool = True,
    describe: Callable[[httpx.Response], str] | None = None,
    **body: Any,
) -> httpx.Response:
    """One request with `json=` or `content=` (exact bytes, when a signature covers them); failures
    classified as for `post_json`."""
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=trust_env) as client:
            response = client.request(method, url, headers=headers, extensions=extensions, **body)
    except httpx.TimeoutException:
        raise RetryableError(f"{what} timed out after {timeout:g} s") from None
    except httpx.TransportError as exc:
        raise RetryableError(f"{what} could not be reached ({type(exc).__name__})") from None
    except httpx.HTTPError as exc:  # a malformed URL and the like: trying again cannot help
        raise PermanentError(f"{what} could not be called ({type(exc).__name__})") from None
    status = response.status_code
    if status >= 300:
        error = from_status(status, response.headers, f"{what} answered HTTP {status}")
        if show_body and isinstance(error, PermanentError) and status >= 400:
            error.message = f"{error.message}: {(describe or _snippet)(response)}"
            error.args = (error.message,)
        raise error
    return response


def _snippet(response: httpx.Response) -> str:
    return " ".join(response.text.split())[:200] or "(no body)"
