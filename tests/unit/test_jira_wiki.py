"""Jira wiki escaping of payload text: markup characters get a backslash, identifiers stay readable."""

from __future__ import annotations

import pytest

from connectors.jira.wiki import escape


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("{code}x{code}", r"\{code\}x\{code\}"),
        ("[label|http://x]", r"\[label\|http://x\]"),
        ("!http://x/p.png!", r"\!http://x/p.png\!"),
        ("| a | b |", r"\| a \| b \|"),
        ("*bold* and _italic_", r"\*bold\* and \_italic\_"),
        ("customer_id a*b snake_case_name", "customer_id a*b snake_case_name"),
        ("plain text, 3 rows", "plain text, 3 rows"),
        (r"\[Click\|https://evil.example\]", r"\\\[Click\\\|https://evil.example\\\]"),  # no pairing with ours
        (r"C:\temp", r"C:\\temp"),
    ],
)
def test_escape(text: str, escaped: str) -> None:
    assert escape(text) == escaped
