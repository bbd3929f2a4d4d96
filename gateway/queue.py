"""Enqueue execution ids on RQ; the only RQ import on the web side.

A job carries an execution id and nothing else. Enqueueing is best effort: when Redis is
away the execution stays queued in the database (the outbox) and the sweeper sends it later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import redis
from rq import Queue

from gateway.mirror import Mirror

log = logging.getLogger("gateway.queue")
JOB = "gateway.jobs.execute"


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


class Dispatcher:
    def __init__(self, connection: redis.Redis, mirror: Mirror, queue_name: str, job_timeout: float) -> None:
        self.queue = Queue(queue_name, connection=connection)
        self.mirror = mirror
        self.job_timeout = int(job_timeout)
        self.away = False

    def enqueue(self, execution_ids: Sequence[str]) -> list[str]:
        """Enqueue what can be; return the ids sent. Failures leave work for the sweeper."""
        sent: list[str] = []
        try:
            for execution_id in execution_ids:
                self.queue.enqueue(JOB, execution_id, job_timeout=self.job_timeout, result_ttl=60, failure_ttl=86400)
                sent.append(execution_id)
            self.away = False
        except redis.RedisError as exc:
            if not self.away:  # once per outage, not once per webhook
                log.warning(
                    "redis unavailable (%s); executions wait in the database for the sweeper", type(exc).__name__
                )
            self.away = True
        self.mirror.mark_enqueued(sent, time.time())
        return sent

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
