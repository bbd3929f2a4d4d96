"""`generic`: canonical Event JSON, HMAC-signed with a timestamp, or token / basic auth."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gateway.core.errors import Unauthorized
from gateway.core.models import Parsed
from gateway.receive.security import hmac_hex
from gateway.receive.sources import ADAPTERS, Delivery, SourceConfig
from gateway.receive.sources.base import BasicAuth, SourceDefaults

ADAPTER = ADAPTERS["generic"]
EVENT = {"event_id": "e-1", "event_type": "anomaly", "anomaly_id": "a-1", "title": "nulls in orders.id"}


def signed(body: bytes, secret: str, timestamp: float) -> dict[str, str]:
    stamp = str(int(timestamp))
    return {
        "X-Gateway-Timestamp": stamp,
        "X-Gateway-Signature": "sha256=" + hmac_hex(secret, stamp.encode() + b"." + body),
    }


def test_one_event_object(parse: Callable[..., Parsed]) -> None:
    parsed = parse("generic", EVENT, source="my-generic")
    (event,) = parsed.events
    assert (event.event_id, event.event_type, event.anomaly_id) == ("e-1", "anomaly", "a-1")
    assert event.source == "my-generic"
    assert event.correlation_key == "my-generic:a-1"
    assert event.severity == "medium"
    # generic fills the source's default severity into the object it keeps as `raw`
    assert event.raw == {**EVENT, "severity": "medium"}
    assert parsed.ignored == []


def test_a_list_and_the_source_default_severity(parse: Callable[..., Parsed]) -> None:
    body = [EVENT, {**EVENT, "event_id": "e-2", "anomaly_id": "a-2", "severity": "critical"}]
    config = SourceConfig(kind="generic", defaults=SourceDefaults(severity="low"))
    parsed = parse("generic", body, config)
    assert [(e.event_id, e.severity) for e in parsed.events] == [("e-1", "low"), ("e-2", "critical")]


def test_an_event_without_an_id_gets_one_from_the_body(parse: Callable[..., Parsed]) -> None:
    bare = {k: v for k, v in EVENT.items() if k != "event_id"}
    [first] = parse("generic", bare).events
    [again] = parse("generic", bare).events
    [other] = parse("generic", {**bare, "anomaly_id": "a-2"}).events
    pair = parse("generic", [bare, {**bare, "event_type": "anomaly_status_change", "status": "Resolved"}]).events
    assert first.event_id and first.event_id == again.event_id  # the same body again: the same event
    assert other.event_id != first.event_id and pair[0].event_id != pair[1].event_id
    assert first.raw == {**bare, "severity": "medium"}  # what the tool sent, as it sent it


def test_an_unknown_event_type_is_a_422(parse: Callable[..., Parsed]) -> None:
    from gateway.core.errors import InvalidPayload

    with pytest.raises(InvalidPayload, match="event_type"):
        parse("generic", {**EVENT, "event_type": "ping"})


class TestHmac:
    secret = "generic-secret"
    config = SourceConfig(kind="generic", hmac_secret=secret)
    body = b'{"event_id": "e-1", "event_type": "anomaly", "anomaly_id": "a-1"}'

    def test_accepts_a_fresh_signature(self, now: float, delivery: Callable[..., Delivery]) -> None:
        ADAPTER.verify(self.config, delivery(self.body, signed(self.body, self.secret, now - 30)))

    @pytest.mark.parametrize(
        ("change", "code"),
        [
            ({"X-Gateway-Signature": "sha256=" + "0" * 64}, "bad_signature"),
            ({"X-Gateway-Signature": None}, "missing_signature"),
            ({"X-Gateway-Timestamp": None}, "missing_signature"),
        ],
    )
    def test_refuses_wrong_and_missing(
        self, change: dict[str, Any], code: str, now: float, delivery: Callable[..., Delivery]
    ) -> None:
        sent = {**signed(self.body, self.secret, now), **change}
        headers = {name: value for name, value in sent.items() if value is not None}
        with pytest.raises(Unauthorized) as caught:
            ADAPTER.verify(self.config, delivery(self.body, headers))
        assert caught.value.code == code

    def test_refuses_a_signature_from_another_secret(
        self, now: float, delivery: Callable[..., Delivery]
    ) -> None:
        with pytest.raises(Unauthorized) as caught:
            ADAPTER.verify(self.config, delivery(self.body, signed(self.body, "other", now)))
        assert caught.value.code == "bad_signature"

    def test_refuses_a_tampered_body(self, now: float, delivery: Callable[..., Delivery]) -> None:
        headers = signed(self.body, self.secret, now)
        with pytest.raises(Unauthorized) as caught:
            ADAPTER.verify(self.config, delivery(self.body.replace(b"a-1", b"a-2"), headers))
        assert caught.value.code == "bad_signature"

    @pytest.mark.parametrize("skew", [-600, 600])
    def test_refuses_a_stale_timestamp(
        self, skew: int, now: float, delivery: Callable[..., Delivery]
    ) -> None:
        with pytest.raises(Unauthorized) as caught:
            ADAPTER.verify(self.config, delivery(self.body, signed(self.body, self.secret, now + skew)))
        assert caught.value.code == "stale_timestamp"


class TestTokenAndBasic:
    def test_token_as_bearer_or_header(self, delivery: Callable[..., Delivery]) -> None:
        config = SourceConfig(kind="generic", token="t0k")
        ADAPTER.verify(config, delivery(b"{}", {"Authorization": "Bearer t0k"}))
        ADAPTER.verify(config, delivery(b"{}", {"X-Gateway-Token": "t0k"}))
        for headers, code in (({"Authorization": "Bearer nope"}, "bad_signature"), ({}, "missing_signature")):
            with pytest.raises(Unauthorized) as caught:
                ADAPTER.verify(config, delivery(b"{}", headers))
            assert caught.value.code == code

    def test_basic(self, basic_header: Callable[[str, str], str], delivery: Callable[..., Delivery]) -> None:
        basic = basic_header
        config = SourceConfig(kind="generic", basic=BasicAuth(user="u", password="p"))
        ADAPTER.verify(config, delivery(b"{}", {"Authorization": basic("u", "p")}))
        for headers, code in (
            ({"Authorization": basic("u", "x")}, "bad_signature"),
            ({}, "missing_signature"),
        ):
            with pytest.raises(Unauthorized) as caught:
                ADAPTER.verify(config, delivery(b"{}", headers))
            assert caught.value.code == code
