"""Posting to chat: every failure classified once, and no webhook URL or token in a log line or message."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from gateway.core.outbound import PermanentError, RetryableError, parse_retry_after
from gateway.notify.markup import slack_payload, teams_payload
from gateway.notify.messages import Message
from gateway.rules.schema import ChannelConfig

SLACK_POST_MESSAGE = "https://slack.com/api/chat.postMessage"
_SLACK_RETRYABLE = frozenset({"ratelimited", "rate_limited", "service_unavailable", "fatal_error", "internal_error"})


class _HostOnly(logging.Filter):
    """httpx logs every request's full URL at INFO; webhook URLs and response_urls are secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_host_only(a) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


def _host_only(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.host}/..."


logging.getLogger("httpx").addFilter(_HostOnly())


# -- posting ------------------------------------------------------------------------------
def post_json(
    url: str, payload: dict[str, Any], *, what: str, timeout: float, headers: dict[str, str] | None = None
) -> httpx.Response:
    """POST JSON to a chat endpoint; every failure classified here, once, without the URL in it."""
    try:
        response = httpx.post(url, json=payload, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        raise RetryableError(f"{what} timed out after {timeout:g} s") from None
    except httpx.TransportError as exc:
        raise RetryableError(f"{what} could not be reached ({type(exc).__name__})") from None
    except httpx.HTTPError as exc:  # a malformed URL and the like: trying again cannot help
        raise PermanentError(f"{what} could not be called ({type(exc).__name__})") from None
    status = response.status_code
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        raise RetryableError(f"{what} answered HTTP {status}", http_status=status, retry_after=retry_after)
    if status >= 400:
        raise PermanentError(f"{what} answered HTTP {status}: {_snippet(response)}", http_status=status)
    return response


def _snippet(response: httpx.Response) -> str:
    return " ".join(response.text.split())[:200] or "(no body)"


def _slack_api_ok(response: httpx.Response) -> None:
    """Slack's Web API answers 200 with {"ok": false, "error": ...} when it refuses."""
    try:
        answer = response.json()
    except ValueError:
        raise RetryableError("Slack chat.postMessage answered without JSON", http_status=response.status_code) from None
    if isinstance(answer, dict) and answer.get("ok") is True:
        return
    error = str(answer.get("error", "unknown_error")) if isinstance(answer, dict) else "unknown_error"
    if error in _SLACK_RETRYABLE:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        raise RetryableError(f"Slack chat.postMessage refused: {error}", retry_after=retry_after)
    raise PermanentError(f"Slack chat.postMessage refused: {error}")


def deliver(channel: ChannelConfig, message: Message) -> str:
    """Post one message to one channel; returns how it went there (no URL, no token)."""
    if channel.kind == "teams":
        post_json(channel.webhook_url, teams_payload(message), what="Teams webhook", timeout=channel.timeout)
        return "teams webhook"
    if channel.webhook_url:
        post_json(channel.webhook_url, slack_payload(message), what="Slack webhook", timeout=channel.timeout)
        return "slack webhook"
    response = post_json(
        SLACK_POST_MESSAGE,
        {"channel": channel.channel, **slack_payload(message)},
        what="Slack chat.postMessage",
        timeout=channel.timeout,
        headers={"Authorization": f"Bearer {channel.bot_token}"},
    )
    _slack_api_ok(response)
    return f"slack chat.postMessage to {channel.channel}"
