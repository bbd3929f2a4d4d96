"""An RQ worker on the gateway's queue, with the sweeper beside it.

Losing Redis: RQ retries while it waits for a job, but a connection error anywhere else
(after a job, in its maintenance) ends its loop, and it then returns as if it had been
asked to stop. We make that exit non-zero, so `gateway serve`'s supervisor or any process
manager (systemd `Restart=on-failure`, Kubernetes) starts it again, and a starting worker
waits for Redis instead of crashing in a restart loop. The database keeps every execution,
so nothing is lost while no worker runs: the sweeper of the next worker enqueues it.
"""

from __future__ import annotations

import logging
import time
import traceback

import redis
from redis.client import Pipeline
from rq import Queue, SimpleWorker, Worker
from rq.job import Job, JobStatus
from rq.timeouts import JobTimeoutException
from rq.worker import WorkerStatus

from gateway.core.settings import Settings
from gateway.decide.ticket_events import sla_breach_hook
from gateway.dispatch.queue import Dispatcher, connect
from gateway.dispatch.sweeper import Sweeper
from gateway.execute import runner as jobs
from gateway.execute import sync as tracker_sync
from gateway.record.runtime import Runtime
from gateway.run.logs import configure_logging, redact_secrets_of

log = logging.getLogger("gateway.run.worker")
LOST_REDIS_EXIT = 3  # the RQ loop ended without a stop request: restart me


class _StopAware:
    """Remembers whether the worker was asked to stop (a signal) or its loop gave up (Redis lost)."""

    stop_requested = False

    def handle_warm_shutdown_request(self) -> None:
        self.stop_requested = True
        super().handle_warm_shutdown_request()  # type: ignore[misc]


class GatewayWorker(_StopAware, SimpleWorker):
    """Jobs run in the worker process: no fork per job, and per-process caches (Jira's createmeta
    and learned transitions) stay warm. About five times the forking worker's throughput here.

    RQ's per-job bookkeeping (an execution record, the started and finished registries, job status
    and heartbeats, worker statistics: some forty Redis commands and ~5 ms of CPU a job) records
    what the gateway's database already holds for every execution, so a job here is taken off the
    queue, run and deleted. A job that raises still goes to RQ's failed registry, and the worker
    keeps its own heartbeat (at most once a second) so `rq info` and the worker TTL work. Going idle
    is written with the job's cleanup (one round trip), and the `rq suspend` flag read once a second.
    """

    _beat_at = 0.0
    _suspension_checked_at = 0.0

    def execute_job(self, job: Job, queue: Queue) -> None:
        self.set_state(WorkerStatus.BUSY)
        timeout = job.timeout or Queue.DEFAULT_TIMEOUT
        try:
            with self.death_penalty_class(timeout, JobTimeoutException, job_id=job.id):
                job.func(*job.args, **job.kwargs)
        except Exception:
            log.exception("job %s raised", job.id)
            with self.connection.pipeline() as pipeline:
                job.set_status(JobStatus.FAILED, pipeline=pipeline)
                queue.failed_job_registry.add(
                    job, ttl=job.failure_ttl, exc_string=traceback.format_exc(), pipeline=pipeline
                )
                pipeline.lrem(queue.intermediate_queue_key, 1, job.id)
                pipeline.execute()
        else:
            with self.connection.pipeline() as pipeline:
                pipeline.lrem(queue.intermediate_queue_key, 1, job.id)
                pipeline.delete(job.key)
                self.set_state(WorkerStatus.IDLE, pipeline)
                pipeline.execute()
        self.set_state(WorkerStatus.IDLE)

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        if pipeline is None and time.monotonic() - self._beat_at < 1.0:
            return
        self._beat_at = time.monotonic()
        super().heartbeat(timeout, pipeline)

    def set_state(self, state: str, pipeline: Pipeline | None = None) -> None:
        if state != getattr(self, "_state", None) or pipeline is not None:
            super().set_state(state, pipeline)

    def check_for_suspension(self, burst: bool) -> None:
        if time.monotonic() - self._suspension_checked_at >= 1.0:
            self._suspension_checked_at = time.monotonic()
            super().check_for_suspension(burst)


class ForkingGatewayWorker(_StopAware, Worker):
    """RQ's forking worker (a work horse per job), for those who want each job isolated."""


def wait_for_redis(connection: redis.Redis, max_wait: float = 5.0) -> None:
    """Block until Redis answers, so a worker started during an outage does not crash-loop."""
    delay, warned = 0.2, False
    while True:
        try:
            connection.ping()
            if warned:
                log.warning("redis is back")
            return
        except redis.RedisError as exc:
            if not warned:
                log.warning("waiting for redis: %s", type(exc).__name__)
                warned = True
        time.sleep(delay)
        delay = min(delay * 2, max_wait)


def run_worker(settings: Settings | None = None, *, burst: bool = False) -> None:
    configure_logging()
    settings = settings or Settings.from_env()
    if not settings.redis_url:
        raise SystemExit("REDIS_URL is not set: a standalone worker needs the Redis the gateway uses")
    runtime = Runtime.load(settings)
    redact_secrets_of(runtime)
    jobs.configure(runtime)
    import connectors.registry  # noqa: F401  loaded before the first job (and before any fork)

    connection = connect(settings.redis_url)
    job_timeout = settings.retry_budget_seconds + 300
    dispatcher = Dispatcher(connection, runtime.mirror, settings.queue_name, job_timeout)
    sweeper = Sweeper(runtime, dispatcher, on_breach=sla_breach_hook(runtime))  # breaches fire sla_breached
    _, stop = sweeper.start()  # runs while we wait for Redis too: it only needs the database
    _, stop_sync = tracker_sync.start(runtime, dispatcher)  # two-way sync: polls and reconcile passes
    try:
        wait_for_redis(connection)
        kind = ForkingGatewayWorker if settings.worker_fork else GatewayWorker
        worker = kind([Queue(settings.queue_name, connection=connection)], connection=connection)
        # No RQ scheduler: nothing is scheduled in RQ (backoffs live in the database and the sweeper
        # enqueues them), and its extra process dies with a traceback whenever Redis goes away.
        worker.work(burst=burst, with_scheduler=False, logging_level="WARNING")
    except redis.RedisError as exc:  # RQ's teardown talks to Redis too
        log.error("redis lost (%s); exiting to be restarted", type(exc).__name__)
        raise SystemExit(LOST_REDIS_EXIT) from None
    finally:
        stop.set()
        stop_sync.set()
    if not burst and not worker.stop_requested:
        log.error("the RQ worker loop ended without a stop request (redis lost?); exiting to be restarted")
        raise SystemExit(LOST_REDIS_EXIT)


if __name__ == "__main__":
    run_worker()
