"""Python 3.11 checks `isinstance(x, SomeProtocol)` slowly: every check collects the protocol's members
again by walking its classes. `requests` does such checks several times a call and RQ for every job,
queue and registry it builds: about 70 µs of a 1 ms tracker call on this project's worker. 3.12 collects
them once per protocol; `remember_protocol_members` does the same here, with the same answers."""

from __future__ import annotations

import functools
import sys
import typing
from collections.abc import Callable


def remember_protocol_members() -> None:
    """Collect each protocol's members, and whether they are all methods, once (a protocol class is not
    changed after it is made)."""
    if sys.version_info >= (3, 12) or getattr(typing, "_protocol_members_remembered", False):
        return
    collect: Callable[[type], set[str]] = typing._get_protocol_attrs  # type: ignore[attr-defined]
    remembered = functools.lru_cache(maxsize=None)(lambda cls: frozenset(collect(cls)))
    typing._get_protocol_attrs = remembered  # type: ignore[attr-defined]
    # whether every member is a method (issubclass() allowed): 3.12 keeps this per protocol too
    methods_only = functools.lru_cache(maxsize=None)(
        lambda cls: all(callable(getattr(cls, attr, None)) for attr in remembered(cls))
    )
    typing._is_callable_members_only = methods_only  # type: ignore[attr-defined]
    typing._protocol_members_remembered = True  # type: ignore[attr-defined]
