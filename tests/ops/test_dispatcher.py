"""The web side's relay to Redis: batched, off the request path, and never the only copy."""

from __future__ import annotations

from gateway.dispatch.queue import Dispatcher, connect
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
