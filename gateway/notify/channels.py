"""Slack and Teams notifications: what a ticket looks like in chat, and posting it to a channel.

A `notify` execution waits for the other actions of its event (or until its `wait_until`),
then says the ticket's state at that moment. Its failures are its own: they never touch the
ticket actions it reports on. Webhook URLs, tokens and `response_url`s are secrets: they are
never put into a message, and httpx's request log line is cut down to the host.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from gateway.core.outbound import PermanentError, RetryableError, parse_retry_after
from gateway.execute.runner import WAIT_STEP, Done, Executor
from gateway.record.mirror import UNFINISHED
from gateway.record.runtime import Runtime
from gateway.record.views import ticket_view
from gateway.rules.mappings import ChannelConfig, Notify

SLACK_POST_MESSAGE = "https://slack.com/api/chat.postMessage"
TRACKER_NAMES = {"jira": "Jira", "servicenow": "ServiceNow"}
_SLACK_RETRYABLE = frozenset({"ratelimited", "rate_limited", "service_unavailable", "fatal_error", "internal_error"})
_HEADER_LIMIT = 150  # Slack's header block takes at most 150 characters
_TEXT_LIMIT = 2900  # a section's text takes at most 3000


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


# -- what a message says ------------------------------------------------------------------
@dataclass
class Message:
    """A ticket as chat shows it, before it becomes Block Kit, an Adaptive Card or plain text."""

    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    context: str = ""


def ticket_message(rt: Runtime, ticket: dict[str, Any]) -> Message:
    """Number, short description, state, priority and tracker links of a ticket, as it is now."""
    view = ticket_view(rt, ticket)
    fields = view["fields"]
    facts = [("State", view["state"]), ("Priority", fields.get("priority") or "none")]
    if fields.get("assigned_to"):
        facts.append(("Assigned to", fields["assigned_to"]))
    links = [(link_label(rt, link), link["url"]) for link in view["links"] if link["url"]]
    return Message(
        title=f"{view['number']}: {fields.get('short_description') or '(no description)'}", facts=facts, links=links
    )


def link_label(rt: Runtime, link: dict[str, Any]) -> str:
    """'Jira DQ-12 (In Progress)': the tracker, its key, and the status it reported."""
    target = rt.mappings.targets.get(link["target"])
    tracker = TRACKER_NAMES.get(target.kind, link["target"]) if target else link["target"]
    status = f" ({link['remote_status']})" if link["remote_status"] else ""
    return f"{tracker} {link['external_key']}{status}"


def execution_problems(executions: list[dict[str, Any]]) -> list[str]:
    """Which ticket actions failed and why, and which have not finished yet."""
    problems = []
    for execution in sorted(executions, key=lambda e: e["seq"]):
        if execution["action"] == "notify":
            continue
        what = f"{execution['action']} → {execution['target']}"
        if execution["status"] == "failed":
            problems.append(f"{what} failed: {execution['error'] or 'no reason recorded'}")
        elif execution["status"] in UNFINISHED:
            problems.append(f"{what} has not finished yet")
    return problems


def notification_message(rt: Runtime, execution: dict[str, Any]) -> Message:
    """The ticket of a notify execution now, with what went wrong for its event."""
    ticket = rt.mirror.ticket(execution["ticket_id"]) if execution["ticket_id"] else None
    event = rt.mirror.get_event(execution["event_id"]) if execution["event_id"] else None
    payload = event["payload"] if event else {}
    anomaly = f"{payload.get('source', '?')} anomaly {payload.get('anomaly_id', '?')}"
    message = ticket_message(rt, ticket) if ticket is not None else Message(title=f"No ticket for {anomaly}")
    if payload.get("url"):
        message.links.append((anomaly, str(payload["url"])))
    siblings = rt.mirror.list_executions(event_id=execution["event_id"]) if execution["event_id"] else []
    message.problems = execution_problems(siblings)
    message.context = f"flow {execution['flow']} · {anomaly}"
    return message


# -- how it looks ---------------------------------------------------------------------------
def _mrkdwn(text: str) -> str:
    """Slack's three control characters, escaped so text cannot turn into links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Markup:
    """How one chat writes bold text and links, and what it must escape."""

    bold: Callable[[str], str]
    link: Callable[[str, str], str]
    escape: Callable[[str], str]


SLACK = Markup(bold=lambda t: f"*{_mrkdwn(t)}*", link=lambda label, url: f"<{url}|{_mrkdwn(label)}>", escape=_mrkdwn)
TEAMS = Markup(bold=lambda t: f"**{t}**", link=lambda label, url: f"[{label}]({url})", escape=lambda t: t)


