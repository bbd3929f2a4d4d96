"""The one retry policy, with sleep, clock and randomness injected: nothing here really waits."""

from __future__ import annotations

import random

import pytest

from gateway.core.outbound import PermanentError, RetryableError
from gateway.core.retry_config import RetryConfig
from gateway.execute.retry import Budget, GiveUp, Reschedule, backoff, call_with_retry

POLICY = RetryConfig(attempts=5, initial=1.0, max=8.0, deadline=60.0)


class Clock:
    """Time that moves only when the injected sleep says so."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def failing(times: int, error: Exception) -> tuple[list[int], object]:
    calls: list[int] = []

    def call() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "done"

    return calls, call


def budget(in_process: float = 1000.0, attempts_before: int = 0, first: float = 1000.0) -> Budget:
    return Budget(policy=POLICY, attempts_before=attempts_before, first_attempt_at=first, in_process_seconds=in_process)


@pytest.mark.parametrize("attempt, ceiling", [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)])
def test_full_jitter_stays_between_zero_and_the_doubling_ceiling(attempt: int, ceiling: float) -> None:
    rng = random.Random(7)
    waits = [backoff(POLICY, attempt, None, rng) for _ in range(500)]
    assert min(waits) >= 0.0 and max(waits) <= ceiling
    assert max(waits) > ceiling * 0.9  # the whole range is used, not a constant


def test_retry_after_is_a_floor_and_max_is_a_cap() -> None:
    rng = random.Random(1)
    assert all(backoff(POLICY, 1, 5.0, rng) >= 5.0 for _ in range(100))
    assert backoff(POLICY, 1, 600.0, rng) == POLICY.max


def test_transient_failures_are_retried_with_the_waits_slept_and_then_succeed() -> None:
    clock = Clock()
    calls, call = failing(2, RetryableError("503"))
    assert call_with_retry(call, budget(), sleep=clock.sleep, clock=clock, rng=random.Random(3)) == "done"  # type: ignore[arg-type]
    assert len(calls) == 3 and len(clock.slept) == 2


def test_a_permanent_error_is_never_retried() -> None:
    clock = Clock()
    calls, call = failing(5, PermanentError("400 bad field"))
    with pytest.raises(PermanentError):
        call_with_retry(call, budget(), sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    assert len(calls) == 1 and clock.slept == []


def test_attempts_run_out_counting_the_attempts_of_earlier_runs() -> None:
    clock = Clock()
    calls, call = failing(99, RetryableError("timeout"))
    with pytest.raises(GiveUp, match="after 5 attempts"):
        call_with_retry(call, budget(attempts_before=3), sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    assert len(calls) == 2


def test_a_wait_past_the_deadline_gives_up() -> None:
    clock = Clock()
    _, call = failing(99, RetryableError("429", retry_after=30.0))
    with pytest.raises(GiveUp, match="deadline"):
        call_with_retry(call, budget(first=clock.now - 50.0), sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]


def test_a_wait_longer_than_the_in_process_budget_reschedules_instead_of_sleeping() -> None:
    clock = Clock()
    _, call = failing(99, RetryableError("429", retry_after=7.0))
    with pytest.raises(Reschedule) as raised:
        call_with_retry(call, budget(in_process=2.0), sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    assert raised.value.delay >= 7.0 and clock.slept == []
