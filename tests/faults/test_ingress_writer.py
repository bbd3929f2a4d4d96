"""The ingress writer process of `gateway serve`: deliveries are planned there, and nothing is lost or
recorded twice when it dies (they are planned in the web process until it is back). Real subprocesses,
real Redis, the real clients to the loopback emulators."""

from __future__ import annotations

import json
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import Trackers, qualytics_delivery
from tests.e2e.conftest import Served, alive
from tests.faults.conftest import ServeFactory, assert_one_ticket_each, database_url_held, kill
from tests.faults.test_process_faults import FAST, HEADERS, Traffic

pytestmark = pytest.mark.slow
PROCESS = {"GATEWAY_INGEST_PROCESS": "1"}  # as `auto` chooses, said outright


def post(served: Served, anomaly: int, **fields: Any) -> httpx.Response:
    body = json.dumps(qualytics_delivery(anomaly, **fields)).encode()
    return httpx.post(f"{served.url}/v1/webhooks/qualytics", content=body, headers=HEADERS, timeout=60)


def writer_pid(served: Served, after: int | None = None) -> int:
    """The writer process running now (a new one when `after` names the one before)."""
    served.wait_for(lambda: bool(served.pids("writer")) and served.pids("writer")[-1] != after)
    pid = served.pids("writer")[-1]
    served.wait_for(lambda: served.get("/readyz")["ingress_writer"] == "ok")
    return pid


def test_deliveries_are_planned_in_the_writer_process(serve_faults: ServeFactory) -> None:
    served = serve_faults(**PROCESS)
    pid = writer_pid(served)
    assert served.get("/readyz")["ingress_writer"] == "ok"
    kill(pid, signal.SIGSTOP)  # the writer process holds still: a delivery waits for it
    try:
        with ThreadPoolExecutor(2) as pool:
            waiting = pool.submit(post, served, 1)
            time.sleep(1.0)
            assert not waiting.done(), "a delivery was answered without the writer process"
            kill(pid, signal.SIGCONT)
            assert waiting.result().status_code == 202
    finally:
        kill(pid, signal.SIGCONT)
    assert waiting.result().json()["executions"], "the writer process answered without planning"
    assert served.pids("writer") == [pid]


def test_deliveries_a_dead_writer_process_left_unanswered_are_planned_in_the_web_process(
    serve_faults: ServeFactory, trackers: Trackers
) -> None:
    served = serve_faults(**PROCESS)
    first = writer_pid(served)
    kill(first, signal.SIGSTOP)
    with ThreadPoolExecutor(10) as pool:
        waiting = [pool.submit(post, served, anomaly) for anomaly in range(1, 11)]
        time.sleep(1.0)
        assert not any(f.done() for f in waiting)
        kill(first)  # SIGKILL: the ten it was sent die with it, unanswered
        answers = [f.result() for f in waiting]
    assert [a.status_code for a in answers] == [202] * 10, [a.text for a in answers]
    assert all(a.json()["executions"] and not a.json()["duplicate"] for a in answers)
    second = writer_pid(served, after=first)  # started again; the gateway says it is whole again
    assert alive(second) and not alive(first)
    assert all(post(served, anomaly).status_code == 202 for anomaly in range(11, 16))
    served.wait_for(served.settled, timeout=60)
    served.accounting(e for a in answers for e in a.json()["event_ids"])
    assert_one_ticket_each(trackers, range(1, 16))
    assert "ingress writer process ended" in served.log()


def test_traffic_goes_on_while_the_writer_process_is_killed_again_and_again(
    serve_faults: ServeFactory, trackers: Trackers
) -> None:
    # A process killed between its commit and its send to Redis leaves executions marked enqueued that
    # no job carries: the sweeper sends them again once their lease is over (short here).
    served = serve_faults(**FAST, **PROCESS)
    pid = writer_pid(served)
    streams = [Traffic(served.url, every=0.02, first=1 + 1000 * n) for n in range(3)]  # three clients at once
    for stream in streams:
        stream.__enter__()
    try:
        for _ in range(3):
            streams[0].until(15)
            kill(pid)
            pid = writer_pid(served, after=pid)
        streams[0].until(15)
    finally:
        for stream in streams:
            stream.__exit__()
    anomalies = [a for stream in streams for a in stream.accepted]
    assert not any(stream.refused for stream in streams)  # Traffic asserts each answer was a 202
    served.wait_for(served.settled, timeout=120)
    served.accounting(e for stream in streams for e in stream.event_ids)
    assert_one_ticket_each(trackers, anomalies)  # none lost, none recorded twice


def test_a_delivery_larger_than_the_socket_takes_at_once_arrives_whole(serve_faults: ServeFactory) -> None:
    """100 anomalies with 6 KB descriptions: the frame to the writer process spans many reads."""
    served = serve_faults(**PROCESS)
    writer_pid(served)
    data = qualytics_delivery(1)
    first = data["context"]["anomalies"][0]
    texts = {n: f"anomaly {n}: " + "é" * 3000 for n in range(1, 101)}  # 2 bytes each in UTF-8
    data["context"]["anomalies"] = [{**first, "id": n, "description": texts[n]} for n in texts]
    body = json.dumps(data, ensure_ascii=False).encode()
    assert len(body) > 600_000
    answer = httpx.post(f"{served.url}/v1/webhooks/qualytics", content=body, headers=HEADERS, timeout=60)
    assert answer.status_code == 202, answer.text
    assert len(answer.json()["event_ids"]) == 100 and len(answer.json()["executions"]) == 200
    tickets = served.get("/v1/tickets", params={"limit": "100"})["tickets"]
    assert len(tickets) == 100
    last = served.get(f"/v1/tickets/{tickets[0]['number']}")
    anomaly = int(last["anomalies"][0]["anomaly_id"])
    assert last["fields"]["description"].startswith(texts[anomaly])  # every byte of it, in order


def test_a_failure_in_the_writer_process_is_answered_as_in_the_web_process(serve_faults: ServeFactory) -> None:
    served = serve_faults(GATEWAY_DB_BUSY_TIMEOUT_SECONDS="1", **PROCESS)
    pid = writer_pid(served)
    with database_url_held(served.database_url):
        refused = post(served, 1)
    assert refused.status_code == 503, refused.text  # the database's outage, named, as without the process
    assert refused.json()["error"] == "database_unavailable"
    assert post(served, 1).status_code == 202  # the tool's retry; the same writer process took it
    assert served.pids("writer") == [pid] and alive(pid)


def test_stopping_the_gateway_stops_its_writer_process(serve_faults: ServeFactory) -> None:
    served = serve_faults(**PROCESS)
    pid = writer_pid(served)
    assert post(served, 1).status_code == 202
    assert served.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid)
    assert "ingress writer process stopped" in served.log()
