"""The ingress writer's own process: `gateway serve` starts it on a socket pair (`-m gateway.run.ingest_writer FD`).

The web process verifies and parses each delivery and sends it here; this process plans, commits and
enqueues (gateway.decide.writer). It ends when the web process closes the socket or goes away.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
import time

from gateway.core.settings import Settings
from gateway.decide.writer import IngestWriter, serve_link
from gateway.dispatch.queue import Dispatcher
from gateway.record.runtime import Runtime
from gateway.record.store import DatabaseError
from gateway.run.heap import INGRESS_YOUNG_COLLECTION_AT, freeze_startup_heap
from gateway.run.logs import configure_logging, redact_secrets_of

log = logging.getLogger("gateway.run.ingest_writer")


def _checkpoint_beside(runtime: Runtime, every: float) -> None:
    """SQLite: copy the WAL into the database beside the batches, as the sweepers do, not inside a commit.
    A web node without workers (`--workers 0`) had no sweeper: a commit every 10,000 pages checkpointed
    with the writer's turn held, and the deliveries waiting on it were the ingress's slowest (p99 56-63 ms
    at 2,500 a second against 38-44 ms with this, README "Performance")."""
    if runtime.mirror.postgres:
        return

    def run() -> None:
        while True:
            time.sleep(every)
            try:
                runtime.mirror.checkpoint()
            except DatabaseError as exc:  # the next one tries again; a commit past the backstop does it too
                log.debug("checkpoint failed: %s", type(exc).__name__)

    threading.Thread(target=run, name="checkpoint", daemon=True).start()


def main(argv: list[str]) -> int:
    link = socket.socket(fileno=int(argv[0]))
    configure_logging()
    # The web process decides when this one stops (it closes the socket once its requests are answered):
    # an interrupt meant for the terminal's process group must not cut a batch short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    settings = Settings.from_env()
    runtime = Runtime.load(settings, migrate=False)  # `gateway serve` migrated before it started this process
    redact_secrets_of(runtime)
    dispatcher = Dispatcher.for_runtime(runtime)  # gateway serve sets REDIS_URL for its writer
    writer = IngestWriter(runtime, lambda: dispatcher)
    _checkpoint_beside(runtime, settings.sweep_interval_seconds)
    freeze_startup_heap(INGRESS_YOUNG_COLLECTION_AT)
    try:
        serve_link(link, writer)
    except (ConnectionError, OSError) as exc:  # the web process went away mid-answer
        log.info("ingress writer link closed: %s", type(exc).__name__)
    finally:
        runtime.mirror.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
