"""`great_expectations`: what GatewayAction or the stock APINotificationAction posts; failed expectations are anomalies.

The anomaly id leaves the batch's partition out by default (suite, data asset, expectation,
column), so February passing resolves January's ticket; a source's `anomaly_id:` template
chooses another identity from IDENTITY_PARTS.
"""

from __future__ import annotations

import re
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
IDENTITY_PARTS = ("suite", "datasource", "asset", "batch", "expectation", "column")
# GX's batch id is "{datasource}-{asset}" plus "-{key}_{value}" per batch parameter (the partition).
_PARTITION = re.compile(r"[A-Za-z][A-Za-z0-9]*_.+")  # one `key_value` part of a batch id


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
    datasource_name: str | None = None  # GatewayAction sends these four; the stock action does not
    batch_id: str | None = None
    batch_parameters: dict[str, Any] = msgspec.field(default_factory=dict)
    run_time: str | None = None
    validation_results: Any = msgspec.field(default_factory=list)

    def asset_and_batch(self) -> tuple[str, str]:
        """The data asset without the partition, and the whole batch id.

        The stock action sends only the batch id as `data_asset_name`: its trailing
        `-key_value` parts (after datasource and asset) are the partition.
        """
        given = "" if self.data_asset_name is None else str(self.data_asset_name)
        if self.batch_id is not None:
            return given, self.batch_id
        parts = given.split("-")  # once: a long id is not searched again per part (that was quadratic)
        while len(parts) > 2 and _PARTITION.fullmatch(parts[-1]):
            parts.pop()
        return "-".join(parts), given


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


def anomaly_id(config: SourceConfig, parts: dict[str, str]) -> str:
    """The source's `anomaly_id:` template over `parts`, or suite:asset:expectation[:column]."""
    if config.anomaly_id:
        return config.anomaly_id.format(**parts)
    return ":".join(parts[name] for name in ("suite", "asset", "expectation", "column") if parts[name])


def _description(note: _Notification, expectation: _Config, result: _Result, asset: str, batch: str) -> str:
    """What failed, on which rows: GX's own notes first, then its counts."""
    lines = [str(expectation.meta["notes"])] if expectation.meta.get("notes") else []
    counts = result.result
    if "unexpected_count" in counts and "element_count" in counts:
        percent = counts.get("unexpected_percent")
        share = f" ({float(percent):.1f}%)" if isinstance(percent, int | float) else ""
        lines.append(f"{counts['unexpected_count']} of {counts['element_count']} rows unexpected{share}.")
    elif "observed_value" in counts:
        lines.append(f"Observed value: {counts['observed_value']}.")
    shown = {k: v for k, v in expectation.kwargs.items() if k != "batch_id"}
    lines.append(f"Expectation: {expectation.name}({', '.join(f'{k}={v!r}' for k, v in shown.items())})")
    lines.append(f"Suite {note.test_suite_name}, data asset {asset or '-'}, batch {batch or '-'}.")
    return "\n".join(lines)


def _event(config: SourceConfig, delivery: Delivery, note: _Notification, result: _Result, raw: Any) -> Event:
    expectation = result.expectation_config
    asset, batch = note.asset_and_batch()
    column = _column(expectation.kwargs)
    parts = {
        "suite": note.test_suite_name,
        "datasource": note.datasource_name or "",
        "asset": asset,
        "batch": batch,
        "expectation": expectation.name,
        "column": column,
    }
    raw_severity = expectation.severity or expectation.meta.get("severity")
    identity = anomaly_id(config, parts)
    on = f"{asset or 'data asset'}.{column}" if column else (asset or "data asset")
    return Event(
        event_id=body_hash(delivery.body, identity),
        event_type="anomaly_status_change" if result.success else "anomaly",
        anomaly_id=identity,
        source=delivery.source,
        status="Resolved" if result.success else "Active",
        severity=normalise_severity(raw_severity, SEVERITIES, config.defaults.severity),
        raw_severity=None if raw_severity is None else str(raw_severity),
        title=f"{expectation.name} {'passed' if result.success else 'failed'} on {on}",
        description=_description(note, expectation, result, asset, batch),
        container=asset,
        field=column,
        check=expectation.name,
        occurred_at=iso_from_epoch(delivery.received_at),
        attributes={
            "raw_status": "success" if result.success else "failure",
            "suite": note.test_suite_name,
            "datasource": note.datasource_name,
            "batch": batch,
            "partition": {k: str(v) for k, v in note.batch_parameters.items()},
            "expectation_id": expectation.id,
            "kwargs": expectation.kwargs,
            "result": result.result,
        },
        raw=raw,
    )


def _notification(config: SourceConfig, delivery: Delivery, raw: Any, where: str) -> list[Event]:
    note = convert(raw, _Notification, where, body=delivery.body)
    raw_results = _results(note.validation_results, where)
    results = convert(raw_results, list[_Result], f"{where}.validation_results", body=delivery.body)
    return [_event(config, delivery, note, r, raw_r) for r, raw_r in zip(results, raw_results, strict=True)]


def _one_per_anomaly(events: list[Event]) -> list[Event]:
    """Results sharing an anomaly id in one delivery share its event id (body + anomaly id), so they are one
    event, and a failure wins: a passing sibling listed first (the same expectation type on the same column
    with other arguments, or another partition) took the id and the failure was dropped as its duplicate."""
    chosen: dict[str, Event] = {}
    for event in events:
        kept = chosen.get(event.anomaly_id)
        if kept is None or (kept.event_type != "anomaly" and event.event_type == "anomaly"):
            chosen[event.anomaly_id] = event
    return list(chosen.values())


def parse(config: SourceConfig, delivery: Delivery) -> Parsed:
    raw = decode_json(delivery.body)
    notes = raw if isinstance(raw, list) else [raw]
    parsed = Parsed()
    for index, note in enumerate(notes):
        where = "great expectations notification" + (f" {index}" if isinstance(raw, list) else "")
        parsed.events.extend(_notification(config, delivery, note, where))
    parsed.events = _one_per_anomaly(parsed.events)
    if not parsed.events:
        parsed.ignored.append(Ignored(reason="great expectations posted no expectation results"))
    return parsed


ADAPTER = SourceAdapter(
    kind="great_expectations", auth_keys=("token",), verify=verify, parse=parse, identity_parts=IDENTITY_PARTS
)
