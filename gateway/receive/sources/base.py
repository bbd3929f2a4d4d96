"""What a source adapter is, its configuration, and the decoding helpers adapters share."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec

from gateway.core.callbacks import AllowedUrls
from gateway.core.errors import InvalidPayload, Unauthorized
from gateway.core.jsonbody import decode_json as decode_json  # the adapters import it from here
from gateway.core.models import SEVERITIES, Parsed, Severity
from gateway.core.redact import Secret
from gateway.receive.security import check_basic, check_token, same

T = TypeVar("T")


class BasicAuth(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    user: str
    password: Secret


class SourceDefaults(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    severity: Severity = "medium"


class SourceConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One entry under `sources:`; which auth keys apply depends on the adapter."""

    kind: str
    secret: Secret | None = None
    hmac_secret: Secret | None = None
    token: Secret | None = None
    basic: BasicAuth | None = None
    allow_unauthenticated: bool = False
    link_back: AllowedUrls | None = None
    # Which parts make the anomaly id, as `{part}` placeholders (kinds that list `identity_parts`).
    anomaly_id: str | None = None
    defaults: SourceDefaults = msgspec.field(default_factory=SourceDefaults)


class Delivery(msgspec.Struct, kw_only=True):
    """One webhook as received: lower-case headers and the raw body."""

    source: str
    headers: Mapping[str, str]
    body: bytes
    received_at: float
    # The bytes the signature covered when they are not the body (Monte Carlo's documented form):
    # event ids hash these, so re-serialised copies of one signed delivery are duplicates.
    signed: bytes | None = None


Verify = Callable[[SourceConfig, Delivery], None]
Parse = Callable[[SourceConfig, Delivery], Parsed]


@dataclass(frozen=True)
class SourceAdapter:
    """A source kind: `verify` raises Unauthorized, `parse` raises MalformedJson/InvalidPayload.

    `auth_keys` are the SourceConfig keys this kind understands; a source configured with
    none of them must say `allow_unauthenticated: true`. `link_back_hosts` is the kind's default
    `link_back: {hosts}` (where its callback URLs may point); none means no link-back unless configured.
    `identity_parts` are the placeholders an `anomaly_id:` template may use (empty: the tool's own ids).
    """

    kind: str
    auth_keys: tuple[str, ...]
    verify: Verify
    parse: Parse
    link_back_hosts: tuple[str, ...] = ()
    identity_parts: tuple[str, ...] = ()

    def link_back(self, config: SourceConfig) -> AllowedUrls:
        """Where this source's payloads may send link-backs: its own `link_back:`, else the kind's default."""
        return config.link_back or AllowedUrls(hosts=list(self.link_back_hosts))


def template_parts(template: str) -> list[str]:
    """The `{name}` placeholders of an `anomaly_id:` template, in order."""
    import string

    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]


def convert(data: Any, shape: type[T], what: str) -> T:
    """Data -> Struct, or a 422 that names the field (msgspec gives the `$.path`)."""
    try:
        return msgspec.convert(data, type=shape, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidPayload(f"{what}: {exc}") from None


def body_hash(body: bytes, *parts: str) -> str:
    """An event id for sources that send none: the raw body plus the anomaly id."""
    digest: hashlib._Hash = _body_digest(body).copy()
    for part in parts:
        digest.update(b"\0" + part.encode())
    return digest.hexdigest()[:32]


@functools.lru_cache(maxsize=2)
def _body_digest(body: bytes) -> Any:
    """One delivery's body hashed once, however many events it carries (not once per event)."""
    return hashlib.sha256(body)


def normalise_severity(raw: str | None, table: Mapping[str, Severity], default: Severity) -> Severity:
    """Map a tool's severity word (any case) to the canonical five; unknown words take the default."""
    if raw is None:
        return default
    key = str(raw).strip().lower()
    if key in SEVERITIES:
        return key  # type: ignore[return-value]
    return table.get(key, default)


# Helpers shared by the adapters of the tools below (soda, monte_carlo, great_expectations,
# alertmanager, dbt_cloud): each tool spells its enums its own way, and most send no delivery id.


def word(raw: object) -> str:
    """A tool's enum value folded for lookup: 'inProgress', 'in_progress', 'In Progress' -> 'inprogress'."""
    return "".join(ch for ch in str(raw).lower() if ch.isalnum())


def lookup_word(raw: object, table: Mapping[str, str]) -> str | None:
    """The gateway's value for a tool's enum value (keys of `table` are already folded by `word`)."""
    if raw is None:
        return None
    return table.get(word(raw))


def iso_from_epoch(seconds: float) -> str:
    """The delivery's receipt time as ISO 8601, for tools that send no time of their own."""
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat().replace("+00:00", "Z")


def check_signature(given: str, candidates: list[str], header: str) -> None:
    """Accept `given` if it equals any candidate digest; every candidate is compared in constant time."""
    matched = False
    for candidate in candidates:
        matched |= same(given.strip(), candidate)
    if not matched:
        raise Unauthorized(f"{header} does not match the body", code="bad_signature")


def verify_token_or_basic(config: SourceConfig, delivery: Delivery) -> None:
    """Token and/or basic auth; with both configured, the Authorization scheme says which applies."""
    auth = delivery.headers.get("authorization", "")
    if config.basic is not None and (not config.token or auth.lower().startswith("basic ")):
        check_basic(delivery.headers, config.basic.user, config.basic.password)
    elif config.token:
        check_token(delivery.headers, config.token)
