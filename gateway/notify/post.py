"""Posting to chat over the core HTTP edge: no webhook URL or token in a log line or message."""

from __future__ import annotations

import httpx

from gateway.core.http import post_json
from gateway.core.outbound import PermanentError, RetryableError, retry_after
from gateway.notify.markup import slack_payload, teams_payload
from gateway.notify.messages import Message
from gateway.rules.schema import ChannelConfig

SLACK_POST_MESSAGE = "https://slack.com/api/chat.postMessage"
_SLACK_RETRYABLE = frozenset({"ratelimited", "rate_limited", "service_unavailable", "fatal_error", "internal_error"})


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
        raise RetryableError(f"Slack chat.postMessage refused: {error}", retry_after=retry_after(response.headers))
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
