"""`generic`: the canonical Event JSON itself, one object or a list, optionally HMAC-signed; an event
without `event_id` gets one from the raw body, its anomaly id and its place in the list."""

from __future__ import annotations

from gateway.core.errors import Unauthorized
from gateway.core.models import Event, Ignored, Parsed
from gateway.receive.security import check_timestamp, hmac_hex, require_header, same
from gateway.receive.sources.base import (
    Delivery,
    SourceAdapter,
    SourceConfig,
    body_hash,
    convert,
    decode_json,
    verify_token_or_basic,
)


def verify(config: SourceConfig, delivery: Delivery) -> None:
    """`X-Gateway-Signature: sha256=<hex HMAC of "{timestamp}.{body}">` within 5 minutes."""
    if not config.hmac_secret:
        verify_token_or_basic(config, delivery)
        return
    timestamp = require_header(delivery.headers, "X-Gateway-Timestamp")
    signature = require_header(delivery.headers, "X-Gateway-Signature")
    check_timestamp(timestamp, delivery.received_at)
    expected = "sha256=" + hmac_hex(config.hmac_secret, timestamp.encode() + b"." + delivery.body)
    if not same(signature, expected):
        raise Unauthorized("X-Gateway-Signature does not match the body", code="bad_signature")


def parse(config: SourceConfig, delivery: Delivery) -> Parsed:
    data = decode_json(delivery.body)
    items = data if isinstance(data, list) else [data]
    events = []
    for index, item in enumerate(items):
        shaped = item
        if isinstance(item, dict):
            if item.get("severity") is None:  # absent or null: the source's default, not the Event's
                item["severity"] = config.defaults.severity
            if not item.get("event_id") and item.get("anomaly_id"):  # a resend of the same body is a duplicate
                shaped = {**item, "event_id": body_hash(delivery.body, str(item["anomaly_id"]), str(index))}
        where = f"event {index}" if isinstance(data, list) else "event"
        event = convert(shaped, Event, where)
        event.source = delivery.source
        event.raw = item
        events.append(event)
    if not items:  # an empty list: answered, recorded and said, not a silent empty 200
        return Parsed(ignored=[Ignored(reason="generic delivery holds no events")])
    return Parsed(events=events)


ADAPTER = SourceAdapter(kind="generic", auth_keys=("hmac_secret", "token", "basic"), verify=verify, parse=parse)
