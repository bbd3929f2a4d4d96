"""/metrics with prometheus_client: webhooks counted as they are answered (this process), the
rest derived from the execution log at scrape time (gateway.record.measures says why)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.dispatch.queue import Dispatcher
from gateway.record import measures
from gateway.record.runtime import Runtime

log = logging.getLogger("gateway.web")
WEBHOOKS = "/v1/webhooks/"
_GAUGES = {
    "executions": (
        "dq_gateway_executions",
        "Executions in the log by status, action and target.",
        ["status", "action", "target"],
    ),
    "tickets": ("dq_gateway_tickets", "Mirror tickets by state.", ["state"]),
    "events": ("dq_gateway_events", "Recorded webhook events by source and type.", ["source", "type"]),
    "sla": ("dq_gateway_sla_breaches", "Tickets whose SLA timer was breached, by timer.", ["timer"]),
}


class _FromTheLog(Collector):
    def __init__(self, runtime: Runtime, dispatcher: Callable[[], Dispatcher | None]) -> None:
        self.runtime, self.dispatcher = runtime, dispatcher

    def collect(self) -> Iterator[Metric]:
        mirror = self.runtime.mirror
        for key, values in {**mirror.gauges(), "sla": mirror.sla_breach_counts()}.items():
            name, text, labels = _GAUGES[key]
            gauge = GaugeMetricFamily(name, text, labels=labels)
            for label_values, count in sorted(values.items()):
                gauge.add_metric(list(label_values), count)
            yield gauge
        up = GaugeMetricFamily("dq_gateway_redis_up", "Whether the queue's Redis answers.")
        found = self.dispatcher()
        up.add_metric([], int(found is not None and found.healthy()))
        yield up
        finished = CounterMetricFamily(
            "dq_gateway_executions_finished",
            "Executions finished, by action, target and outcome (from the execution log).",
            labels=["action", "target", "outcome"],
        )
        for label_values, count in sorted(measures.finished(mirror).items()):
            finished.add_metric(list(label_values), count)
        yield finished
        yield _histogram(
            "dq_gateway_execution_latency_seconds",
            "Webhook accepted to execution finished, per action and target.",
            ["action", "target"],
            measures.latency(mirror),
        )
        yield _histogram(
            "dq_gateway_connector_call_seconds",
            "One call to a tracker or chat (every attempt), per action and target.",
            ["action", "target"],
            measures.connector_calls(mirror),
        )
        yield _histogram(
            "dq_gateway_queue_wait_seconds",
            "Webhook accepted to a worker's first attempt, per action.",
            ["action"],
            measures.queue_wait(mirror),
        )


def _histogram(name: str, text: str, labels: list[str], series: measures.Series) -> Metric:
    family = HistogramMetricFamily(name, text, labels=labels)
    for label_values, (buckets, total) in sorted(series.items()):
        family.add_metric(list(label_values), buckets, total)
    return family


class Metrics:
    """One registry per app (tests run several apps in a process)."""

    def __init__(self, runtime: Runtime, dispatcher: Callable[[], Dispatcher | None]) -> None:
        self.runtime = runtime
        self.registry = CollectorRegistry(auto_describe=False)
        self.webhooks = Counter(
            "dq_gateway_webhooks",
            "Webhook deliveries answered, by source and HTTP status (refused ones too).",
            ["source", "status"],
            registry=self.registry,
        )
        self.registry.register(_FromTheLog(runtime, dispatcher))
        self._children: dict[tuple[str, int], Any] = {}  # labels() builds and looks up a key each call

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def answered(self, path: str, status: int, seconds: float) -> None:
        name = path[len(WEBHOOKS) :].strip("/")
        source = name if name in self.runtime.mappings.sources else "unknown"  # no label per typo'd URL
        child = self._children.get((source, status))
        if child is None:
            child = self._children[source, status] = self.webhooks.labels(source, str(status))
        child.inc()
        if status >= 400:
            log.warning(
                "webhook %s refused: HTTP %s in %.1f ms",
                name,
                status,
                seconds * 1000,
                extra={"source": name, "status": status, "duration_ms": round(seconds * 1000, 1)},
            )


def count_webhooks(app: ASGIApp) -> ASGIApp:
    """Outermost middleware: every answer to a webhook, including refusals raised before its handler."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not str(scope.get("path", "")).startswith(WEBHOOKS):
            await app(scope, receive, send)
            return
        started, status = time.monotonic(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await app(scope, receive, sending)
        finally:
            metrics: Metrics | None = getattr(scope["app"].state, "metrics", None)
            if metrics is not None:
                metrics.answered(str(scope["path"]), status, time.monotonic() - started)

    return middleware