def plain_text(message: Message, markup: Markup = SLACK) -> str:
    """One message as lines of chat markup (chat-ops replies)."""
    lines = [markup.bold(message.title)]
    lines += [f"{name}: {markup.escape(value)}" for name, value in message.facts]
    lines += [markup.link(label, url) for label, url in message.links]
    lines += [f"⚠ {markup.escape(problem)}" for problem in message.problems]
    return "\n".join(lines)


def slack_payload(message: Message) -> dict[str, Any]:
    """Block Kit: header, state and priority, links, failures, and where it came from."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(message.title, _HEADER_LIMIT)}},
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{_mrkdwn(value)}"} for name, value in message.facts],
        },
    ]
    if message.links:
        links = " · ".join(f"<{url}|{_mrkdwn(label)}>" for label, url in message.links)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(links, _TEXT_LIMIT)}})
    if message.problems:
        problems = "\n".join(f"• {_mrkdwn(p)}" for p in message.problems)
        text = _clip(f":warning: *Needs attention*\n{problems}", _TEXT_LIMIT)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if message.context:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _mrkdwn(message.context)}]})
    blocks = [b for b in blocks if b.get("fields") != []]
    return {"text": _mrkdwn(message.title), "blocks": blocks}


def teams_payload(message: Message) -> dict[str, Any]:
    """A message activity carrying one Adaptive Card with the same content."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": message.title, "weight": "Bolder", "size": "Medium", "wrap": True},
        {"type": "FactSet", "facts": [{"title": name, "value": value} for name, value in message.facts]},
    ]
    body += [{"type": "TextBlock", "text": f"⚠ {p}", "color": "Attention", "wrap": True} for p in message.problems]
    if message.context:
        body.append({"type": "TextBlock", "text": message.context, "isSubtle": True, "size": "Small", "wrap": True})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [b for b in body if b.get("facts") != []],
        "actions": [{"type": "Action.OpenUrl", "title": label, "url": url} for label, url in message.links],
    }
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }


# -- where it goes ----------------------------------------------------------------------------
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


# -- the execution ------------------------------------------------------------------------------
def send_notification(executor: Executor, execution: dict[str, Any]) -> str:
    """The `notify` action: wait for the flow's ticket actions, then post the ticket as it is."""
    channel = executor.rt.mappings.channels.get(execution["target"])
    if channel is None:
        raise Done("failed", f"channel {execution['target']!r} is no longer in the mappings")
    if _flow_unfinished(executor.rt, execution):
        raise Done("queued", "waiting for the flow's ticket actions", retry_in=_wait_step(execution))
    message = notification_message(executor.rt, execution)
    how: str = executor.call(execution, channel.retry, lambda: deliver(channel, message))
    return _finish(executor, execution, {"channel": execution["target"], "via": how, "title": message.title})


def plan_failure_notice(executor: Executor, tx: sqlite3.Connection, execution: dict[str, Any], now: float) -> None:
    """A ticket action failed for good after its flow's notification went out: tell the channels again.

    A notification still waiting will report the failure itself; one already sent said an earlier
    state (the action was, say, still backing off), so a new one says what finally happened.
    """
    flow = executor.rt.mappings.flow(execution["flow"])
    if flow is None or not execution["event_id"]:
        return
    channels = [c for _, action in flow.actions if isinstance(action, Notify) for c in action.channels]
    for channel in dict.fromkeys(channels):
        earlier = executor.mirror.list_executions(event_id=execution["event_id"], action="notify", target=channel)
        if any(e["status"] in UNFINISHED for e in earlier):
            continue
        executor.mirror.create_execution(
            tx,
            event_id=execution["event_id"],
            ticket_id=execution["ticket_id"],
            flow=flow.name,
            action="notify",
            target=channel,
            params={"wait_until": now},
            now=now,
            due_at=now,
        )


def _flow_unfinished(rt: Runtime, execution: dict[str, Any]) -> bool:
    """True while another action of this event is queued or running and the wait has not run out."""
    if not execution["event_id"] or time.time() >= float(execution["params"].get("wait_until", 0)):
        return False
    siblings = rt.mirror.list_executions(event_id=execution["event_id"])
    return any(e["action"] != "notify" and e["status"] in UNFINISHED for e in siblings)


def _wait_step(execution: dict[str, Any]) -> float:
    left = float(execution["params"].get("wait_until", 0)) - time.time()
    return max(min(WAIT_STEP, left), 0.05)


def _finish(executor: Executor, execution: dict[str, Any], result: dict[str, Any]) -> str:
    """Succeeded, with a `notified` entry on the ticket's timeline, in one transaction."""
    now = time.time()
    with executor.mirror.transaction() as tx:
        if execution["ticket_id"]:
            entry = {"channel": execution["target"], "execution_id": execution["id"]}
            executor.mirror.add_timeline(tx, execution["ticket_id"], "notified", "gateway", entry, now)
        executor.mirror.finish(tx, execution["id"], "succeeded", now, result=result)
    return "succeeded"
