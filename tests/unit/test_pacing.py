"""Writes to one tracker record are spaced per process; other records do not wait."""

from __future__ import annotations

import threading

from connectors.pacing import Spacer


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_a_burst_to_one_key_is_spaced_and_other_keys_go_at_once() -> None:
    time = FakeTime()
    spacer = Spacer(clock=time.clock, sleep=time.sleep)
    for _ in range(3):
        spacer.wait(("jira", "10001"), 0.2)
    spacer.wait(("jira", "10002"), 0.2)
    assert time.slept == [0.2, 0.2]
    time.now += 5
    spacer.wait(("jira", "10001"), 0.2)
    assert time.slept == [0.2, 0.2]
    assert spacer.wait(("jira", "10001"), 0) == 0.0


def test_threads_take_consecutive_slots() -> None:
    slept: list[float] = []
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            slept.append(round(seconds, 3))

    spacer = Spacer(clock=lambda: 50.0, sleep=sleep)
    threads = [threading.Thread(target=spacer.wait, args=("issue", 0.25)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(slept) == [0.25, 0.5, 0.75]
