"""`great_expectations`: the body of GX's APINotificationAction; each failed expectation is an anomaly."""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.core.errors import InvalidPayload
from gateway.core.models import Event, Ignored, Parsed, Severity
from gateway.receive.sources.base import (
    Delivery,
    SourceAdapter,
    SourceConfig,
    body_hash,
    convert,
    decode_json,
    iso_from_epoch,
    normalise_severity,
    verify_token_or_basic,
)

# GX 1.x expectations may carry a severity (critical / warning / info).
SEVERITIES: dict[str, Severity] = {"warning": "medium", "error": "high"}
COLUMN_KWARGS = ("column", "column_A", "column_B", "column_list")


class _Config(msgspec.Struct, kw_only=True):
    type: str | None = None  # GX 1.x
    expectation_type: str | None = None  # GX 0.x
    kwargs: dict[str, Any] = msgspec.field(default_factory=dict)
    meta: dict[str, Any] = msgspec.field(default_factory=dict)
    severity: str | None = None
    id: str | None = None

    @property
    def name(self) -> str:
        return self.type or self.expectation_type or ""


class _Result(msgspec.Struct, kw_only=True):
    success: bool
    expectation_config: _Config
    result: dict[str, Any] = msgspec.field(default_factory=dict)


class _Notification(msgspec.Struct, kw_only=True):
    test_suite_name: str
    data_asset_name: Any = None
    validation_results: Any = msgspec.field(default_factory=list)


def verify(config: SourceConfig, delivery: Delivery) -> None:
    """GX signs nothing (it only sets Content-Type): a token header is the whole check."""
    verify_token_or_basic(config, delivery)


def _column(kwargs: dict[str, Any]) -> str:
    """The column(s) an expectation is about, as one string: it is part of the anomaly's identity."""
    for key in COLUMN_KWARGS:
        value = kwargs.get(key)
        if value:
            return ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return ""


def _results(raw: Any, where: str) -> list[Any]:
    """Expectation results: GX posts a list; a whole suite result (`{"results": [...]}`) works too."""
    if isinstance(raw, dict) and "results" in raw:
        raw = raw["results"]
    if not isinstance(raw, list):
        raise InvalidPayload(f"{where}: `validation_results` must be a list of expectation results")
    return raw


def _event(config: SourceConfig, delivery: Delivery, note: _Notification, result: _Result, raw: Any) -> Event:
    expectation = result.expectation_config
    asset = "" if note.data_asset_name is None else str(note.data_asset_name)
    column = _column(expectation.kwargs)
    anomaly_id = ":".join(part for part in (note.test_suite_name, asset, expectation.name, column) if part)
    raw_severity = expectation.severity or expectation.meta.get("severity")
    return Event(
        event_id=body_hash(delivery.body, anomaly_id),
        event_type="anomaly_status_change" if result.success else "anomaly",
        anomaly_id=anomaly_id,
        source=delivery.source,
        status="Resolved" if result.success else "Active",
        severity=normalise_severity(raw_severity, SEVERITIES, config.defaults.severity),
        raw_severity=None if raw_severity is None else str(raw_severity),
        title=f"{expectation.name} {'passed' if result.success else 'failed'} on {asset or 'data asset'}",
        description=str(expectation.meta.get("notes", "")),
        container=asset,
        field=column,
        check=expectation.name,
        occurred_at=iso_from_epoch(delivery.received_at),
        attributes={
            "raw_status": "success" if result.success else "failure",
            "suite": note.test_suite_name,
            "expectation_id": expectation.id,
            "kwargs": expectation.kwargs,
            "result": result.result,
        },
        raw=raw,
    )


def _notification(config: SourceConfig, delivery: Delivery, raw: Any, where: str) -> list[Event]:
    note = convert(raw, _Notification, where)
    raw_results = _results(note.validation_results, where)
    results = convert(raw_results, list[_Result], f"{where}.validation_results")
    return [_event(config, delivery, note, r, raw_r) for r, raw_r in zip(results, raw_results, strict=True)]


def parse(config: SourceConfig, delivery: Delivery) -> Parsed:
    raw = decode_json(delivery.body)
    notes = raw if isinstance(raw, list) else [raw]
    parsed = Parsed()
    for index, note in enumerate(notes):
        where = "great expectations notification" + (f" {index}" if isinstance(raw, list) else "")
        parsed.events.extend(_notification(config, delivery, note, where))
    if not parsed.events:
        parsed.ignored.append(Ignored(reason="great expectations posted no expectation results"))
    return parsed


ADAPTER = SourceAdapter(kind="great_expectations", auth_keys=("token",), verify=verify, parse=parse)
