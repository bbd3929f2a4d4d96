"""Enqueue execution ids on RQ; the only RQ import on the web side.

A job carries execution ids (a few, run in turn) and nothing else. Enqueueing is best effort: when Redis is
away the execution stays queued in the database (the outbox) and the sweeper sends it later.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from queue import SimpleQueue
from uuid import uuid4

import redis
from redis.typing import EncodableT, FieldT
from rq import Queue
from rq.job import Job
from rq.utils import now as rq_now
from rq.utils import utcformat

from gateway.record.mirror import Mirror
from gateway.record.runtime import Runtime

log = logging.getLogger("gateway.dispatch.queue")
JOB = "gateway.execute.runner.execute_many"
JOB_IDS = 8  # execution ids per job: RQ's own bookkeeping (a few ms, ~40 Redis commands) is paid per job
# the fields RQ writes empty for a job without callbacks, a worker or a group (Job.to_dict)
_UNSET_JOB_FIELDS = (
    "success_callback_name",
    "failure_callback_name",
    "stopped_callback_name",
    "started_at",
    "ended_at",
    "last_heartbeat",
    "worker_name",
    "group_id",
)


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


def chunks(ids: list[str], size: int) -> list[list[str]]:
    """Split into jobs of at most `size` ids, as evenly as that allows (so free workers share a burst)."""
    count = -(-len(ids) // size)
    return [ids[i::count] for i in range(count)] if ids else []


# KEYS: the set of queues, the queue, a job's hash per job. ARGV: the number of shared arguments, the field-value
# pairs every job shares, then per job its id, data, description and timeout.
_PUSH_JOBS = """
local shared = tonumber(ARGV[1])
redis.call('SADD', KEYS[1], KEYS[2])
local at = shared + 2
for job = 3, #KEYS do
  local fields = {unpack(ARGV, 2, shared + 1)}
  local own = {'data', ARGV[at + 1], 'description', ARGV[at + 2], 'timeout', ARGV[at + 3]}
  for _, value in ipairs(own) do fields[#fields + 1] = value end
  redis.call('HSET', KEYS[job], unpack(fields))
  redis.call('RPUSH', KEYS[2], ARGV[at])
  at = at + 4
end
return #KEYS - 2
"""


def _refuses_scripts(exc: redis.ResponseError) -> bool:
    """An ACL without @scripting (NOPERM), or a server without EVAL (a command it does not know)."""
    return isinstance(exc, redis.exceptions.NoPermissionError) or "unknown command" in str(exc).lower()


class Dispatcher:
    """Sends execution ids to RQ, many per round trip.

    In the web process it relays from a background thread (`start_relay`): a webhook's answer
    does not wait for Redis, and jobs accepted together go out together. Whatever is still in
    the relay when the process dies is still queued in the database: the sweeper sends it.
    """

    def __init__(self, connection: redis.Redis, mirror: Mirror, queue_name: str, job_timeout: float) -> None:
        self.queue = Queue(queue_name, connection=connection)
        self.mirror = mirror
        self.job_timeout = int(job_timeout)
        self.away = False
        self._push = connection.register_script(_PUSH_JOBS)
        self.scripted = True  # until Redis refuses the script (`push_jobs`)
        self._relay: SimpleQueue[list[str] | None] | None = None
        self._relay_thread: threading.Thread | None = None

    @classmethod
    def for_runtime(cls, runtime: Runtime, connection: redis.Redis | None = None) -> Dispatcher:
        """The settings' queue on `connection` (else REDIS_URL); a job may take an id's whole retry budget,
        and five minutes more for its calls."""
        settings = runtime.settings
        if connection is None:
            assert settings.redis_url is not None, "a dispatcher needs REDIS_URL (gateway serve sets it)"
            connection = connect(settings.redis_url)
        return cls(connection, runtime.mirror, settings.queue_name, settings.retry_budget_seconds + 300)

    def enqueue(self, execution_ids: Sequence[str]) -> list[str]:
        """Send now (or hand to the relay); return the ids sent. Failures leave work for the sweeper."""
        if not execution_ids:
            return []
        if self._relay is not None:
            self._relay.put(list(execution_ids))
            return []
        return self._send(list(execution_ids))

    def _send(self, execution_ids: list[str]) -> list[str]:
        now = time.time()
        self.mirror.mark_enqueued(execution_ids, now)
        return self.send_marked(execution_ids, now)

    def send_marked(self, execution_ids: list[str], now: float) -> list[str]:
        """Send ids already marked enqueued at `now` (in the transaction that planned them); one round trip."""
        if not execution_ids:
            return []
        try:
            self.push_jobs(chunks(execution_ids, JOB_IDS))
        except redis.RedisError as exc:
            if not self.away:  # once per outage, not once per webhook
                log.warning(
                    "redis unavailable (%s); executions wait in the database for the sweeper", type(exc).__name__
                )
            self.away = True
            self.mirror.unmark_enqueued(execution_ids, now)
            return []
        self.away = False
        return execution_ids

    def push_jobs(self, jobs: list[list[str]]) -> None:
        """One RQ job per list of ids, in one command: what `Queue.enqueue_many` writes for a job with no
        dependency, callback or meta (the job's hash, its id on the queue), written by a script. RQ's own built
        a Job object a job (its serializer resolved, each field formatted), and a MULTI of a command per hash and
        push cost the ingress writer 430 µs of CPU a batch of four jobs (230 µs this way). The data goes
        uncompressed: `Job.restore` reads data that does not inflate as is, and deflating took 10 µs a job.
        A Redis that refuses scripts (an ACL without @scripting, a managed Redis without EVAL) gets the same
        writes as commands in a MULTI. tests/ops/test_dispatcher.py holds both to what RQ writes."""
        stamp = utcformat(rq_now())
        queue = self.queue
        shared: dict[FieldT, EncodableT] = dict.fromkeys(_UNSET_JOB_FIELDS, "")  # every job's fields but its own
        shared.update(status="queued", created_at=stamp, enqueued_at=stamp, origin=queue.name)
        shared.update(result_ttl=0, failure_ttl=86400)  # results live in the database: RQ keeps none
        own = [
            (
                str(uuid4()),
                queue.serializer.dumps((JOB, None, (ids,), {})),
                f"{JOB}({ids!r})",
                self.job_timeout * len(ids),
            )
            for ids in jobs
        ]
        if self.scripted:
            try:
                self._push(
                    keys=[queue.redis_queues_keys, queue.key, *(Job.key_for(job[0]) for job in own)],
                    args=[2 * len(shared), *(part for pair in shared.items() for part in pair)]
                    + [value for job in own for value in job],
                )
                return
            except redis.ResponseError as exc:
                if not _refuses_scripts(exc):  # a read-only replica, a key of another type: Redis's trouble
                    raise
                log.warning("redis refuses scripts (%s); jobs are written command by command", exc)
                self.scripted = False
        pipe = queue.connection.pipeline()
        pipe.sadd(queue.redis_queues_keys, queue.key)
        for job_id, data, description, timeout in own:
            pipe.hset(
                Job.key_for(job_id), mapping={**shared, "data": data, "description": description, "timeout": timeout}
            )
            pipe.rpush(queue.key, job_id)
        pipe.execute()

    def start_relay(self, batch: int = 500) -> Dispatcher:
        self._relay = SimpleQueue()
        self._relay_thread = threading.Thread(
            target=self._relay_loop, args=(self._relay, batch), name="relay", daemon=True
        )
        self._relay_thread.start()
        return self

    def stop_relay(self, timeout: float = 10.0) -> None:
        """Send what is pending, then stop relaying."""
        if self._relay is None or self._relay_thread is None:
            return
        self._relay.put(None)
        self._relay_thread.join(timeout)
        self._relay = None

    def _relay_loop(self, pending: SimpleQueue[list[str] | None], batch: int) -> None:
        while True:
            item = pending.get()
            if item is None:
                return
            ids, last = list(item), False
            while len(ids) < batch and not pending.empty():
                more = pending.get()
                if more is None:
                    last = True
                    break
                ids += more
            try:
                self._send(ids)
            except Exception as exc:  # the relay must outlive a database hiccup; the sweeper catches up
                log.warning("relay could not send %d executions: %s", len(ids), type(exc).__name__)
            if last:
                return

    def mark_redis(self) -> bool | None:
        """Leave a marker in Redis: True when it was missing (a new or emptied server), None when Redis is away."""
        try:
            return bool(self.queue.connection.set(f"{self.queue.name}:gateway:marker", "1", nx=True))
        except redis.RedisError:
            return None

    def healthy(self) -> bool:
        try:
            return bool(self.queue.connection.ping())
        except redis.RedisError:
            return False
