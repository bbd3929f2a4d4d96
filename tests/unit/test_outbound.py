"""The one outbound classifier: an HTTP status + headers -> retryable (with its wait) or permanent."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from gateway.core.outbound import (
    MAX_RETRY_AFTER,
    BugError,
    PermanentError,
    RetryableError,
    from_status,
    retry_after,
    unexpected,
)

NOW = 1_800_000_000.0


def clock() -> float:
    return NOW


def http_date(seconds_from_now: float) -> str:
    return format_datetime(datetime.fromtimestamp(NOW + seconds_from_now, tz=UTC), usegmt=True)


CASES = [
    # status, headers, retryable, retry_after
    (400, {}, False, None),
    (401, {"Retry-After": "5"}, False, None),
    (403, {}, False, None),
    (404, {}, False, None),
    (408, {}, True, None),
    (409, {}, False, None),
    (410, {}, False, None),
    (422, {}, False, None),
    (429, {}, True, None),
    (429, {"Retry-After": "7"}, True, 7.0),
    (429, {"retry-after": "7.5"}, True, 7.5),
    (429, {"Retry-After": http_date(30)}, True, 30.0),
    (429, {"Retry-After": http_date(-30)}, True, 0.0),
    (429, {"X-RateLimit-Reset": str(int(NOW + 42))}, True, 42.0),
    (429, {"x-ratelimit-reset": str(int(NOW - 5))}, True, 0.0),
    (429, {"Retry-After": "3", "X-RateLimit-Reset": str(int(NOW + 42))}, True, 3.0),
    (429, {"Retry-After": "soon", "X-RateLimit-Reset": str(int(NOW + 9))}, True, 9.0),
    (429, {"Retry-After": "nan"}, True, None),
    (429, {"Retry-After": "-4"}, True, 0.0),
    (429, {"Retry-After": "999999"}, True, MAX_RETRY_AFTER),
    (429, {"X-RateLimit-Reset": str(int(NOW + 10 * MAX_RETRY_AFTER))}, True, MAX_RETRY_AFTER),
    (500, {}, True, None),
    (502, {}, True, None),
    (503, {"Retry-After": "120"}, True, 120.0),
    (504, {}, True, None),
    (599, {}, True, None),
]


@pytest.mark.parametrize(("status", "headers", "retryable", "wait"), CASES)
def test_status_and_headers_decide_retry_and_wait(
    status: int, headers: dict[str, str], retryable: bool, wait: float | None
) -> None:
    error = from_status(status, headers, f"call answered HTTP {status}", now=clock)
    assert error.http_status == status
    assert error.message == f"call answered HTTP {status}"
    if retryable:
        assert isinstance(error, RetryableError)
        assert error.kind == "transient"
        assert error.retry_after == (None if wait is None else pytest.approx(wait, abs=1.0))
    else:
        assert isinstance(error, PermanentError)  # never retried; 401 is named `auth`
        assert error.kind == ("auth" if status == 401 else "permanent")


def test_retry_after_is_read_from_any_mapping_case_insensitively() -> None:
    assert retry_after({"RETRY-AFTER": "12"}, now=clock) == 12.0
    assert retry_after({}, now=clock) is None


def test_an_unrecognised_exception_is_a_bug_naming_its_type_not_its_text() -> None:
    error = unexpected("create issue", KeyError("customer-secret-value"))
    assert isinstance(error, BugError) and isinstance(error, PermanentError)
    assert error.kind == "bug"
    assert "KeyError" in error.message
    assert "customer-secret-value" not in error.message
