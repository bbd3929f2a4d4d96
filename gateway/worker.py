"""An RQ worker on the gateway's queue, with the scheduler and the sweeper beside it."""

from __future__ import annotations

import logging

from rq import Queue, Worker

from gateway import jobs
from gateway.logs import configure_logging
from gateway.queue import Dispatcher, connect
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.sweeper import Sweeper

log = logging.getLogger("gateway.worker")


def run_worker(settings: Settings | None = None, *, burst: bool = False) -> None:
    configure_logging()
    settings = settings or Settings.from_env()
    if not settings.redis_url:
        raise SystemExit("REDIS_URL is not set: a standalone worker needs the Redis the gateway uses")
    runtime = Runtime.load(settings)
    jobs.configure(runtime)
    import connectors.registry  # noqa: F401  loaded before the fork, so each job starts warm

    connection = connect(settings.redis_url)
    job_timeout = settings.retry_budget_seconds + 300
    sweeper = Sweeper(runtime, Dispatcher(connection, runtime.mirror, settings.queue_name, job_timeout))
    _, stop = sweeper.start()
    try:
        Worker([Queue(settings.queue_name, connection=connection)], connection=connection).work(
            burst=burst, with_scheduler=True, logging_level="WARNING"
        )
    finally:
        stop.set()


if __name__ == "__main__":
    run_worker()
