"""The ingress writer's own process: `gateway serve` starts it on a socket pair (`-m gateway.run.ingest_writer FD`).

The web process verifies and parses each delivery and sends it here; this process plans, commits and
enqueues (gateway.decide.writer). It ends when the web process closes the socket or goes away.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys

from gateway.core.settings import Settings
from gateway.decide.writer import IngestWriter, serve_link
from gateway.dispatch.queue import Dispatcher, connect
from gateway.record.runtime import Runtime
from gateway.run.heap import freeze_startup_heap
from gateway.run.logs import configure_logging, redact_secrets_of

log = logging.getLogger("gateway.run.ingest_writer")


def main(argv: list[str]) -> int:
    link = socket.socket(fileno=int(argv[0]))
    configure_logging()
    # The web process decides when this one stops (it closes the socket once its requests are answered):
    # an interrupt meant for the terminal's process group must not cut a batch short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    settings = Settings.from_env()
    runtime = Runtime.load(settings, migrate=False)  # `gateway serve` migrated before it started this process
    redact_secrets_of(runtime)
    assert settings.redis_url is not None, "gateway serve sets REDIS_URL for its writer"
    dispatcher = Dispatcher(
        connect(settings.redis_url), runtime.mirror, settings.queue_name, settings.retry_budget_seconds + 300
    )
    writer = IngestWriter(runtime, lambda: dispatcher)
    freeze_startup_heap()
    try:
        serve_link(link, writer)
    except (ConnectionError, OSError) as exc:  # the web process went away mid-answer
        log.info("ingress writer link closed: %s", type(exc).__name__)
    finally:
        runtime.mirror.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
