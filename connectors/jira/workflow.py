"""Walking a Jira workflow: which transition to take next, and the transitions seen so far.

Caches are per process and per Jira URL + project + issue type.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from connectors.jira.config import CANONICAL_RANK, MAX_HOPS, OFF_ROUTE, JiraTarget
from connectors.jira.users import clear_users
from gateway.core.outbound import PermanentError

_lock = threading.Lock()
META_TTL_S = 600.0  # a worker lives long: an admin's screen change is seen within ten minutes
_meta_cache: dict[tuple[str, str, str], tuple[float, dict[str, dict[str, Any]]]] = {}
_transition_cache: dict[tuple[str, str, str], dict[str, dict[str, str]]] = {}


def clear_caches() -> None:
    """Forget create metadata and seen transitions (tests; a Jira admin changed the project)."""
    with _lock:
        _meta_cache.clear()
        _transition_cache.clear()
    clear_users()


MetaKey = tuple[str, str, str]


def cached_meta(key: MetaKey) -> dict[str, dict[str, Any]] | None:
    with _lock:
        cached = _meta_cache.get(key)
    return cached[1] if cached is not None and time.monotonic() - cached[0] < META_TTL_S else None


def keep_meta(key: MetaKey, meta: dict[str, dict[str, Any]] | None) -> None:
    """Remember createmeta for META_TTL_S; None forgets it (a rejected create may mean the screen changed)."""
    with _lock:
        if meta is None:
            _meta_cache.pop(key, None)
        else:
            _meta_cache[key] = (time.monotonic(), meta)


class Planner:
    """Chooses each hop: along a pinned path, straight to the target, or the best allowed detour."""

    def __init__(
        self, config: JiraTarget, canonical: str, target: str, start: str, graph_key: tuple[str, str, str]
    ) -> None:
        self.target = target.casefold()
        self.target_name = target
        self.canonical = canonical
        self.pinned = [s.casefold() for s in config.paths.get(canonical, [])]
        self.visited = {start.casefold()}
        self.reachable: dict[str, str] = {}
        self.graph_key = graph_key
        self.canon_of: dict[str, set[str]] = {}
        for state, status in config.statuses.items():
            self.canon_of.setdefault(status.casefold(), set()).add(state)
        start_ranks = [CANONICAL_RANK[c] for c in self.canon_of.get(start.casefold(), set())]
        target_rank = CANONICAL_RANK.get(canonical, 0)
        self.band = (min([*start_ranks, target_rank]) if start_ranks else 0, target_rank)

    def learn(self, current: str, options: list[dict[str, Any]]) -> None:
        """Remember the transitions out of `current` for this project and issue type."""
        edges = {str(o["to"]["name"]).casefold(): str(o["to"]["name"]) for o in options}
        for name in edges.values():
            self.reachable.setdefault(name.casefold(), name)
        with _lock:
            _transition_cache.setdefault(self.graph_key, {})[current.casefold()] = edges

    def reachable_text(self) -> str:
        names = [n for k, n in self.reachable.items() if k not in self.visited] or list(self.reachable.values())
        return ", ".join(names) or "none"

    def choose(self, current: str, options: list[dict[str, Any]]) -> dict[str, Any]:
        if self.pinned:
            return self._pinned(current, options)
        direct = [o for o in options if _leads_to(o, self.target)]
        if direct:
            return direct[0]
        allowed = [o for o in options if self._allowed(str(o["to"]["name"]).casefold())]
        if not allowed:
            raise PermanentError(
                f"no workflow route from {current!r} to {self.target_name!r} "
                f"({self.canonical}); reachable statuses: {self.reachable_text()}"
            )
        distance = self._distances()
        return min(allowed, key=lambda o: distance.get(str(o["to"]["name"]).casefold(), MAX_HOPS + 1))

    def _pinned(self, current: str, options: list[dict[str, Any]]) -> dict[str, Any]:
        route = self.pinned
        position = route.index(current.casefold()) + 1 if current.casefold() in route else 0
        wanted = route[position] if position < len(route) else self.target
        found = [o for o in options if _leads_to(o, wanted)]
        if not found:
            raise PermanentError(
                f"paths.{self.canonical}: {wanted!r} cannot be reached from {current!r}; "
                f"reachable statuses: {self.reachable_text()}"
            )
        return found[0]

    def _allowed(self, status: str) -> bool:
        """Not visited, and not tied to a canonical state off the way (side states, overshoot, back)."""
        if status in self.visited:
            return False
        states = self.canon_of.get(status)
        if not states:
            return True
        low, high = self.band
        return any(s not in OFF_ROUTE and low <= CANONICAL_RANK[s] <= high for s in states)

    def _distances(self) -> dict[str, int]:
        """Hops from each known status to the target over transitions seen before (reverse BFS)."""
        with _lock:
            graph = {k: dict(v) for k, v in _transition_cache.get(self.graph_key, {}).items()}
        distance = {self.target: 0}
        queue = deque([self.target])
        while queue:
            node = queue.popleft()
            for source, edges in graph.items():
                if node in edges and source not in distance and self._allowed(source):
                    distance[source] = distance[node] + 1
                    queue.append(source)
        return distance


def _leads_to(option: dict[str, Any], status: str) -> bool:
    to = option.get("to") or {}
    return status in (str(to.get("name", "")).casefold(), str(to.get("id", "")).casefold())
