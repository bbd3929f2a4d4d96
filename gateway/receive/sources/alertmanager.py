"""`alertmanager`: Prometheus Alertmanager's webhook (version 4); each alert is an anomaly."""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.core.models import Event, Ignored, Parsed, Severity
from gateway.receive.sources.base import (
    Delivery,
    SourceAdapter,
    SourceConfig,
    convert,
    decode_json,
    normalise_severity,
    verify_token_or_basic,
    word,
)

SEVERITIES: dict[str, Severity] = {
    "page": "critical",
    "error": "high",
    "major": "high",
    "warning": "medium",
    "warn": "medium",
    "minor": "low",
    "none": "info",
}
ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time: what Alertmanager sends for "no end yet"
FNV_OFFSET, FNV_PRIME, MASK64 = 14695981039346656037, 1099511628211, (1 << 64) - 1


class _Alert(msgspec.Struct, kw_only=True):
    status: str | None = None
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    annotations: dict[str, str] = msgspec.field(default_factory=dict)
    startsAt: str | None = None
    endsAt: str | None = None
    generatorURL: str = ""
    fingerprint: str | None = None


class _Payload(msgspec.Struct, kw_only=True):
    alerts: list[_Alert]
    status: str = ""
    receiver: str = ""
    version: str = ""
    groupKey: str = ""
    externalURL: str = ""
    truncatedAlerts: int = 0
    groupLabels: dict[str, str] = msgspec.field(default_factory=dict)
    commonLabels: dict[str, str] = msgspec.field(default_factory=dict)


def verify(config: SourceConfig, delivery: Delivery) -> None:
    """Basic or bearer auth, as Alertmanager's `http_config` sends it (it signs nothing)."""
    verify_token_or_basic(config, delivery)


def label_fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's own fingerprint of a label set (prometheus/common: FNV-1a 64 over sorted labels).

    Used when a payload lacks `fingerprint`, so the anomaly id matches what Alertmanager would send.
    """
    digest = FNV_OFFSET
    for name in sorted(labels):
        for chunk in (name.encode(), b"\xff", labels[name].encode(), b"\xff"):
            for byte in chunk:
                digest = ((digest ^ byte) * FNV_PRIME) & MASK64
    return f"{digest:016x}"


def _time(value: str | None) -> str:
    return "" if not value or value == ZERO_TIME else value


def _event(config: SourceConfig, delivery: Delivery, group: _Payload, alert: _Alert, raw: Any) -> Event:
    fingerprint = alert.fingerprint or label_fingerprint(alert.labels)
    status = alert.status or group.status
    resolved = word(status) == "resolved"
    starts, ends = _time(alert.startsAt), _time(alert.endsAt)
    # No delivery id, and a whole group is re-sent when one alert changes: an unchanged alert
    # must get the same event id again (a duplicate), a new firing period a new one.
    event_id = f"{fingerprint}:{'resolved' if resolved else 'firing'}:{starts}" + (f":{ends}" if resolved else "")
    labels, notes = alert.labels, alert.annotations
    severity = labels.get("severity")
    return Event(
        event_id=event_id,
        event_type="anomaly_status_change" if resolved else "anomaly",
        anomaly_id=fingerprint,
        source=delivery.source,
        status="Resolved" if resolved else "Active",
        severity=normalise_severity(severity, SEVERITIES, config.defaults.severity),
        raw_severity=severity,
        title=notes.get("summary") or notes.get("title") or labels.get("alertname", fingerprint),
        description=notes.get("description") or notes.get("message", ""),
        url=alert.generatorURL,
        datastore=labels.get("datastore") or labels.get("instance", ""),
        container=labels.get("container") or labels.get("job", ""),
        field=labels.get("field", ""),
        check=labels.get("alertname", ""),
        occurred_at=(ends if resolved else starts) or None,
        tags=[f"{name}={value}" for name, value in sorted(labels.items())],
        attributes={
            "raw_status": status,
            "labels": labels,
            "annotations": notes,
            "starts_at": starts or None,
            "ends_at": ends or None,
            "receiver": group.receiver,
            "group_key": group.groupKey,
            "external_url": group.externalURL,
            "fingerprint_derived": alert.fingerprint is None,
        },
        raw=raw,
    )


def parse(config: SourceConfig, delivery: Delivery) -> Parsed:
    raw = decode_json(delivery.body)
    group = convert(raw, _Payload, "alertmanager payload", body=delivery.body)
    parsed = Parsed()
    for alert, raw_alert in zip(group.alerts, raw["alerts"], strict=True):
        parsed.events.append(_event(config, delivery, group, alert, raw_alert))
    if not parsed.events:
        parsed.ignored.append(Ignored(reason="alertmanager group has no alerts"))
    if group.truncatedAlerts:
        parsed.ignored.append(Ignored(reason=f"alertmanager truncated {group.truncatedAlerts} alerts"))
    return parsed


ADAPTER = SourceAdapter(kind="alertmanager", auth_keys=("token", "basic"), verify=verify, parse=parse)
