"""The one redactor, fed by types: every config field typed `Secret` is kept out of messages, logs and records.

A new credential field is redacted by being declared `Secret` (sources, targets, channels,
settings alike); there is no list of key names to remember.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Annotated, Any

import msgspec
import msgspec.inspect as mi

from gateway.core.outbound import ConnectorError

MASK = "***"
SECRET = "secret"
Secret = Annotated[str, msgspec.Meta(extra={SECRET: True})]


def secret_values(*configs: Any) -> set[str]:
    """Every value held in a field typed `Secret`, found by walking the configs' Struct types."""
    found: set[str] = set()
    for config in configs:
        if isinstance(config, msgspec.Struct):
            _walk(config, _type_info(type(config)), found)
    return found


@functools.lru_cache(maxsize=256)
def _type_info(cls: type[msgspec.Struct]) -> mi.Type:
    return mi.type_info(cls)


def _walk(value: Any, info: mi.Type, found: set[str]) -> None:
    if value is None:
        return
    if isinstance(info, mi.Metadata):
        if (info.extra or {}).get(SECRET) and isinstance(value, str):
            found.add(value)
        else:
            _walk(value, info.type, found)
    elif isinstance(info, mi.UnionType):
        for member in info.types:
            _walk(value, member, found)
    elif isinstance(info, mi.StructType) and isinstance(value, info.cls):
        for field in info.fields:
            _walk(getattr(value, field.name), field.type, found)
    elif isinstance(info, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType) and not isinstance(value, str):
        for item in value:
            _walk(item, info.item_type, found)
    elif isinstance(info, mi.TupleType) and isinstance(value, tuple):
        for item, item_type in zip(value, info.item_types, strict=False):
            _walk(item, item_type, found)
    elif isinstance(info, mi.DictType) and isinstance(value, dict):
        for item in value.values():
            _walk(item, info.value_type, found)


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        # longest first, so a secret that contains another is masked whole
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def error(self, error: ConnectorError) -> ConnectorError:
        """The same error with its message redacted (an answer may echo a credential)."""
        message = self(error.message)
        if message != error.message:
            error.message = message
            error.args = (message,)
        return error
