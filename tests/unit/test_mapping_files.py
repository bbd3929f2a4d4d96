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
