"""A mappings file the loader cannot take as it is (its bytes, its YAML) is a load error naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.rules.loader import MappingErrors, load_mappings

GOOD = "targets:\n  mirror: {kind: local}\n"


def problems(directory: Path, files: dict[str, str | bytes]) -> list[str]:
    """Every problem of loading `files` (with one good file beside them), as `file: where: problem`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "good.yaml").write_text(GOOD)
    for name, content in files.items():
        path = directory / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(MappingErrors) as caught:
        load_mappings(directory, {})
    return [str(error).removeprefix(f"{directory}/") for error in caught.value.errors]


def test_a_file_that_is_not_utf8_names_the_file_and_line(tmp_path: Path) -> None:
    latin1 = "flows: []\n# caf\u00e9 au lait\n".encode("latin-1")
    assert problems(tmp_path, {"a.yaml": latin1}) == [
        "a.yaml: document: not UTF-8 text: byte 0xe9 on line 2; save it as UTF-8"
    ]


def test_a_key_given_twice_is_named_where_yaml_would_have_dropped_the_first(tmp_path: Path) -> None:
    flows = """
flows:
  - name: first
    trigger: {type: anomaly}
    actions: [{create_ticket: {targets: [mirror], targets: [elsewhere]}}]
sources:
  q: {kind: qualytics, secret: one-secret-for-q, secret: another-secret-for-q}
  q: {kind: soda, token: a-token-for-soda}
flows:
  - name: second
    trigger: {type: anomaly}
    actions: [{create_ticket: {targets: [mirror]}}]
"""
    assert problems(tmp_path, {"a.yaml": flows}) == [
        "a.yaml: flow 'first': field actions[0].create_ticket.targets: given twice (lines 5 and 5); YAML would keep"
        " only the last, silently",
        "a.yaml: source 'q': field secret: given twice (lines 7 and 7); YAML would keep only the last, silently",
        "a.yaml: source 'q': given twice (lines 7 and 8); YAML would keep only the last, silently",
        "a.yaml: flows: given twice (lines 2 and 9); YAML would keep only the last, silently",
    ]
