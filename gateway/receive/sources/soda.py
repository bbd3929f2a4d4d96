"""`soda`: Soda Cloud webhooks: incidents (incidentCreated/Updated) and check evaluations."""

from __future__ import annotations

from typing import Any, TypedDict

import msgspec

from gateway.core.models import Event, EventType, Ignored, Parsed, Severity
from gateway.receive.sources.base import (
    Delivery,
    SourceAdapter,
    SourceConfig,
    body_hash,
    convert,
    decode_json,
    lookup_word,
    normalise_severity,
    verify_token_or_basic,
    word,
)

# Keys are folded by `word`; Soda's spellings have drifted between versions (case, camelCase).
INCIDENT_STATUS = {
    "opened": "Active",
    "open": "Active",
    "reported": "Active",
    "investigating": "Acknowledged",
    "fixing": "Acknowledged",
    "inprogress": "Acknowledged",
    "resolved": "Resolved",
    "closed": "Resolved",
}
OUTCOMES = {
    "fail": "fail",
    "failed": "fail",
    "warn": "warn",
    "warning": "warn",
    "pass": "pass",
    "passed": "pass",
}
SEVERITIES: dict[str, Severity] = {"minor": "low", "major": "high", "critical": "critical"}


class _Named(msgspec.Struct, kw_only=True):
    id: str | None = None
    name: str = ""
    label: str = ""
    email: str = ""


class _Dataset(msgspec.Struct, kw_only=True):
    id: str | None = None
    name: str = ""
    label: str = ""
    tags: list[str] = msgspec.field(default_factory=list)
    datasource: _Named = msgspec.field(default_factory=_Named)


class _CheckResult(msgspec.Struct, kw_only=True):
    id: str
    outcome: str
    name: str = ""
    definition: str = ""
    sodaCloudUrl: str = ""
    column: str | None = None
    dataTimestamp: str | None = None
    datasets: list[_Dataset] = msgspec.field(default_factory=list)


class _Incident(msgspec.Struct, kw_only=True):
    id: str
    status: str
    number: int | None = None
    title: str = ""
    description: str = ""
    severity: str | None = None
    sodaCloudUrl: str = ""
    createdTimestamp: str | None = None
    lastUpdatedTimestamp: str | None = None
    resolutionNotes: str | None = None
    lead: _Named | None = None
    reporter: _Named | None = None
    links: list[dict[str, Any]] = msgspec.field(default_factory=list)
    checkResults: list[_CheckResult] = msgspec.field(default_factory=list)


class _IncidentEvent(msgspec.Struct, kw_only=True):
    incident: _Incident
    incidentLinkCallbackUrl: str | None = None


class _CheckEvaluation(msgspec.Struct, kw_only=True):
    checkResults: list[_CheckResult]


class _Envelope(msgspec.Struct, kw_only=True):
    event: str


def verify(config: SourceConfig, delivery: Delivery) -> None:
    """Soda signs nothing: the webhook's HTTP header carries our token (bearer or X-Gateway-Token)."""
    verify_token_or_basic(config, delivery)


class _Place(TypedDict, total=False):
    datastore: str
    container: str
    field: str
    check: str


def _where(check: _CheckResult | None) -> _Place:
    """Datastore, container, field and check of a check result (the first dataset names the place)."""
    if check is None:
        return {}
    dataset = check.datasets[0] if check.datasets else _Dataset()
    return {
        "datastore": dataset.datasource.name or dataset.datasource.label,
        "container": dataset.name or dataset.label,
        "field": check.column or "",
        "check": check.name or check.definition,
    }


