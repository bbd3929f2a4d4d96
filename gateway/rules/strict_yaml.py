"""Strict YAML for the mappings: what PyYAML accepts silently but a reviewer would not see is a problem.

A key given twice in one mapping is one: PyYAML keeps the last and drops the first without a word,
so a second `flows:` in a file would hide every flow above it. Anchors and aliases are welcome (one
`&defaults` shared by many flows), but a document they would expand past MAX_VALUES is refused: a few
lines of aliases can stand for billions of values (the loader copies each while it reads `${VAR}`),
and an alias inside its own anchor for an endless one. Nesting is bounded for the same reason:
PyYAML composes recursively and a file of `[[[[...` ends in a RecursionError.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Path = tuple[str | int, ...]
_MERGE = "tag:yaml.org,2002:merge"


MAX_DEPTH = 40  # the example mappings nest 7 deep
MAX_VALUES = 100_000  # values of a document with its aliases written out; the examples hold a few hundred


class Refused(yaml.YAMLError):
    """YAML that is valid but not taken at all (aliases expanding too far or into themselves, deep nesting)."""


class _Strict(yaml.SafeLoader):
    depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        line = self.peek_event().start_mark.line + 1  # type: ignore[no-untyped-call]
        if self.depth >= MAX_DEPTH:
            raise Refused(f"line {line}: nested more than {MAX_DEPTH} levels deep")
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class YamlProblem(NamedTuple):
    """Where in the document (keys and list indexes from the top) and what is wrong there."""

    path: Path
    problem: str
    item: str | None = None  # the `name:` of the outermost list item on the path (a flow's), as written there


def read(text: str) -> tuple[Any, list[YamlProblem]]:
    """The document of `text` and its problems; raises Refused, or yaml.YAMLError when it is not YAML at all."""
    loader = _Strict(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, []
        _expanded(node, {}, set())
        problems = list(_duplicates(loader, node, ()))
        return loader.construct_document(node), problems
    finally:
        loader.dispose()


def _expanded(node: Node, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """How many values `node` stands for once its aliases are written out (an alias is the same node again,
    so each node is counted once and its size reused); Refused past MAX_VALUES or for an alias in itself."""
    if id(node) in sizes:
        return sizes[id(node)]
    if id(node) in open_nodes:
        raise Refused(f"line {node.start_mark.line + 1}: an alias refers to the value it is inside of")
    open_nodes.add(id(node))
    children: list[Node] = []
    if isinstance(node, SequenceNode):
        children = list(node.value)
    elif isinstance(node, MappingNode):
        children = [part for pair in node.value for part in pair]
    size = 1 + sum(_expanded(child, sizes, open_nodes) for child in children)
    open_nodes.discard(id(node))
    if size > MAX_VALUES:
        raise Refused(
            f"line {node.start_mark.line + 1}: its aliases expand to more than {MAX_VALUES} values; write less through"
            " aliases"
        )
    sizes[id(node)] = size
    return size


def _name(node: Node) -> str | None:
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == "name" and isinstance(value, ScalarNode):
                return str(value.value)
    return None


def _duplicates(loader: yaml.SafeLoader, node: Node, path: Path, item: str | None = None) -> Iterator[YamlProblem]:
    """Keys given twice, found in the nodes: the document built from them has already lost the first."""
    if isinstance(node, SequenceNode):
        for index, value in enumerate(node.value):
            yield from _duplicates(loader, value, (*path, index), item or _name(value))
    if not isinstance(node, MappingNode):
        return
    seen: dict[Any, int] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE:
            yield from _duplicates(loader, value_node, path, item)
            continue
        key, line = loader.construct_object(key_node), key_node.start_mark.line + 1
        if key in seen:
            problem = f"given twice (lines {seen[key]} and {line}); YAML would keep only the last, silently"
            yield YamlProblem((*path, key), problem, item)
        seen.setdefault(key, line)
        yield from _duplicates(loader, value_node, (*path, key), item)
