"""The web side's relay to Redis: batched, off the request path, and never the only copy."""

from __future__ import annotations

import re
import zlib

import pytest
import redis
from rq import Queue
from rq.job import Job

from gateway.dispatch.queue import JOB, Dispatcher, connect
from gateway.run.embedded_redis import EmbeddedRedis
from tests.conftest import Harness, payload, qualytics_delivery


def enqueued_at(gateway: Harness) -> list[float | None]:
    rows = gateway.runtime.mirror.connection().execute("SELECT enqueued_at FROM executions ORDER BY seq")
    return [row[0] for row in rows]


def test_the_relay_sends_in_the_background_and_flushes_on_stop(gateway: Harness) -> None:
    relay = Dispatcher(gateway.connection, gateway.runtime.mirror, gateway.settings.queue_name, 300).start_relay()
    gateway.client.app.state.dispatcher = relay
    for anomaly in range(1, 21):
        assert gateway.post("qualytics", qualytics_delivery(anomaly)).status_code == 202
    relay.stop_relay()
    sent = [execution for job in gateway.dispatcher.queue.jobs for execution in job.args[0]]
    assert sorted(sent) == sorted(e["id"] for e in gateway.get("/v1/executions")["executions"])
    assert len(sent) == 20
    assert all(at is not None for at in enqueued_at(gateway))
    gateway.drain()
    assert len(gateway.tickets()) == 20


def test_a_send_that_fails_leaves_the_executions_to_the_sweeper(gateway: Harness) -> None:
    gone = EmbeddedRedis()
    url = gone.start().url
    gone.stop()
    dead = Dispatcher(connect(url), gateway.runtime.mirror, gateway.settings.queue_name, 300)
    gateway.client.app.state.dispatcher = dead
    response = gateway.post("qualytics", payload("qualytics.json"))
    assert response.status_code == 202  # the database is the outbox
    assert enqueued_at(gateway) == [None]
    assert gateway.client.get("/readyz").json()["status"] == "degraded"
    gateway.drain()  # the sweeper of a worker that reaches Redis sends it
    assert len(gateway.tickets()) == 1


@pytest.mark.parametrize("scripted", [True, False], ids=["by script", "command by command"])
def test_a_job_is_written_as_rqs_own_enqueue_writes_it_and_a_worker_runs_it(gateway: Harness, scripted: bool) -> None:
    """The dispatcher writes RQ's job hash itself (RQ's enqueue cost the ingress writer twice as much): the same
    fields with the same values as `Queue.enqueue_many` writes, bar the id and the times, on the same queue."""
    dispatcher = gateway.dispatcher
    dispatcher.scripted = scripted
    queue = dispatcher.queue
    ids = ["0661bbcec8a498e997217116eb125602", "0661bbcec8a498e997217116eb125603"]
    rqs = queue.enqueue_many(
        [Queue.prepare_data(JOB, (ids,), timeout=dispatcher.job_timeout * 2, result_ttl=0, failure_ttl=86400)]
    )[0]
    dispatcher.push_jobs([ids])
    queued = [job_id.decode() for job_id in queue.connection.lrange(queue.key, 0, -1)]
    assert len(queued) == 2 and queued[0] == rqs.id
    own, ours = (queue.connection.hgetall(Job.key_for(job_id)) for job_id in queued)
    stamp = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
    for times in (b"created_at", b"enqueued_at"):
        assert stamp.fullmatch(own.pop(times)) and stamp.fullmatch(ours.pop(times))
    assert ours.pop(b"data") == zlib.decompress(own.pop(b"data"))  # not deflated: RQ reads such data as is
    assert ours == own
    assert queue.connection.smembers(queue.redis_queues_keys) == {queue.key.encode()}
    fetched = Job.fetch(queued[1], connection=queue.connection)
    assert (fetched.func_name, fetched.args, fetched.get_status()) == (JOB, (ids,), "queued")


