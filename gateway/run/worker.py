"""An RQ worker on the gateway's queue, with the sweeper beside it.

Losing Redis: RQ retries while it waits for a job, but a connection error anywhere else
(after a job, in its maintenance) ends its loop, and it then returns as if it had been
asked to stop. We make that exit non-zero, so `gateway serve`'s supervisor or any process
manager (systemd `Restart=on-failure`, Kubernetes) starts it again, and a starting worker
waits for Redis instead of crashing in a restart loop. The database keeps every execution,
so nothing is lost while no worker runs: the sweeper of the next worker enqueues it.
"""

from __future__ import annotations

import inspect
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from types import FrameType
from typing import Any

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
from gateway.run.heap import freeze_startup_heap
from gateway.run.logs import configure_logging, redact_secrets_of
from gateway.run.supervisor import child_env

log = logging.getLogger("gateway.run.worker")
LOST_REDIS_EXIT = 3  # the RQ loop ended without a stop request: restart me
BESIDE_STOP_S = 5.0  # how long a stopping worker waits for a sweep or sync pass under way


class _StopAware:
    """Remembers whether the worker was asked to stop (a signal) or its loop gave up (Redis lost)."""

    stop_requested = False

    def handle_warm_shutdown_request(self) -> None:
        self.stop_requested = True
        super().handle_warm_shutdown_request()  # type: ignore[misc]


class _PromptUnsubscribe:
    """RQ reads its pub/sub channel in redis-py's thread with 60 s reads, and redis-py 8's `stop()` waits for that
    thread without a bound: when the unsubscribe reply came before the flag was cleared, the thread read again and
    a worker's teardown took 60 s (a burst worker's key expired meanwhile). The wait is bounded here."""

    pubsub: Any
    pubsub_thread: Any

    def unsubscribe(self) -> None:
        thread = self.pubsub_thread
        if thread is None:
            return
        self.pubsub.unsubscribe()
        if "timeout" in inspect.signature(thread.stop).parameters:
            thread.stop(timeout=1)
        else:  # an earlier redis-py: stop() only clears the flag
            thread.stop()
        thread.join(timeout=1)


class PromptSimpleWorker(_PromptUnsubscribe, SimpleWorker):
    """RQ's SimpleWorker whose teardown does not wait on a pub/sub read (the tests' burst workers)."""


class GatewayWorker(_StopAware, PromptSimpleWorker):
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


