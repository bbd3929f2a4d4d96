"""Jira people: Cloud assigns by accountId only, so an e-mail or name becomes one through user search.

Answers are cached per process and Jira URL for USERS_TTL_S (a worker assigns the same few people often).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

from gateway.core.outbound import PermanentError

USERS_TTL_S = 600.0
# Cloud accountIds: `557058:<uuid>` (migrated users) or 24 hex digits.
_ACCOUNT_ID = re.compile(r"\d+:[\w-]+|[0-9a-f]{24}")
_lock = threading.Lock()
_cache: dict[tuple[str, str], tuple[float, str]] = {}


def clear_users() -> None:
    with _lock:
        _cache.clear()


def is_account_id(value: str) -> bool:
    return _ACCOUNT_ID.fullmatch(value) is not None


def account_id(server: str, who: str, search: Callable[[str], list[dict[str, Any]]]) -> str:
    """`who` as an accountId: itself when it is one, else the one active user an exact e-mail, display
    name or sole search result names. PermanentError names the user and the Jira when none or several match."""
    if is_account_id(who):
        return who
    key = (server, who.casefold())
    with _lock:
        cached = _cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < USERS_TTL_S:
        return cached[1]
    found = [u for u in search(who) if u.get("accountId") and u.get("active", True)]
    exact = [u for u in found if who.casefold() in _names(u)]
    chosen = exact if exact else found
    if len(chosen) != 1:
        problem = "no active user matches" if not chosen else f"{len(chosen)} users match ({_listed(chosen)})"
        raise PermanentError(f"Jira user {who!r} not found at {server}: {problem}; give the user's accountId")
    account = str(chosen[0]["accountId"])
    with _lock:
        _cache[key] = (time.monotonic(), account)
    return account


def _names(user: dict[str, Any]) -> set[str]:
    return {str(user.get(k, "")).casefold() for k in ("emailAddress", "displayName", "name")} - {""}


def _listed(users: list[dict[str, Any]]) -> str:
    return ", ".join(str(u.get("displayName") or u["accountId"]) for u in users[:5])
