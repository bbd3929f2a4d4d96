"""Chat requests seen recently, so a captured signed request replayed within its window runs nothing.

Signatures (Slack's trigger_id where a command has one: a retry is signed anew) are kept in Redis
(`SET NX EX`), shared by every web process and kept across restarts; without Redis (or while it is
away) in this process's memory, so replays are still refused.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time

import redis

log = logging.getLogger("gateway.web.replay")
SLACK_WINDOW_S = 300  # Slack refuses older timestamps itself; a signature cannot be replayed past that
SLACK_TRIGGER_WINDOW_S = 3600  # Slack retries a request it got no answer to, signed anew, for minutes after
TEAMS_WINDOW_S = 24 * 3600  # Teams signs no timestamp: remember its signatures for a day
REPLAY_TEXT = "This request was already received; it was not run again."


class SeenRequests:
    def __init__(self, connection: redis.Redis | None) -> None:
        self.connection = connection
        self.local: dict[str, float] = {}
        self.lock = threading.Lock()

    def first_time(self, kind: str, signature: str, window: int) -> bool:
        """True the first time a (verified) signature is seen within `window` seconds."""
        key = f"gateway:seen:{kind}:{hashlib.sha256(signature.encode()).hexdigest()}"
        if self.connection is not None:
            try:
                return bool(self.connection.set(key, b"1", nx=True, ex=window))
            except redis.RedisError as exc:
                log.warning("redis is away (%s); chat replays are checked in this process only", type(exc).__name__)
        return self._first_time_locally(key, window)

    def _first_time_locally(self, key: str, window: int) -> bool:
        now = time.monotonic()
        with self.lock:
            if len(self.local) > 10_000:
                self.local = {k: until for k, until in self.local.items() if until > now}
            if self.local.get(key, 0.0) > now:
                return False
            self.local[key] = now + window
            return True
