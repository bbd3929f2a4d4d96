"""`dbt_cloud`: dbt Cloud job webhooks; an errored run is an anomaly of its job in its environment."""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.core.models import Event, Ignored, Parsed
from gateway.receive.security import hmac_hex, require_header
from gateway.receive.sources.base import (
    Delivery,
    SourceAdapter,
    SourceConfig,
    check_signature,
    convert,
    decode_json,
    word,
)

ERRORED = ("error", "errored", "failed", "failure")
SUCCEEDED = ("success", "succeeded", "successful")


class _Run(msgspec.Struct, kw_only=True):
    jobId: str | int
    runId: str | int
    environmentId: str | int
    runStatus: str
    jobName: str = ""
    environmentName: str = ""
    projectName: str = ""
    dbtVersion: str = ""
    runReason: str = ""
    runStatusMessage: str = ""
    runStartedAt: str | None = None
    runErroredAt: str | None = None
    runFinishedAt: str | None = None


class _Payload(msgspec.Struct, kw_only=True):
    eventType: str
    data: _Run
    accountId: str | int | None = None
    eventId: str = ""
    timestamp: str | None = None
    webhookName: str = ""


def verify(config: SourceConfig, delivery: Delivery) -> None:
    """`Authorization: <hex HMAC-SHA256 of the raw body>`, keyed with the webhook's secret token."""
    if not config.secret:
        return
    given = require_header(delivery.headers, "Authorization")
    check_signature(given, [hmac_hex(config.secret, delivery.body)], "Authorization")


def _outcome(body: _Payload) -> str | None:
    """'errored' or 'success' for the run, whichever event reported it; None for anything else."""
    event, status = word(body.eventType), word(body.data.runStatus)
    if event == "jobrunerrored" or (event == "jobruncompleted" and status in ERRORED):
        return "errored"
    if event == "jobruncompleted" and status in SUCCEEDED:
        return "success"
    return None


def _attributes(body: _Payload) -> dict[str, Any]:
    run = body.data
    return {
        "raw_status": run.runStatus,
        "dbt_event_type": body.eventType,
        "dbt_event_id": body.eventId,
        "account_id": body.accountId,
        "job_id": str(run.jobId),
        "job_name": run.jobName,
        "run_id": str(run.runId),
        "environment_id": str(run.environmentId),
        "environment_name": run.environmentName,
        "project_name": run.projectName,
        "dbt_version": run.dbtVersion,
        "run_reason": run.runReason,
        "run_started_at": run.runStartedAt,
        "webhook_name": body.webhookName,
    }


def parse(config: SourceConfig, delivery: Delivery) -> Parsed:
    raw = decode_json(delivery.body)
    body = convert(raw, _Payload, "dbt cloud payload", body=delivery.body)
    run = body.data
    outcome = _outcome(body)
    if outcome is None:
        reason = f"dbt cloud {body.eventType} with runStatus {run.runStatus!r} is not ticketed"
        return Parsed(ignored=[Ignored(reason=reason, event_id=body.eventId or None)])
    errored = outcome == "errored"
    # dbt sends job.run.errored and job.run.completed for one failed run: one event id for both.
    event = Event(
        event_id=f"{run.runId}:{outcome}",
        event_type="anomaly" if errored else "anomaly_status_change",
        anomaly_id=f"job:{run.jobId}:env:{run.environmentId}",
        source=delivery.source,
        status="Active" if errored else "Resolved",
        severity=config.defaults.severity,
        title=f"dbt Cloud job {run.jobName or run.jobId} {'errored' if errored else 'succeeded'}"
        f" in {run.environmentName or run.environmentId}",
        description=run.runStatusMessage if run.runStatusMessage not in ("", "None") else run.runReason,
        datastore=run.projectName,
        container=run.environmentName,
        check=run.jobName,
        occurred_at=run.runErroredAt or run.runFinishedAt or body.timestamp,
        attributes=_attributes(body),
        raw=raw,
    )
    return Parsed(events=[event])


ADAPTER = SourceAdapter(kind="dbt_cloud", auth_keys=("secret",), verify=verify, parse=parse)
