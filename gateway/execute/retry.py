"""The one retry policy: tenacity, exponential backoff with full jitter, Retry-After honoured.

Retries happen in-process only within a short budget, so no worker is held by a long wait;
when the next wait would overrun the budget, the caller records the attempt and reschedules
the execution (`next_attempt_at`) for the sweeper.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type

from gateway.core.outbound import RetryableError
from gateway.core.retry_config import RetryConfig

T = TypeVar("T")


def backoff(policy: RetryConfig, attempt: int, retry_after: float | None, rng: random.Random) -> float:
    """Full jitter: uniform(0, min(max, initial * 2^(attempt-1))); at least Retry-After, never over max."""
    ceiling = min(policy.max, policy.initial * 2 ** max(attempt - 1, 0))
    wait = rng.uniform(0, ceiling)
    if retry_after is not None:
        wait = max(wait, retry_after)
    return min(wait, policy.max)


@dataclass
class Budget:
    """Where this run of an execution stands: attempts so far, its deadline, the in-process budget."""

    policy: RetryConfig
    attempts_before: int
    first_attempt_at: float
    in_process_seconds: float
    scale: float = 1.0

    def attempts_left(self, attempts_this_run: int) -> int:
        return self.policy.attempts - self.attempts_before - attempts_this_run

    def deadline_passed(self, now: float) -> bool:
        return now - self.first_attempt_at >= self.policy.deadline * self.scale


class Reschedule(Exception):
    """Retries remain but the next wait is too long to hold the worker: come back after `delay`."""

    def __init__(self, error: RetryableError, delay: float) -> None:
        super().__init__(error.message)
        self.error = error
        self.delay = delay


class GiveUp(Exception):
    """Attempts or the deadline ran out; `error` is the last transient failure."""

    def __init__(self, error: RetryableError, reason: str) -> None:
        super().__init__(reason)
        self.error = error
        self.reason = reason


def call_with_retry(
    call: Callable[[], T],
    budget: Budget,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    rng: random.Random | None = None,
) -> T:
    """Run `call`, retrying RetryableError only; raise Reschedule or GiveUp when it must stop.

    PermanentError (and anything else) passes straight through: it is never retried.
    """
    rng = rng or random.Random()

    def next_wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        retry_after = error.retry_after if isinstance(error, RetryableError) else None
        return backoff(budget.policy, budget.attempts_before + state.attempt_number, retry_after, rng) * budget.scale

    def stop(state: RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome else None
        assert isinstance(error, RetryableError)
        now = clock()
        if budget.attempts_left(state.attempt_number) <= 0:
            raise GiveUp(error, f"gave up after {budget.policy.attempts} attempts")
        wait = state.upcoming_sleep  # tenacity computes the wait before it asks whether to stop
        if budget.deadline_passed(now + wait):
            raise GiveUp(error, f"gave up: the retry deadline of {budget.policy.deadline:g} s passed")
        if state.idle_for + wait > budget.in_process_seconds:  # time spent sleeping in this run
            raise Reschedule(error, wait)
        return False

    retrying = Retrying(
        retry=retry_if_exception_type(RetryableError),
        stop=stop,
        wait=next_wait,
        sleep=sleep,
        reraise=True,
    )
    return retrying(call)
