"""Delivering a message to a channel over the core edges (HTTP, SMTP): no URL, token or key in a log
line or message."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

import httpx

from gateway.core.http import post_json
from gateway.core.mail import send_mail
from gateway.core.outbound import PermanentError, RetryableError, retry_after
from gateway.notify.markup import PLAIN, html_body, pagerduty_event, plain_text, slack_payload, teams_payload
from gateway.notify.messages import Message
from gateway.rules.channels import ChannelConfig, EmailChannel, PagerDutyChannel, SlackChannel, TeamsChannel

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
    """Send one message to one channel; returns how it went there (no URL, no token)."""
    if isinstance(channel, TeamsChannel):
        post_json(channel.webhook_url, teams_payload(message), what="Teams webhook", timeout=channel.timeout)
        return "teams webhook"
    if isinstance(channel, EmailChannel):
        return _mail(channel, message)
    if isinstance(channel, PagerDutyChannel):
        return _page(channel, message)
    return _slack(channel, message)


def _slack(channel: SlackChannel, message: Message) -> str:
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


def _mail(channel: EmailChannel, message: Message) -> str:
    """A plain-text part and an escaped HTML part with the same content; the subject is the title."""
    mail = EmailMessage()
    mail["Subject"] = " ".join(message.title.split())[:250]
    mail["From"] = channel.sender
    mail["To"] = ", ".join(channel.to)
    mail["Message-ID"] = make_msgid(domain="dq-gateway")
    mail.set_content(plain_text(message, PLAIN) + (f"\n\n{message.context}" if message.context else ""))
    mail.add_alternative(html_body(message), subtype="html")
    smtp = channel.smtp
    send_mail(
        mail,
        host=smtp.host,
        port=smtp.port,
        starttls=smtp.starttls,
        user=smtp.user,
        password=smtp.password,
        timeout=channel.timeout,
        what=f"SMTP server {smtp.host}:{smtp.port}",
    )
    return f"email to {len(channel.to)} recipient(s)"


def _pagerduty_error(response: httpx.Response) -> str:
    """PagerDuty's refusal: `{"status", "message", "errors": [...]}`."""
    try:
        answer = response.json()
    except ValueError:
        return " ".join(response.text.split())[:200] or "(no body)"
    if not isinstance(answer, dict):
        return str(answer)[:200]
    errors = answer.get("errors") or []
    said = str(answer.get("message") or answer.get("status") or "no message")
    return f"{said} ({'; '.join(str(e) for e in errors)})" if errors else said


def _page(channel: PagerDutyChannel, message: Message) -> str:
    """An Events API v2 event: 202 accepted; 429 and 5xx retried by the edge; 400 names PagerDuty's error."""
    event = pagerduty_event(message, channel.routing_key)
    post_json(channel.url, event, what="PagerDuty Events API", timeout=channel.timeout, describe=_pagerduty_error)
    return f"pagerduty {event['event_action']}"
