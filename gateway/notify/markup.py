"""How a message looks in Slack (Block Kit, mrkdwn), Teams (Adaptive Cards), e-mail (plain text + HTML)
and PagerDuty (an Events API v2 event); payload text stays text."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from gateway.notify.messages import Message

_HEADER_LIMIT = 150  # Slack's header block takes at most 150 characters
_TEXT_LIMIT = 2900  # a section's text takes at most 3000
_FIELD_LIMIT = 2000  # and each of its fields at most 2000 (escaping can make a character five)


def _mrkdwn(text: str) -> str:
    """Slack's three control characters, escaped so text cannot turn into links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\*_[]()`~<>#|!"})


def _markdown(text: str) -> str:
    """Teams' markdown control characters backslash-escaped, and list markers at a line's start."""
    escaped = text.translate(_MD_SPECIAL)
    escaped = re.sub(r"(?m)^(\s*)([-+])(?=\s)", r"\1\\\2", escaped)
    return re.sub(r"(?m)^(\s*\d+)\.(?=\s)", r"\1\\.", escaped)


def safe_url(url: str) -> str | None:
    """An http(s) URL with the characters that would end a chat link (`|`, `>`, `<`, `)`, space) encoded.

    Anything else (javascript:, data:, a bare word) is not a link: the label is shown as text.
    """
    stripped = url.strip()
    if urlsplit(stripped).scheme.lower() not in ("http", "https"):
        return None
    return quote(stripped, safe="/:?#[]@!$&'*+,;=%~.-_")


def _slack_link(label: str, url: str) -> str:
    safe = safe_url(url)
    return f"<{safe}|{_mrkdwn(label)}>" if safe else _mrkdwn(label)


def _teams_link(label: str, url: str) -> str:
    safe = safe_url(url)
    return f"[{_markdown(label)}]({safe})" if safe else _markdown(label)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Markup:
    """How one chat writes bold text and links, and what it must escape."""

    bold: Callable[[str], str]
    link: Callable[[str, str], str]
    escape: Callable[[str], str]


SLACK = Markup(bold=lambda t: f"*{_mrkdwn(t)}*", link=_slack_link, escape=_mrkdwn)
PLAIN = Markup(bold=lambda t: t, link=lambda label, url: f"{label}: {url}", escape=lambda t: t)
TEAMS = Markup(bold=lambda t: f"**{_markdown(t)}**", link=_teams_link, escape=_markdown)


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
            "fields": [
                {"type": "mrkdwn", "text": _clip(f"*{name}*\n{_mrkdwn(value)}", _FIELD_LIMIT)}
                for name, value in message.facts
            ],
        },
    ]
    if message.links:
        links = " · ".join(_slack_link(label, url) for label, url in message.links)
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
        {"type": "TextBlock", "text": _markdown(message.title), "weight": "Bolder", "size": "Medium", "wrap": True},
        {"type": "FactSet", "facts": [{"title": name, "value": _markdown(value)} for name, value in message.facts]},
    ]
    body += [
        {"type": "TextBlock", "text": f"⚠ {_markdown(p)}", "color": "Attention", "wrap": True} for p in message.problems
    ]
    if message.context:
        context = _markdown(message.context)
        body.append({"type": "TextBlock", "text": context, "isSubtle": True, "size": "Small", "wrap": True})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [b for b in body if b.get("facts") != []],
        "actions": [
            {"type": "Action.OpenUrl", "title": label, "url": safe}
            for label, url in message.links
            if (safe := safe_url(url)) is not None
        ],
    }
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }


def html_body(message: Message) -> str:
    """The same content as HTML; every text escaped, only http(s) links made clickable."""
    esc = html.escape
    parts = [f"<h2>{esc(message.title)}</h2>", "<table>"]
    parts += [f"<tr><th align='left'>{esc(name)}</th><td>{esc(value)}</td></tr>" for name, value in message.facts]
    parts.append("</table>")
    if message.links:
        items = [f"<li>{_html_link(label, url)}</li>" for label, url in message.links]
        parts.append(f"<ul>{''.join(items)}</ul>")
    if message.problems:
        items = [f"<li>{esc(problem)}</li>" for problem in message.problems]
        parts.append(f"<p><strong>Needs attention</strong></p><ul>{''.join(items)}</ul>")
    if message.context:
        parts.append(f"<p><small>{esc(message.context)}</small></p>")
    return f"<html><body>{''.join(parts)}</body></html>"


def _html_link(label: str, url: str) -> str:
    if url.lower().startswith(("https://", "http://")):
        return f'<a href="{html.escape(url, quote=True)}">{html.escape(label)}</a>'
    return f"{html.escape(label)}: {html.escape(url)}"


PAGERDUTY_SEVERITY = {"Critical": "critical", "High": "error", "Medium": "warning", "Low": "info"}
_RESOLVING_STATES = ("Resolved", "Closed", "Canceled")


def pagerduty_event(message: Message, routing_key: str) -> dict[str, Any]:
    """Trigger while the ticket is open, resolve once it is Resolved, Closed or Canceled; one dedup_key."""
    event: dict[str, Any] = {"routing_key": routing_key}
    key = message.dedup_key
    if len(key) > 255:  # PagerDuty's limit; the hash stays the same for the ticket
        key = hashlib.sha256(key.encode()).hexdigest()
    if key:
        event["dedup_key"] = key
    if key and message.state in _RESOLVING_STATES:
        return {**event, "event_action": "resolve"}
    details = {name: value for name, value in message.facts}
    if message.problems:
        details["Needs attention"] = "; ".join(message.problems)
    if message.context:
        details["Context"] = message.context
    return {
        **event,
        "event_action": "trigger",
        "payload": {
            "summary": _clip(message.title, 1024),
            "source": "dq-ticketing-gateway",
            "severity": PAGERDUTY_SEVERITY.get(message.priority, "warning"),
            "custom_details": details,
        },
        "links": [{"href": href, "text": label} for label, url in message.links if (href := safe_url(url))],
        "client": "DQ ticketing gateway",
    }
