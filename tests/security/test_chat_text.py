"""Chat text is data: payload strings never become mentions, links or markup in Slack or Teams."""

from __future__ import annotations

from typing import Any

from gateway.notify.markup import (
    SLACK,
    TEAMS,
    pagerduty_event,
    plain_text,
    safe_url,
    slack_payload,
    teams_payload,
)
from gateway.notify.messages import Message

HOSTILE = Message(
    title="<!channel> orders failed <@U024BE7LH>",
    facts=[("State", "New"), ("Assigned to", "**boss** [click](https://evil.example)")],
    links=[
        ("Jira DQ-1 <!here>", "https://jira.example/browse/DQ-1|<!channel>"),
        ("disguised", "javascript:alert(1)"),
        ("anomaly", "https://app.example/a>b"),
    ],
    problems=["create_ticket failed: <https://evil.example|Click to re-authenticate>"],
    context="flow f · qualytics anomaly <!subteam^S123>",
)


def _slack_text(payload: dict[str, Any]) -> str:
    """Every string Slack parses as mrkdwn (a header block is plain_text: Slack shows it as typed)."""
    texts = [payload["text"]]
    for block in payload["blocks"]:
        texts += [f["text"] for f in block.get("fields", [])]
        texts += [e["text"] for e in block.get("elements", [])]
        if block["type"] != "header":
            texts += [block["text"]["text"]] if "text" in block else []
    return "\n".join(texts)


def test_no_mention_or_disguised_link_reaches_slack() -> None:
    text = _slack_text(slack_payload(HOSTILE)) + plain_text(HOSTILE, SLACK)
    for control in ("<!channel>", "<!here>", "<@U024BE7LH>", "<!subteam", "<https://evil.example|"):
        assert control not in text
    assert "javascript:" not in text
    assert "<https://jira.example/browse/DQ-1%7C%3C!channel%3E|Jira DQ-1 &lt;!here&gt;>" in text
    assert "<https://app.example/a%3Eb|anomaly>" in text


def test_teams_text_is_markdown_escaped_and_only_http_links_open() -> None:
    card = teams_payload(HOSTILE)["attachments"][0]["content"]
    texts = [b["text"] for b in card["body"] if "text" in b]
    body = "\n".join(texts + [f["value"] for b in card["body"] for f in b.get("facts", [])])
    assert "[click](https://evil.example)" not in body and "\\[click\\]\\(https://evil.example\\)" in body
    assert "\\*\\*boss\\*\\*" in body
    assert [a["url"] for a in card["actions"]] == [
        "https://jira.example/browse/DQ-1%7C%3C!channel%3E",
        "https://app.example/a%3Eb",
    ]
    reply = plain_text(HOSTILE, TEAMS)
    assert "[click](" not in reply and "javascript:" not in reply


def test_only_http_urls_are_links() -> None:
    assert safe_url("https://a.example/x") == "https://a.example/x"
    assert safe_url("HTTP://a.example/x") == "HTTP://a.example/x"
    for bad in ("javascript:alert(1)", "data:text/html,x", "mailto:a@b", "//evil.example", "slack://open"):
        assert safe_url(bad) is None


def test_pagerduty_gets_only_http_links() -> None:
    links = pagerduty_event(HOSTILE, "routing-key")["links"]
    assert [link["text"] for link in links] == ["Jira DQ-1 <!here>", "anomaly"]  # PagerDuty shows text as text
    assert all(link["href"].startswith("https://") for link in links)