class Companion:
    """The sweeper and the tracker sync of a forking worker, in a process of their own.

    RQ's forking worker forks a work horse per job. A fork taken while another thread of the process
    is inside SQLite (or libpq, or a TLS call) copies that library's held lock into the child, which
    hangs on its first query: beside a thread that wrote all the time, a child using only an in-memory
    database hung in 1 of 300 forks, and one CI run's work horse most likely so. With no thread beside
    it, the forking worker has no such lock to copy. The companion ends when its worker is gone."""

    def __init__(self, settings: Settings) -> None:
        assert settings.redis_url is not None
        self.env = child_env(
            {
                "REDIS_URL": settings.redis_url,
                "GATEWAY_DATABASE_URL": settings.database_url_absolute,
                "GATEWAY_MAPPINGS": str(settings.mappings.resolve()),
            }
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Companion:
        command = [sys.executable, "-m", "gateway.run.worker", "--beside", str(os.getpid())]
        self.process = subprocess.Popen(command, env=self.env)
        log.info("sweeper and sync of worker pid %s run in pid %s", os.getpid(), self.process.pid)
        return self

    def keep_alive(self) -> None:
        """Start another when it died (checked at each heartbeat: after a job, and while idle)."""
        if self.process is not None and self.process.poll() is not None:
            log.warning(
                "the sweeper and sync process of worker pid %s ended with %s; starting another",
                os.getpid(),
                self.process.returncode,
            )
            self.start()

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class ForkingGatewayWorker(_StopAware, _PromptUnsubscribe, Worker):
    """RQ's forking worker (a work horse per job), for those who want each job isolated. It runs no
    thread of its own: its sweeper and sync run in a `Companion` process."""

    companion: Companion | None = None
    IDLE_HEARTBEAT_S = 5  # an idle worker checks its companion this often (RQ's default: 405 s)

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        if self.companion is not None:
            self.companion.keep_alive()
        super().heartbeat(timeout, pipeline)


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


def _load(settings: Settings | None) -> Runtime:
    """What a worker and its companion start from: logging, settings, the runtime, the tracker clients."""
    try:
        configure_logging()
        settings = settings or Settings.from_env()
    except ValueError as exc:  # a setting the user can fix: one line, not a traceback
        raise SystemExit(str(exc)) from None
    if not settings.redis_url:
        raise SystemExit("REDIS_URL is not set: a standalone worker needs the Redis the gateway uses")
    runtime = Runtime.load(settings)
    redact_secrets_of(runtime)
    import connectors.registry  # noqa: F401  loaded before the first job (and before any fork)

    return runtime


def run_worker(settings: Settings | None = None, *, burst: bool = False) -> None:
    runtime = _load(settings)
    settings = runtime.settings
    assert settings.redis_url is not None
    jobs.configure(runtime)
    connection = connect(settings.redis_url)
    companion = Companion(settings).start() if settings.worker_fork else None
    stop_beside = None if companion else start_beside(runtime, connection)  # runs while we wait for Redis too
    try:
        wait_for_redis(connection)
        queues = [Queue(settings.queue_name, connection=connection)]
        worker: GatewayWorker | ForkingGatewayWorker
        if companion is not None:
            worker = ForkingGatewayWorker(
                queues, connection=connection, worker_ttl=ForkingGatewayWorker.IDLE_HEARTBEAT_S + 15
            )
            worker.companion = companion
        else:
            worker = GatewayWorker(queues, connection=connection)
        freeze_startup_heap()
        # No RQ scheduler: nothing is scheduled in RQ (backoffs live in the database and the sweeper
        # enqueues them), and its extra process dies with a traceback whenever Redis goes away.
        worker.work(burst=burst, with_scheduler=False, logging_level="WARNING")
    except redis.RedisError as exc:  # RQ's teardown talks to Redis too
        log.error("redis lost (%s); exiting to be restarted", type(exc).__name__)
        raise SystemExit(LOST_REDIS_EXIT) from None
    finally:
        if stop_beside is not None:
            stop_beside()
        if companion is not None:
            companion.stop()
    if not burst and not worker.stop_requested:
        log.error("the RQ worker loop ended without a stop request (redis lost?); exiting to be restarted")
        raise SystemExit(LOST_REDIS_EXIT)


def start_beside(runtime: Runtime, connection: redis.Redis) -> Callable[[], None]:
    """The sweeper and the tracker sync threads; calling what is returned stops both."""
    dispatcher = Dispatcher.for_runtime(runtime, connection)
    sweeper = Sweeper(runtime, dispatcher, on_breach=sla_breach_hook(runtime))  # breaches fire sla_breached
    sweeping, stop = sweeper.start()  # it only needs the database
    syncing, stop_sync = tracker_sync.start(runtime, dispatcher)  # two-way sync: polls and reconcile passes

    def stop_both() -> None:
        """Let a pass under way finish (a sweep that expired leases still logs and enqueues them)."""
        stop.set()
        stop_sync.set()
        deadline = time.monotonic() + BESIDE_STOP_S
        for thread in (sweeping, syncing):
            thread.join(max(0.0, deadline - time.monotonic()))

    return stop_both


def run_beside(worker_pid: int) -> None:
    """A `Companion`: the sweeper and the sync until SIGTERM, SIGINT, or its worker is gone."""
    runtime = _load(None)
    assert runtime.settings.redis_url is not None
    ended = threading.Event()

    def end(signum: int, frame: FrameType | None) -> None:
        ended.set()

    signal.signal(signal.SIGTERM, end)
    signal.signal(signal.SIGINT, end)
    stop = start_beside(runtime, connect(runtime.settings.redis_url))
    freeze_startup_heap()
    while not ended.wait(1.0) and os.getppid() == worker_pid:
        pass
    stop()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--beside"]:
        run_beside(int(sys.argv[2]))
    else:
        run_worker()
