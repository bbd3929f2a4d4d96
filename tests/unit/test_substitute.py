"""${VAR} in the mappings reads as a shell reads it."""

from __future__ import annotations

from gateway.rules.loader import substitute


def test_a_default_stands_for_an_unset_or_empty_variable() -> None:
    missing: list[str] = []
    env = {"SET": "value", "EMPTY": ""}
    found = substitute(["${SET:-d}", "${EMPTY:-d}", "${UNSET:-d}", "${EMPTY}", "a ${SET} b"], env, missing)
    assert found == ["value", "d", "d", "", "a value b"]
    assert missing == []


def test_an_unset_variable_without_a_default_is_named() -> None:
    missing: list[str] = []
    assert substitute({"k": ["${NOPE}"]}, {}, missing) == {"k": [""]}
    assert missing == ["NOPE"]
