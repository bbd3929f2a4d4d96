"""RQ's forking worker forks a work horse per job beside the sweeper thread. A fork while that thread
is inside SQLite hands the child a held mutex, and the child hangs on its first query (most likely what
hung one CI run's work horse, with a sweep every 0.1 s). Forks wait for the sweep in progress (gateway.core.forks)."""

from __future__ import annotations

import os
import threading

import pytest

from gateway.dispatch.sweeper import Sweeper
from tests.conftest import Harness


def test_no_fork_happens_while_a_sweep_is_in_progress(gateway: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    sweeper = Sweeper(gateway.runtime, gateway.dispatcher)
    inside, release = threading.Event(), threading.Event()
    order: list[str] = []

    def sweep(now: float | None = None) -> list[str]:  # a sweep that stays inside until released
        inside.set()
        release.wait(10)
        order.append("sweep done")
        return []

    monkeypatch.setattr(sweeper, "sweep", sweep)
    thread = threading.Thread(target=sweeper.sweep_once)
    thread.start()
    assert inside.wait(10)
    threading.Timer(0.2, release.set).start()
    pid = os.fork()
    if pid == 0:  # the work horse's place: nothing to do here
        os._exit(0)
    order.append("forked")
    os.waitpid(pid, 0)
    thread.join(10)
    assert order == ["sweep done", "forked"]
