"""`qualytics`: a Qualytics flow action; one event per entry of `context.anomalies`."""

from __future__ import annotations

import msgspec

from gateway.core.errors import InvalidPayload
from gateway.core.models import Event, EventType, Ignored, Parsed
from gateway.receive.security import check_secret
from gateway.receive.sources.base import (
    Delivery,
    SourceAdapter,
    SourceConfig,
    body_hash,
    convert,
    decode_json,
    lookup_word,
    normalise_severity,
)

TRIGGERS: dict[str, EventType] = {"anomaly": "anomaly", "anomaly status change": "anomaly_status_change"}
# Qualytics' anomaly statuses, folded by `word`: flows look the canonical spelling up in value maps.
STATUSES = {
    "active": "Active",
    "acknowledged": "Acknowledged",
    "resolved": "Resolved",
    "invalid": "Invalid",
    "duplicate": "Duplicate",
}


class _Named(msgspec.Struct, kw_only=True):
    id: int | str | None = None
    name: str = ""


class _Trigger(msgspec.Struct, kw_only=True):
    type: str
    timestamp: str | None = None


class _Anomaly(msgspec.Struct, kw_only=True):
    id: int | str
    type: str = ""
    description: str = ""
    container: str = ""
    field: str = ""
    status: str | None = None
    previous_status: str | None = None
    severity: str | None = None
    weight: float | None = None
    tags: list[str] = msgspec.field(default_factory=list)
    url: str = ""
    quality_check_id: int | str | None = None
    created_at: str | None = None


class _Check(msgspec.Struct, kw_only=True):
    id: int | str | None = None
    name: str = ""
    status: str = ""


class _Context(msgspec.Struct, kw_only=True):
    anomalies: list[_Anomaly]
    quality_checks: list[_Check] = msgspec.field(default_factory=list)


class _Payload(msgspec.Struct, kw_only=True):
    trigger: _Trigger
    context: _Context
    datastore: _Named = msgspec.field(default_factory=_Named)
    flow: _Named = msgspec.field(default_factory=_Named)
    target_link: str = ""


def verify(config: SourceConfig, delivery: Delivery) -> None:
    if config.secret:
        check_secret(delivery.headers, "X-Qualytics-Secret", config.secret)


def _check_names(checks: list[_Check]) -> dict[str, str]:
    """Check names by id, built once per delivery (a scan per anomaly is quadratic)."""
    names: dict[str, str] = {}
    for check in checks:
        names.setdefault(str(check.id), check.name)
    return names


def _check_name(anomaly: _Anomaly, checks: list[_Check], names: dict[str, str]) -> str:
    if anomaly.quality_check_id is not None and str(anomaly.quality_check_id) in names:
        return names[str(anomaly.quality_check_id)]
    if len(checks) == 1 and checks[0].name:
        return checks[0].name
    return anomaly.type


def parse(config: SourceConfig, delivery: Delivery) -> Parsed:
    raw = decode_json(delivery.body)
    payload = convert(raw, _Payload, "qualytics payload", body=delivery.body)
    event_type = TRIGGERS.get(payload.trigger.type.strip().lower())
    if event_type is None:
        return Parsed(ignored=[Ignored(reason=f"qualytics trigger type {payload.trigger.type!r} is not ticketed")])
    raw_anomalies = raw["context"]["anomalies"]
    parsed = Parsed()
    names = _check_names(payload.context.quality_checks)
    for anomaly, raw_anomaly in zip(payload.context.anomalies, raw_anomalies, strict=True):
        anomaly_id = str(anomaly.id)
        event_id = body_hash(delivery.body, anomaly_id)
        if event_type == "anomaly_status_change" and not anomaly.status:
            raise InvalidPayload(f"anomaly {anomaly_id}: an 'Anomaly Status Change' needs the anomaly's status")
        # Flows look the status up in value maps by the canonical spelling, so 'resolved' must become 'Resolved'.
        status = lookup_word(anomaly.status, STATUSES)
        if status is None and event_type == "anomaly_status_change":
            reason = f"qualytics anomaly {anomaly_id}: status {anomaly.status!r} is not known"
            parsed.ignored.append(Ignored(reason=reason, event_id=event_id))
            continue
        parsed.events.append(
            Event(
                event_id=event_id,
                event_type=event_type,
                anomaly_id=anomaly_id,
                source=delivery.source,
                status=status or "Active",
                previous_status=lookup_word(anomaly.previous_status, STATUSES) or anomaly.previous_status,
                severity=normalise_severity(anomaly.severity, {}, config.defaults.severity),
                raw_severity=anomaly.severity,
                title=anomaly.description or anomaly.type,
                description=anomaly.description,
                url=anomaly.url or payload.target_link,
                datastore=payload.datastore.name,
                container=anomaly.container,
                field=anomaly.field,
                check=_check_name(anomaly, payload.context.quality_checks, names),
                weight=anomaly.weight,
                occurred_at=anomaly.created_at or payload.trigger.timestamp,
                tags=anomaly.tags,
                attributes={"raw_status": anomaly.status, "anomaly_type": anomaly.type, "flow": payload.flow.name},
                raw=raw_anomaly,
            )
        )
    if not payload.context.anomalies:  # answered, recorded and said, not a silent empty 200
        parsed.ignored.append(Ignored(reason="qualytics posted no anomalies"))
    return parsed


ADAPTER = SourceAdapter(kind="qualytics", auth_keys=("secret",), verify=verify, parse=parse)
