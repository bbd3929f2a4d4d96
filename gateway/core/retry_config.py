"""Configuration shared by every target and channel kind."""

from __future__ import annotations

import msgspec


class RetryConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`retry: {attempts, initial, max, deadline}` in seconds: exponential backoff, full jitter."""

    attempts: int = 8
    initial: float = 1.0
    max: float = 300.0
    deadline: float = 3600.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("retry.attempts must be at least 1")
        if self.initial <= 0 or self.max <= 0 or self.deadline <= 0:
            raise ValueError("retry.initial, retry.max and retry.deadline must be positive seconds")


CHANNEL_RETRY = RetryConfig(attempts=4, initial=1.0, max=30.0, deadline=300.0)
