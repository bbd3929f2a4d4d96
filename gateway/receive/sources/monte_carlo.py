"""`monte_carlo`: Monte Carlo alert (incident) webhooks, signed with HMAC-SHA512 in `x-mcd-signature`."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import msgspec

from gateway.core.errors import Unauthorized
from gateway.core.models import Event, Ignored, Parsed, Severity
from gateway.receive.security import hmac_hex, require_header, same
from gateway.receive.sources.base import (
    Delivery,
    SourceAdapter,
    SourceConfig,
    body_hash,
    convert,
    decode_json,
    iso_from_epoch,
    lookup_word,
    normalise_severity,
    word,
)

# `alert_feedback` values (folded by `word`): how far somebody has got with the alert.
FEEDBACK = {
    "nostatus": "Active",
    "investigating": "Acknowledged",
    "workinprogress": "Acknowledged",
    "fixed": "Resolved",
    "noactionneeded": "Resolved",
    "expected": "Invalid",
    "falsepositive": "Invalid",
}
SEVERITIES: dict[str, Severity] = {"sev1": "critical", "sev2": "high", "sev3": "medium", "sev4": "low"}


class _Rule(msgspec.Struct, kw_only=True):
    uuid: str | None = None
    description: str | None = None
    rule_type: str | None = None


class _Incident(msgspec.Struct, kw_only=True):
    incident_id: str
    url: str = ""
    group_id: str | None = None
    event_list: list[dict[str, Any]] = msgspec.field(default_factory=list)
    rule: _Rule | None = None
    alert_feedback: str | None = None
    declared_alert_severity: str | None = None
    owner: str | None = None


class _Payload(msgspec.Struct, kw_only=True):
    type: str = ""
    payload: _Incident
    action: str = ""
    version: str = ""
    # Monte Carlo documents its update fields in a table, not a sample: read them at either level.
    alert_feedback: str | None = None
    declared_alert_severity: str | None = None
    owner: str | None = None


DOCUMENTED_FORM_MAX_BYTES = 64 * 1024  # re-parsing before the signature is known costs CPU: small bodies only


def _documented_form(body: bytes) -> bytes | None:
    """The bytes Monte Carlo's documented verifier signs: `urlencode(json.loads(body))`."""
    try:
        data = json.loads(body)
        return urllib.parse.urlencode(data).encode() if isinstance(data, dict) else None
    except (ValueError, RecursionError):  # not JSON, too deep, or a lone surrogate that cannot be encoded
        return None


def verify(config: SourceConfig, delivery: Delivery) -> None:
    """Hex HMAC-SHA512 with the shared secret, of the raw body or of its documented url-encoded form.

    The raw body is checked first, as every other signer here signs the bytes sent. Monte Carlo's
    own example verifier hashes `urlencode(json.loads(body))`, so that form is accepted too, but
    only for bodies under DOCUMENTED_FORM_MAX_BYTES; a delivery accepted that way keeps the signed
    form in `delivery.signed`, so its event id does not change when the JSON is re-serialised.
    """
    if not config.secret:
        return
    given = require_header(delivery.headers, "x-mcd-signature").strip()
    if same(given, hmac_hex(config.secret, delivery.body, "sha512")):
        return
    documented = _documented_form(delivery.body) if len(delivery.body) <= DOCUMENTED_FORM_MAX_BYTES else None
    if documented is None or not same(given, hmac_hex(config.secret, documented, "sha512")):
        raise Unauthorized("x-mcd-signature does not match the body", code="bad_signature")
    delivery.signed = documented


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _event(config: SourceConfig, delivery: Delivery, body: _Payload, raw: dict[str, Any]) -> Event | Ignored:
    incident = body.payload
    event_id = body_hash(delivery.signed or delivery.body, incident.incident_id)
    feedback = body.alert_feedback or incident.alert_feedback
    opened = word(body.type).startswith("open")
    status = lookup_word(feedback, FEEDBACK) if feedback else ("Active" if opened else None)
    if status is None:
        reason = (
            f"monte carlo alert_feedback {feedback!r} is not known"
            if feedback
            else f"monte carlo {body.type!r} carries no status change"
        )
        return Ignored(reason=reason, event_id=event_id)
    first = _as_dict(incident.event_list[0] if incident.event_list else None)
    data = _as_dict(first.get("data"))
    # The rule sits in `payload` or in the first event, depending on the alert type.
    rule = incident.rule or convert(_as_dict(first.get("rule")), _Rule, "monte carlo payload.event_list[0].rule")
    severity = body.declared_alert_severity or incident.declared_alert_severity
    return Event(
        event_id=event_id,
        event_type="anomaly" if opened and not feedback else "anomaly_status_change",
        anomaly_id=incident.incident_id,
        source=delivery.source,
        status=status,
        severity=normalise_severity(word(severity) if severity else None, SEVERITIES, config.defaults.severity),
        raw_severity=severity,
        title=rule.description or _text(first.get("event_details")) or f"Monte Carlo alert {incident.incident_id}",
        description=_text(first.get("event_details")) or _text(rule.description),
        url=incident.url,
        datastore=_text(first.get("warehouse_name")),
        container=_text(first.get("table_name") or first.get("full_table_id")),
        field=_text(first.get("field")),
        check=rule.rule_type or _text(data.get("metric_display_name")) or body.type,
        occurred_at=iso_from_epoch(delivery.received_at),
        attributes={
            "raw_status": feedback,
            "mc_type": body.type,
            "group_id": incident.group_id,
            "owner": body.owner or incident.owner,
            "rule_uuid": rule.uuid,
        },
        raw=raw,
    )


def parse(config: SourceConfig, delivery: Delivery) -> Parsed:
    raw = decode_json(delivery.body)
    body = convert(raw, _Payload, "monte carlo payload", body=delivery.body)
    item = _event(config, delivery, body, raw)
    return Parsed(events=[item]) if isinstance(item, Event) else Parsed(ignored=[item])


ADAPTER = SourceAdapter(kind="monte_carlo", auth_keys=("secret",), verify=verify, parse=parse)
