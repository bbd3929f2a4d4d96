"""The one outbound edge: what a failed call to a tracker, channel or callback means.

Retry code looks only at these classes, never at HTTP. Every caller (Jira, ServiceNow, chat
posting, link-back) turns an HTTP answer into one of them with `from_status`, and anything it
does not recognise with `unexpected`, so they all agree on what is worth trying again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Literal

ErrorKind = Literal["transient", "permanent", "bug", "auth"]
MAX_RETRY_AFTER = 3600.0  # a server asking for more than an hour gets an hour; the deadline decides the rest


class ConnectorError(Exception):
    """A failed call to a tracker or channel. The message must never carry secrets."""

    kind: ErrorKind = "permanent"

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status


class RetryableError(ConnectorError):
    """Worth trying again: connection errors, timeouts, 408, 429, 5xx, non-JSON answers."""

    kind: ErrorKind = "transient"

    def __init__(self, message: str, *, http_status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, http_status=http_status)
        self.retry_after = retry_after


class PermanentError(ConnectorError):
    """Trying again cannot help: rejected fields, auth, missing records, no workflow route."""

    kind: ErrorKind = "permanent"


class BugError(PermanentError):
    """Something the edge does not recognise (a KeyError, a client library's surprise): never retried."""

    kind: ErrorKind = "bug"


class AuthError(PermanentError):
    """The tracker refused the credentials (expired token, changed password): never retried, named as such."""

    kind: ErrorKind = "auth"


def is_retryable_status(status: int) -> bool:
    return status in (408, 429) or status >= 500


def from_status(
    status: int, headers: Mapping[str, str], message: str, *, now: Callable[[], float] = time.time
) -> RetryableError | PermanentError:
    """An HTTP error answer as an error: 408, 429 and 5xx retryable (with their wait), 401 auth, the rest permanent."""
    if is_retryable_status(status):
        return RetryableError(message, http_status=status, retry_after=retry_after(headers, now=now))
    if status == 401:
        return AuthError(message, http_status=status)
    return PermanentError(message, http_status=status)


def unexpected(what: str, exc: BaseException) -> BugError:
    """An exception no edge recognised; its type is named, its text (which may hold data) is not."""
    return BugError(f"{what}: unexpected {type(exc).__name__} (a bug, not retried)")


def retry_after(
    headers: Mapping[str, str], *, now: Callable[[], float] = time.time, cap: float = MAX_RETRY_AFTER
) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or an HTTP date), else `X-RateLimit-Reset` (epoch seconds)."""
    wait = _retry_after_value(_header(headers, "retry-after"), now)
    if wait is None:
        reset = _number(_header(headers, "x-ratelimit-reset"))
        wait = None if reset is None else reset - now()
    return None if wait is None else min(max(wait, 0.0), cap)


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from one Retry-After value; None when absent or unreadable."""
    wait = _retry_after_value(value, now)
    return None if wait is None else min(max(wait, 0.0), MAX_RETRY_AFTER)


def _retry_after_value(value: str | None, now: Callable[[], float]) -> float | None:
    seconds = _number(value)
    if seconds is not None or not value:
        return seconds
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return when.timestamp() - now()


def _number(value: str | None) -> float | None:
    if not value:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive for any mapping (requests and httpx headers already are; a dict is not)."""
    value = headers.get(name)
    if value is not None:
        return str(value)
    for key, found in headers.items():
        if key.lower() == name:
            return str(found)
    return None
