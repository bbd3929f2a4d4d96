"""A loopback PagerDuty Events API v2 (`POST /v2/enqueue`) that checks the documented request shape.

It answers as PagerDuty does: 202 `{"status": "success", "message": "Event processed", "dedup_key"}`
for a valid event, 400 `{"status": "invalid event", "message": "Event object is invalid", "errors": [...]}`
otherwise. Checked: `routing_key` a 32-character string; `event_action` one of trigger, acknowledge,
resolve; `dedup_key` at most 255 characters and required to acknowledge or resolve; on trigger
`payload.summary` (at most 1024), `payload.source` and `payload.severity` (critical, error,
warning, info) required; `links` items need `href`. Alerts are kept per dedup_key, as PagerDuty
dedupes them. The base server's faults make it answer 429 (throttled) or 5xx.
"""

from __future__ import annotations

import uuid
from typing import Any

from connectors.emulators.base import Emulator, Request, Response

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
STATUS_AFTER = {"trigger": "triggered", "acknowledge": "acknowledged", "resolve": "resolved"}


class PagerDutyEmulator(Emulator):
    name = "pagerduty"

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []
        self.alerts: dict[str, dict[str, Any]] = {}
        self.route("POST", "/v2/enqueue", self.enqueue)

    def authenticate(self, request: Request) -> str:
        return ""  # the routing key in the body is the credential

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self.events.clear()
            self.alerts.clear()

    def state(self) -> Any:
        return {"events": self.events, "alerts": self.alerts}

    def fault_body(self, status: int) -> Any:
        if status == 429:
            return {"status": "throttle event", "message": "Requests for this service are arriving too quickly."}
        return {"status": "error", "message": f"injected fault {status}"}

    def enqueue(self, request: Request) -> Response:
        try:
            event = request.json()
        except ValueError:
            return _invalid(["Body is not valid JSON"])
        if not isinstance(event, dict):
            return _invalid(["Event must be a JSON object"])
        errors = _problems(event)
        if errors:
            return _invalid(errors)
        action = event["event_action"]
        key = str(event.get("dedup_key") or uuid.uuid4().hex)
        self.events.append(event)
        alert = self.alerts.get(key)
        if action == "trigger":
            if alert is None or alert["status"] == "resolved":
                alert = self.alerts[key] = {"status": "triggered", "events": 0}
            alert["summary"] = event["payload"]["summary"]
            alert["severity"] = event["payload"]["severity"]
        if alert is not None:  # acknowledging or resolving an unknown key is accepted and does nothing
            alert["status"] = STATUS_AFTER[action] if action != "trigger" else alert["status"]
            alert["events"] += 1
        return Response(202, {"status": "success", "message": "Event processed", "dedup_key": key})


def _problems(event: dict[str, Any]) -> list[str]:
    errors = []
    key = event.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = event.get("event_action")
    if action not in ACTIONS:
        errors.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
    dedup = event.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup:
        errors.append("'dedup_key' is required for acknowledge and resolve events")
    if action == "trigger":
        errors += _payload_problems(event.get("payload"))
    for link in event.get("links") or []:
        if not isinstance(link, dict) or not isinstance(link.get("href"), str):
            errors.append("each of 'links' needs 'href'")
    return errors


def _payload_problems(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is missing or not an object"]
    errors = []
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary:
        errors.append("'payload.summary' is missing or blank")
    elif len(summary) > 1024:
        errors.append("'payload.summary' is longer than 1024 characters")
    if not isinstance(payload.get("source"), str) or not payload.get("source"):
        errors.append("'payload.source' is missing or blank")
    if payload.get("severity") not in SEVERITIES:
        errors.append("'payload.severity' is invalid (must be one of critical, error, warning, info)")
    return errors


def _invalid(errors: list[str]) -> Response:
    return Response(400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors})
