"""The two kinds of connector failure, decided once at the connector's edge.

Retry code looks only at these classes, never at HTTP: a connector translates whatever
its client raised (HTTP status, timeout, bad JSON) into one of them.
"""

from __future__ import annotations

from typing import Literal

ErrorKind = Literal["transient", "permanent"]


class ConnectorError(Exception):
    """A failed call to a tracker or channel. The message must never carry secrets."""

    kind: ErrorKind = "permanent"

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status


class RetryableError(ConnectorError):
    """Worth trying again: connection errors, timeouts, 429, 5xx, non-JSON answers."""

    kind: ErrorKind = "transient"

    def __init__(self, message: str, *, http_status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, http_status=http_status)
        self.retry_after = retry_after


class PermanentError(ConnectorError):
    """Trying again cannot help: rejected fields, auth, missing records, no workflow route."""

    kind: ErrorKind = "permanent"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form); None when absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(seconds, 0.0)
