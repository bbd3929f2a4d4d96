"""Plain text as an Atlassian Document Format document (Jira Cloud's api/3 rich text).

Payload text is data: only blank-line paragraphs, line breaks, http(s) links, ``` fenced code and
`- ` / `* ` / `1. ` lists become structure; nothing else (wiki or markdown) is interpreted, so
`{code}` or `**bold**` stay literal characters in a text node.
"""

from __future__ import annotations

import re
from typing import Any

Node = dict[str, Any]

_URL = re.compile(r"https?://[^\s<>\"]+")
_TRAILING = ".,;:!?)]}'"  # sentence punctuation after a link is not part of it
_BULLET = re.compile(r"\s*[-*] (?P<text>.*)")
_ORDERED = re.compile(r"\s*(?P<n>\d{1,9})\. (?P<text>.*)")
_FENCE = "```"


def document(text: str) -> Node:
    """The ADF `doc` (version 1) for `text`."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[Node] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append({"type": "paragraph", "content": _lines(paragraph)})
            paragraph.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(_FENCE):
            flush()
            i = _code_block(lines, i, blocks)
        elif _item(line) is not None:
            flush()
            i = _list(lines, i, blocks)
        else:
            if line.strip():
                paragraph.append(line)
            else:
                flush()
            i += 1
    flush()
    return {"type": "doc", "version": 1, "content": blocks}


def text(node: Node) -> str:
    """A document's text: its text nodes in order, a line end for each hard break and after each block."""
    parts: list[str] = []
    todo: list[Any] = [node]  # a stack, not recursion: a document nested thousands deep is still text
    while todo:
        item = todo.pop()
        if isinstance(item, str):  # a block's end, pushed below its content
            parts.append(item)
        elif isinstance(item, dict):
            kind = item.get("type")
            if kind == "text":
                parts.append(str(item.get("text", "")))
            elif kind == "hardBreak":
                parts.append("\n")
            content = item.get("content")
            if isinstance(content, list):
                todo.append("\n" if kind not in ("doc", "text") else "")
                todo.extend(reversed(content))
    return "".join(parts).strip()


def _code_block(lines: list[str], start: int, blocks: list[Node]) -> int:
    """A fence up to the closing one (or the end): its text verbatim, no links, no marks."""
    language = lines[start].strip()[len(_FENCE) :].strip()
    end = start + 1
    while end < len(lines) and not lines[end].lstrip().startswith(_FENCE):
        end += 1
    code = "\n".join(lines[start + 1 : end])
    node: Node = {"type": "codeBlock", "content": [{"type": "text", "text": code}] if code else []}
    if language and " " not in language:
        node["attrs"] = {"language": language}
    blocks.append(node)
    return end + 1


def _item(line: str) -> tuple[str, int, str] | None:
    """(list type, number, text) when the line starts a list item."""
    bullet = _BULLET.fullmatch(line)
    if bullet and bullet.group("text").strip():
        return "bulletList", 1, bullet.group("text")
    ordered = _ORDERED.fullmatch(line)
    if ordered and ordered.group("text").strip():
        return "orderedList", int(ordered.group("n")), ordered.group("text")
    return None


def _list(lines: list[str], start: int, blocks: list[Node]) -> int:
    """Consecutive items of one kind; an indented line continues the item above (a line break)."""
    first = _item(lines[start])
    assert first is not None
    kind, number = first[0], first[1]
    items: list[list[str]] = []
    i = start
    while i < len(lines):
        found = _item(lines[i])
        if found is not None and found[0] == kind:
            items.append([found[2]])
        elif found is None and items and lines[i][:1].isspace() and lines[i].strip():
            items[-1].append(lines[i].strip())
        else:
            break
        i += 1
    node: Node = {
        "type": kind,
        "content": [{"type": "listItem", "content": [{"type": "paragraph", "content": _lines(t)}]} for t in items],
    }
    if kind == "orderedList" and number != 1:
        node["attrs"] = {"order": number}
    blocks.append(node)
    return i


def _lines(lines: list[str]) -> list[Node]:
    """Inline content: each line's text and links, hard breaks between lines."""
    content: list[Node] = []
    for index, line in enumerate(lines):
        if index:
            content.append({"type": "hardBreak"})
        content += _inline(line)
    return content


def _inline(line: str) -> list[Node]:
    nodes: list[Node] = []
    at = 0
    for found in _URL.finditer(line):
        url = found.group(0).rstrip(_TRAILING)
        if url.count("(") > url.count(")") and found.group(0)[len(url) :].startswith(")"):
            url += ")"  # a balanced parenthesis belongs to the link (Wikipedia-style URLs)
        if len(url) <= len(url.split("://", 1)[0]) + 3:
            continue
        nodes += _text(line[at : found.start()])
        nodes.append({"type": "text", "text": url, "marks": [{"type": "link", "attrs": {"href": url}}]})
        at = found.start() + len(url)
    return nodes + _text(line[at:])


def _text(text: str) -> list[Node]:
    return [{"type": "text", "text": text}] if text else []

