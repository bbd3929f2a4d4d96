"""Background work a fork must not split.

RQ's forking worker forks a work horse per job while the worker's own threads (the sweeper, the
tracker sync) go on. A fork taken while one of them is inside SQLite (or libpq, or a TLS call) copies
the library's held mutex into the child, which then hangs on its first query. Beside a thread that
wrote all the time, a child that used only an in-memory database hung in 1 of 300 forks (0 of 300 with
this gate); a CI run's work horse that never reached the tracker was most likely this. Those threads
run their work `inside()`; a fork waits until none is inside, and none enters until it is done.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_gate = threading.Condition(threading.Lock())
_inside = 0
_forking = False  # a fork waits: nobody new goes inside (a thread that loops would starve it)


@contextmanager
def inside() -> Iterator[None]:
    """Work no fork happens in the middle of (threads may be inside together). Never nested: a fork
    waiting for the outer block would keep the inner one out for good."""
    global _inside
    with _gate:
        while _forking:
            _gate.wait()
        _inside += 1
    try:
        yield
    finally:
        with _gate:
            _inside -= 1
            _gate.notify_all()


def _before_fork() -> None:
    global _forking
    _gate.acquire()  # held through the fork
    _forking = True
    while _inside:
        _gate.wait()


def _after_fork() -> None:
    global _forking
    _forking = False
    _gate.notify_all()
    _gate.release()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork, after_in_child=_after_fork)
