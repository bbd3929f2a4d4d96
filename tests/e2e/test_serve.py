"""The README's promise: `gateway serve`, a webhook in, tickets out, and a clean stop."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from gateway.run.supervisor import DEFAULT_WORKERS
from tests.conftest import QUALYTICS_SECRET, Trackers, payload, qualytics_delivery
from tests.e2e.conftest import Served, alive

HEADERS = {"x-qualytics-secret": QUALYTICS_SECRET, "content-type": "application/json"}


def post(served: Served, body: bytes) -> httpx.Response:
    return httpx.post(f"{served.url}/v1/webhooks/qualytics", content=body, headers=HEADERS, timeout=30)


def linked(served: Served, count: int = 2) -> bool:
    tickets = served.get("/v1/tickets")["tickets"]
    return bool(tickets) and all(len(t["links"]) == count for t in tickets)


def test_a_webhook_becomes_tickets_in_both_trackers_through_the_worker_process(
    serve: Callable[..., Served], trackers: Trackers
) -> None:
    served = serve()
    response = post(served, payload("qualytics.json"))
    assert response.status_code == 202, response.text
    served.wait_for(lambda: linked(served))

    [ticket] = served.get("/v1/tickets")["tickets"]
    assert ticket["number"] == "DQ-1"
    assert ticket["fields"]["short_description"] == "Amount Range Check failed on orders"
    assert {link["target"]: link["external_key"] for link in ticket["links"]} == {
        "jira": trackers.issues()[0]["key"],
        "snow": "INC0010001",
    }
    executions = served.get("/v1/executions")["executions"]
    assert sorted(e["status"] for e in executions) == ["succeeded", "succeeded"]
    assert served.get("/readyz") == {
        "status": "ok",
        "database": "ok",
        "redis": "ok",
        "ingress_writer": "ok",  # auto: a process of its own
        "targets": {"jira": "ok", "snow": "ok"},
        "degraded": [],
    }


def test_twenty_concurrent_deliveries_of_one_anomaly_make_one_ticket(
    serve: Callable[..., Served], trackers: Trackers
) -> None:
    served = serve()
    bodies = [json.dumps(qualytics_delivery(42, timestamp=f"2026-01-25T12:{i:02d}:00Z")).encode() for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda body: post(served, body), bodies))
    assert [r.status_code for r in responses] == [202] * 20
    served.wait_for(lambda: linked(served))
    served.wait_for(lambda: all(e["status"] == "succeeded" for e in served.get("/v1/executions")["executions"]))
    [ticket] = served.get("/v1/tickets")["tickets"]
    assert ticket["occurrences"] == 20
    assert len(trackers.issues()) == 1
    assert len(trackers.incidents()) == 1


def test_with_the_writer_in_the_web_process_concurrent_deliveries_still_make_one_ticket(
    serve: Callable[..., Served], trackers: Trackers
) -> None:
    served = serve(GATEWAY_INGEST_PROCESS="0")  # the thread, when chosen
    assert served.get("/readyz")["ingress_writer"] == "in process"
    assert served.pids("writer") == []
    bodies = [json.dumps(qualytics_delivery(7, timestamp=f"2026-01-25T13:{i:02d}:00Z")).encode() for i in range(10)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda body: post(served, body), bodies))
    assert [r.status_code for r in responses] == [202] * 10
    served.wait_for(lambda: linked(served))
    [ticket] = served.get("/v1/tickets")["tickets"]
    assert ticket["occurrences"] == 10
    assert len(trackers.issues()) == 1 and len(trackers.incidents()) == 1


def test_serve_stops_its_workers_and_embedded_redis(serve: Callable[..., Served]) -> None:
    served = serve()
    workers, redis = served.pids("worker"), served.pids("redis")
    assert len(workers) == DEFAULT_WORKERS and len(redis) == 1
    assert all(alive(pid) for pid in [*workers, *redis])
    assert served.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    assert not any(alive(pid) for pid in [*workers, *redis])
    assert "workers stopped" in served.log() and "embedded redis stopped" in served.log()
