"""How a message looks in Slack (Block Kit, mrkdwn) and Teams (Adaptive Cards); payload text stays text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.notify.messages import Message

_HEADER_LIMIT = 150  # Slack's header block takes at most 150 characters
_TEXT_LIMIT = 2900  # a section's text takes at most 3000


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
