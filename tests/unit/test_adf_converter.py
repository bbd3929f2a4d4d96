"""Plain text as an Atlassian Document Format document: structure from blank lines, links, fences, lists only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from connectors.emulators import adf as adf_rules
from connectors.jira.adf import document

FRAGMENT = Path(__file__).parent.parent / "data" / "jira" / "adf-fragment.json"
RICH = (
    "3 rows with a null customer_id.\nSee https://qualytics.example/anomalies/42.\n\n"
    "Affected:\n- orders.customer_id\n* orders.region\n\n"
    "Steps:\n1. rerun the check\n2. page the owner\n\n"
    "```sql\nSELECT * FROM orders WHERE customer_id IS NULL -- https://not.a.link\n```\n"
    "{code}not wiki{code} **not bold**"
)


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def link(url: str) -> dict[str, Any]:
    return {"type": "text", "text": url, "marks": [{"type": "link", "attrs": {"href": url}}]}


def paragraph(*content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "paragraph", "content": list(content)}


def item(*content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "listItem", "content": [paragraph(*content)]}


def test_paragraphs_breaks_links_lists_and_code() -> None:
    assert document(RICH) == {
        "type": "doc",
        "version": 1,
        "content": [
            paragraph(
                text("3 rows with a null customer_id."),
                {"type": "hardBreak"},
                text("See "),
                link("https://qualytics.example/anomalies/42"),
                text("."),
            ),
            paragraph(text("Affected:")),
            {"type": "bulletList", "content": [item(text("orders.customer_id")), item(text("orders.region"))]},
            paragraph(text("Steps:")),
            {"type": "orderedList", "content": [item(text("rerun the check")), item(text("page the owner"))]},
            {
                "type": "codeBlock",
                "attrs": {"language": "sql"},
                "content": [text("SELECT * FROM orders WHERE customer_id IS NULL -- https://not.a.link")],
            },
            paragraph(text("{code}not wiki{code} **not bold**")),
        ],
    }


def test_a_link_is_shown_as_what_it_points_to() -> None:
    """No label can disguise a link: the text of a linked node is its href."""
    [para] = document("[click here|http://evil.example/login] (http://a.example/x_(y)), or http://b.example")["content"]
    links = [(n["text"], n["marks"][0]["attrs"]["href"]) for n in para["content"] if "marks" in n]
    assert links == [
        ("http://evil.example/login", "http://evil.example/login"),
        ("http://a.example/x_(y)", "http://a.example/x_(y)"),
        ("http://b.example", "http://b.example"),
    ]
    assert "".join(n["text"] for n in para["content"]) == (
        "[click here|http://evil.example/login] (http://a.example/x_(y)), or http://b.example"
    )


def test_an_unclosed_fence_runs_to_the_end_and_an_indented_line_continues_an_item() -> None:
    doc = document("- first\n  more of it\n2. other kind\n```\nraw *text*")
    assert doc["content"] == [
        {"type": "bulletList", "content": [item(text("first"), {"type": "hardBreak"}, text("more of it"))]},
        {"type": "orderedList", "attrs": {"order": 2}, "content": [item(text("other kind"))]},
        {"type": "codeBlock", "content": [text("raw *text*")]},
    ]


def test_blank_and_odd_text_still_make_valid_documents() -> None:
    for value in ["", "\n\n", "```", "-", "- ", "1.", "a\r\nb\rc", "http://", "```\n\n```"]:
        assert adf_rules.problem(document(value)) == "", value


def _keys(node: Any, kind: str) -> list[set[str]]:
    """The key sets of every `kind` node in a document."""
    found = [set(node)] if isinstance(node, dict) and node.get("type") == kind else []
    children = node.get("content", []) if isinstance(node, dict) else []
    return found + [k for child in children for k in _keys(child, kind)]


def test_the_document_matches_the_vendored_openapi_shape() -> None:
    """Jira's OpenAPI gives ADF no schema (Comment.body is prose only, description is any value), so the
    ADF documents of its request examples are the shape: doc/version 1/content, paragraphs of text nodes.
    Nodes those examples lack (marks, lists, code blocks) are checked by the emulator's ADF rules."""
    vendored = json.loads(FRAGMENT.read_text())
    assert "type" not in vendored["properties"]["Comment.body"]
    assert "Atlassian Document Format" in vendored["properties"]["Comment.body"]["description"]
    examples = list(vendored["examples"].values())
    assert len(examples) == 3
    doc = document(RICH)
    for example in examples:
        assert set(doc) == set(example) == {"type", "version", "content"}
        assert (doc["type"], doc["version"]) == (example["type"], example["version"])
        assert isinstance(doc["content"], list) and isinstance(example["content"], list)
        paragraph_keys, text_keys = _keys(example, "paragraph"), _keys(example, "text")
        assert paragraph_keys and text_keys
        assert all(keys in paragraph_keys for keys in _keys(doc, "paragraph"))
        plain_texts = [keys for keys in _keys(doc, "text") if "marks" not in keys]
        assert plain_texts and all(keys in text_keys for keys in plain_texts)
        assert all(keys - {"marks"} in text_keys for keys in _keys(doc, "text"))
        assert adf_rules.problem(example) == ""
    kinds = {n["type"] for block in doc["content"] for n in [block, *block.get("content", [])]}
    assert {"bulletList", "orderedList", "listItem", "codeBlock", "paragraph"} <= kinds
    assert adf_rules.problem(doc) == ""


def test_the_emulator_rules_refuse_what_jira_refuses() -> None:
    assert adf_rules.problem("plain text") != ""
    assert adf_rules.problem({"type": "doc", "version": 2, "content": []}) != ""
    assert adf_rules.problem({"type": "doc", "version": 1, "content": [text("inline at the top")]}) != ""
    assert adf_rules.problem({"type": "doc", "version": 1, "content": [paragraph(text(""))]}) != ""
    bad_link = {"type": "text", "text": "x", "marks": [{"type": "link", "attrs": {}}]}
    assert adf_rules.problem({"type": "doc", "version": 1, "content": [paragraph(bad_link)]}) != ""
    marked_code = {"type": "codeBlock", "content": [link("http://x.example")]}
    assert adf_rules.problem({"type": "doc", "version": 1, "content": [marked_code]}) != ""
    assert adf_rules.problem({"type": "doc", "version": 1, "content": [{"type": "bulletList", "content": []}]}) != ""
