"""What Jira Cloud's api/3 accepts as an Atlassian Document Format document (the emulator's check).

The structure rules of Atlassian's ADF schema for the nodes the gateway sends, and a few neighbours:
a `doc` of version 1 holding block nodes; inline nodes only inside paragraphs and headings; list
items holding blocks; text nodes with non-empty text and well-formed marks; code blocks plain text.
"""

from __future__ import annotations

from typing import Any

NOT_A_DOCUMENT = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
BLOCKS = {"paragraph", "codeBlock", "bulletList", "orderedList", "heading", "blockquote", "rule"}
INLINE = {"text", "hardBreak", "mention", "emoji", "inlineCard"}
MARKS = {"link", "code", "em", "strong", "strike", "underline", "subsup", "textColor"}
CHILDREN: dict[str, set[str]] = {
    "doc": BLOCKS,
    "paragraph": INLINE,
    "heading": INLINE,
    "codeBlock": {"text"},
    "bulletList": {"listItem"},
    "orderedList": {"listItem"},
    "listItem": {"paragraph", "codeBlock", "bulletList", "orderedList"},
    "blockquote": {"paragraph", "codeBlock", "bulletList", "orderedList"},
}
MUST_HAVE_CHILDREN = {"bulletList", "orderedList", "listItem", "blockquote"}


def problem(value: Any) -> str:
    """Why `value` is not an ADF document ('' when it is one)."""
    if not isinstance(value, dict) or value.get("type") != "doc":
        return "not a document: the root must be an object with type 'doc'"
    if value.get("version") != 1:
        return "doc: version must be 1"
    return _node(value, "doc")


def _node(node: Any, where: str) -> str:
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        return f"{where}: a node must be an object with a type"
    kind = node["type"]
    if kind == "text":
        return _text(node, where)
    content = node.get("content", [])
    if not isinstance(content, list):
        return f"{where}: content must be a list"
    if kind in MUST_HAVE_CHILDREN and not content:
        return f"{where}: {kind} must not be empty"
    allowed = CHILDREN.get(kind, set())
    if content and not allowed:
        return f"{where}: {kind} takes no content"
    for index, child in enumerate(content):
        name = child.get("type") if isinstance(child, dict) else None
        if name not in allowed:
            return f"{where}.content[{index}]: {name!r} is not allowed in {kind}"
        if kind == "codeBlock" and child.get("marks"):
            return f"{where}.content[{index}]: text in a codeBlock takes no marks"
        found = _node(child, f"{where}.content[{index}]")
        if found:
            return found
    return ""


def _text(node: dict[str, Any], where: str) -> str:
    if not isinstance(node.get("text"), str) or not node["text"]:
        return f"{where}: a text node needs non-empty text"
    marks = node.get("marks", [])
    if not isinstance(marks, list):
        return f"{where}: marks must be a list"
    for mark in marks:
        if not isinstance(mark, dict) or mark.get("type") not in MARKS:
            return f"{where}: unknown mark {mark!r}"
        href = (mark.get("attrs") or {}).get("href")
        if mark["type"] == "link" and (not isinstance(href, str) or not href):
            return f"{where}: a link mark needs attrs.href"
    return ""


def plain(document: Any) -> str:
    """A document as api/2 shows it: its text, a line per hard break, blocks apart by a blank line."""
    if not isinstance(document, dict):
        return ""
    blocks = [_inline_text(block) for block in document.get("content") or [] if isinstance(block, dict)]
    return "\n\n".join(block for block in blocks if block)


def _inline_text(node: dict[str, Any]) -> str:
    if node.get("type") == "text":
        return str(node.get("text", ""))
    if node.get("type") == "hardBreak":
        return "\n"
    children = [child for child in node.get("content") or [] if isinstance(child, dict)]
    joiner = "\n" if node.get("type") in ("bulletList", "orderedList", "listItem", "blockquote") else ""
    return joiner.join(_inline_text(child) for child in children)