def _incident_event(config: SourceConfig, delivery: Delivery, kind: str, raw: dict[str, Any]) -> Parsed:
    body = convert(raw, _IncidentEvent, f"soda {kind} payload", body=delivery.body)
    incident = body.incident
    status = lookup_word(incident.status, INCIDENT_STATUS)
    created = kind == "incidentcreated"
    event_id = body_hash(delivery.body, incident.id)
    if status is None and not created:
        return Parsed(
            ignored=[Ignored(reason=f"soda incident status {incident.status!r} is not known", event_id=event_id)]
        )
    status = status or "Active"
    event_type: EventType = "anomaly" if created and status != "Resolved" else "anomaly_status_change"
    first_check = incident.checkResults[0] if incident.checkResults else None
    attributes: dict[str, Any] = {
        "raw_status": incident.status,
        "soda_event": raw["event"],
        "number": incident.number,
        "lead": incident.lead.email if incident.lead else None,
        "reporter": incident.reporter.email if incident.reporter else None,
        "links": incident.links,
        "resolution_notes": incident.resolutionNotes,
        "check_ids": [check.id for check in incident.checkResults],
    }
    if body.incidentLinkCallbackUrl:
        attributes["link_callback_url"] = body.incidentLinkCallbackUrl
    event = Event(
        event_id=event_id,
        event_type=event_type,
        anomaly_id=incident.id,
        source=delivery.source,
        status=status,
        severity=normalise_severity(incident.severity, SEVERITIES, config.defaults.severity),
        raw_severity=incident.severity,
        title=incident.title or f"Soda incident {f'#{incident.number}' if incident.number else incident.id}",
        description=incident.description,
        url=incident.sodaCloudUrl,
        occurred_at=incident.createdTimestamp if created else incident.lastUpdatedTimestamp,
        attributes=attributes,
        raw=raw["incident"],
        **_where(first_check),
    )
    return Parsed(events=[event])


def _check_event(config: SourceConfig, delivery: Delivery, check: _CheckResult, raw: dict[str, Any]) -> Event | Ignored:
    """A failing or warning check is an anomaly keyed by its check id; a passing one resolves it."""
    event_id = body_hash(delivery.body, check.id)
    outcome = lookup_word(check.outcome, OUTCOMES)
    if outcome is None:
        return Ignored(reason=f"soda check {check.id}: outcome {check.outcome!r} is not ticketed", event_id=event_id)
    failing = outcome != "pass"
    return Event(
        event_id=event_id,
        event_type="anomaly" if failing else "anomaly_status_change",
        anomaly_id=check.id,
        source=delivery.source,
        status="Active" if failing else "Resolved",
        # Check results carry no severity: a warning ranks low, a failure takes the source's default.
        severity="low" if outcome == "warn" else config.defaults.severity,
        raw_severity=check.outcome,
        title=f"Soda check {outcome}: {check.name or check.definition}",
        description=check.definition,
        url=check.sodaCloudUrl,
        occurred_at=check.dataTimestamp,
        tags=sorted({tag for dataset in check.datasets for tag in dataset.tags}),
        attributes={"raw_status": check.outcome, "outcome": outcome, "soda_event": "checkEvaluation"},
        raw=raw,
        **_where(check),
    )


def _evaluation(config: SourceConfig, delivery: Delivery, raw: dict[str, Any]) -> Parsed:
    body = convert(raw, _CheckEvaluation, "soda checkEvaluation payload", body=delivery.body)
    parsed = Parsed()
    for check, raw_check in zip(body.checkResults, raw["checkResults"], strict=True):
        item = _check_event(config, delivery, check, raw_check)
        if isinstance(item, Event):
            parsed.events.append(item)
        else:
            parsed.ignored.append(item)
    if not body.checkResults:  # answered, recorded and said, not a silent empty 200
        parsed.ignored.append(Ignored(reason="soda checkEvaluation carries no check results"))
    return parsed


def parse(config: SourceConfig, delivery: Delivery) -> Parsed:
    raw = decode_json(delivery.body)
    kind = word(convert(raw, _Envelope, "soda payload").event)
    if kind == "validate":
        return Parsed(ignored=[Ignored(reason="validate ping", ping=True)])
    if kind in ("incidentcreated", "incidentupdated"):
        return _incident_event(config, delivery, kind, raw)
    if kind == "checkevaluation":
        return _evaluation(config, delivery, raw)
    return Parsed(ignored=[Ignored(reason=f"soda event {raw['event']!r} is not ticketed")])


ADAPTER = SourceAdapter(kind="soda", auth_keys=("token",), verify=verify, parse=parse, link_back_hosts=("*.soda.io",))