def test_jobs_the_dispatcher_writes_are_run_by_the_workers(gateway: Harness) -> None:
    for anomaly in range(1, 11):
        assert gateway.post("qualytics", qualytics_delivery(anomaly)).status_code == 202
    sent = [execution for job in gateway.dispatcher.queue.jobs for execution in job.args[0]]
    assert sorted(sent) == sorted(e["id"] for e in gateway.get("/v1/executions")["executions"])
    gateway.drain()
    assert len(gateway.tickets()) == 10
    assert {e["status"] for e in gateway.get("/v1/executions")["executions"]} == {"succeeded"}


def test_a_redis_that_forgot_the_dispatchers_script_still_takes_jobs(gateway: Harness) -> None:
    """A restarted Redis has no scripts: the dispatcher loads its own again rather than lose a batch."""
    dispatcher = gateway.dispatcher
    dispatcher.push_jobs([["0661bbcec8a498e997217116eb125604"]])
    dispatcher.queue.connection.script_flush()
    dispatcher.push_jobs([["0661bbcec8a498e997217116eb125605"], ["0661bbcec8a498e997217116eb125606"]])
    assert [job.args[0] for job in dispatcher.queue.jobs] == [
        ["0661bbcec8a498e997217116eb125604"],
        ["0661bbcec8a498e997217116eb125605"],
        ["0661bbcec8a498e997217116eb125606"],
    ]


def test_a_redis_that_refuses_scripts_still_takes_jobs_command_by_command(
    gateway: Harness, request: pytest.FixtureRequest
) -> None:
    """An ACL without @scripting (as some managed Redis services have): the dispatcher says so once and writes
    the same jobs with plain commands; workers run them."""
    gateway.connection.acl_setuser(
        "noscripts",
        enabled=True,
        passwords=["+s3cret-pass"],
        keys=["*"],
        channels=["*"],
        commands=["+@all", "-@scripting"],
    )
    pool = gateway.connection.connection_pool
    as_limited = {**pool.connection_kwargs, "username": "noscripts", "password": "s3cret-pass"}
    limited = redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **as_limited))
    request.addfinalizer(lambda: gateway.connection.acl_deluser("noscripts"))
    with pytest.raises(redis.exceptions.NoPermissionError):
        limited.eval("return 1", 0)
    refused = Dispatcher(limited, gateway.runtime.mirror, gateway.settings.queue_name, 300)
    gateway.client.app.state.dispatcher = refused
    for anomaly in range(1, 4):
        assert gateway.post("qualytics", qualytics_delivery(anomaly)).status_code == 202
    assert not refused.scripted
    sent = [execution for job in refused.queue.jobs for execution in job.args[0]]
    assert sorted(sent) == sorted(e["id"] for e in gateway.get("/v1/executions")["executions"])
    gateway.drain()
    assert len(gateway.tickets()) == 3


def test_a_write_redis_refuses_for_another_reason_is_an_outage_not_a_refusal_of_scripts(gateway: Harness) -> None:
    """A read-only replica refuses the script's writes: raised (the executions wait for the sweeper), and the
    script is used again once Redis takes writes."""
    replica = EmbeddedRedis().start()
    try:
        connection = connect(replica.url)
        connection.replicaof("127.0.0.1", 1)  # no master there: a replica stays read-only
        dispatcher = Dispatcher(connection, gateway.runtime.mirror, gateway.settings.queue_name, 300)
        with pytest.raises(redis.ResponseError, match="READONLY"):
            dispatcher.push_jobs([["0661bbcec8a498e997217116eb125607"]])
        assert dispatcher.scripted
        connection.replicaof("NO", "ONE")
        dispatcher.push_jobs([["0661bbcec8a498e997217116eb125607"]])
        assert [job.args[0] for job in dispatcher.queue.jobs] == [["0661bbcec8a498e997217116eb125607"]]
    finally:
        replica.stop()
