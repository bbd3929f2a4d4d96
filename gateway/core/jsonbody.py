"""JSON request bodies decoded with a nesting limit, so no input reaches a RecursionError."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from gateway.core.errors import InvalidPayload, MalformedJson

T = TypeVar("T")
MAX_DEPTH = 64  # no tool nests deeper than a dozen levels; deeper is an attack on the stack


def _too_deep(data: Any, limit: int) -> bool:
    """Iterative, so the check itself cannot overflow the stack."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def nesting_error() -> MalformedJson:
    return MalformedJson(f"the JSON is nested more than {MAX_DEPTH} levels deep", code="too_deeply_nested")


def decode_json(body: bytes) -> Any:
    """Any JSON document, or a 400 naming what is wrong with it."""
    if not body.strip():
        raise MalformedJson("the body is empty; a JSON document was expected")
    try:
        data = msgspec.json.decode(body)
    except RecursionError:
        raise nesting_error() from None
    except msgspec.DecodeError as exc:
        raise MalformedJson(f"the body is not valid JSON: {exc}") from None
    # Only a body with more brackets than the limit can be too deep: counting them is cheap.
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and _too_deep(data, MAX_DEPTH):
        raise nesting_error()
    return data


def decode_as(body: bytes, shape: type[T]) -> T:
    """A JSON body straight into a Struct: 400 when it is not JSON, 422 naming the field that is wrong."""
    if not body.strip():
        raise MalformedJson("the body is empty; a JSON object was expected")
    try:
        return msgspec.json.decode(body, type=shape)
    except RecursionError:
        raise nesting_error() from None
    except msgspec.ValidationError as exc:
        raise InvalidPayload(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise MalformedJson(f"the body is not valid JSON: {exc}") from None
