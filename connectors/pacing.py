"""Per-process spacing of writes to one remote record (Jira Cloud limits writes per issue).

Each write reserves the next free slot for its key under a lock, so threads of one worker
queue behind each other instead of bursting; other processes are left to the tracker's 429.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

_KEEP_S = 300.0  # slots further back than this are forgotten (the table stays small)


class Spacer:
    def __init__(
        self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self._next: dict[Hashable, float] = {}

    def wait(self, key: Hashable, interval: float) -> float:
        """Sleep until `interval` seconds after the previous write to `key`; the seconds slept."""
        if interval <= 0:
            return 0.0
        with self._lock:
            now = self.clock()
            slot = max(now, self._next.get(key, now))
            self._next[key] = slot + interval
            if len(self._next) > 1000:
                self._next = {k: v for k, v in self._next.items() if v > now - _KEEP_S}
        if slot > now:
            self.sleep(slot - now)
        return slot - now

    def clear(self) -> None:
        with self._lock:
            self._next.clear()


WRITES = Spacer()


def configure(sleep: Callable[[float], None]) -> None:
    """The worker's sleep (tests inject one that does not wait)."""
    WRITES.sleep = sleep
