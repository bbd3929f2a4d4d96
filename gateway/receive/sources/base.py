"""What a source adapter is, its configuration, and the decoding helpers adapters share."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
import msgspec.inspect

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


def convert(data: Any, shape: type[T], what: str, *, body: bytes | None = None) -> T:
    """Data -> Struct, or a 422 that names the field (msgspec gives the `$.path`).

    A `null` in an optional field is that field not given: tools send `"description": null` for a
    missing value, which msgspec alone refuses ('Expected `str`, got `null`'). A `null` in a required
    field is still a 422, saying the field is required and null.

    `body`: the bytes `data` was decoded from. Without `null` in them there is none to remove, and the walk
    that removes them (a third of parsing a delivery) is skipped.
    """
    if body is None or b"null" in body:
        data = without_nulls(data, shape)
    try:
        return msgspec.convert(data, type=shape, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidPayload(f"{what}: {_null_is_required(str(exc))}") from None


Clean = Callable[[Any], Any]
_CLEANERS: dict[Any, Clean] = {}  # each adapter's few shapes, compiled once


def without_nulls(data: Any, shape: Any) -> Any:
    """`data` without the `null`s that mean 'not given' in `shape`: those of optional Struct fields, and the
    values of a mapping whose values cannot be null. A required field's null and a list's null items are kept,
    so msgspec refuses them naming the place (and a list keeps its length: adapters zip it with the raw one)."""
    clean = _CLEANERS.get(shape)
    if clean is None:
        clean = _CLEANERS[shape] = _cleaner(msgspec.inspect.type_info(shape), {}) or _same
    return clean(data)


def _same(data: Any) -> Any:
    return data


def _unwrapped(info: msgspec.inspect.Type) -> msgspec.inspect.Type:
    while isinstance(info, msgspec.inspect.Metadata):
        info = info.type
    return info


def _takes_null(info: msgspec.inspect.Type) -> bool:
    info = _unwrapped(info)
    if isinstance(info, msgspec.inspect.UnionType):
        return any(_takes_null(member) for member in info.types)
    return isinstance(info, msgspec.inspect.NoneType | msgspec.inspect.AnyType)


_ARRAYS = (
    msgspec.inspect.ListType,
    msgspec.inspect.VarTupleType,
    msgspec.inspect.SetType,
    msgspec.inspect.FrozenSetType,
)


def _cleaner(info: msgspec.inspect.Type, made: dict[int, list[Clean]]) -> Clean | None:
    """What removes the optional nulls from data of type `info`; None when data of that type holds none.

    Built once per shape (a walk that inspects the type at every value took longer than the decoding);
    `made` holds the Structs being built, so a Struct that contains itself refers to its own cleaner."""
    info = _unwrapped(info)
    members = [_unwrapped(m) for m in (info.types if isinstance(info, msgspec.inspect.UnionType) else (info,))]
    objects = next((m for m in members if isinstance(m, msgspec.inspect.StructType | msgspec.inspect.DictType)), None)
    arrays = next((m for m in members if isinstance(m, _ARRAYS)), None)
    of_object = None if objects is None else _object_cleaner(objects, made)
    of_array = None if arrays is None else _array_cleaner(arrays, made)
    if of_object is None and of_array is None:
        return None

    def clean(data: Any) -> Any:
        if of_object is not None and isinstance(data, dict):
            return of_object(data)
        if of_array is not None and isinstance(data, list):
            return of_array(data)
        return data

    return clean


def _object_cleaner(
    info: msgspec.inspect.StructType | msgspec.inspect.DictType, made: dict[int, list[Clean]]
) -> Clean | None:
    if isinstance(info, msgspec.inspect.DictType):
        value_clean = _cleaner(info.value_type, made)
        if _takes_null(info.value_type):
            return None if value_clean is None else lambda data: {k: value_clean(v) for k, v in data.items()}
        then = value_clean or _same
        return lambda data: {k: then(v) for k, v in data.items() if v is not None}
    if id(info) in made:  # a Struct within itself: its cleaner, once it is built
        cell = made[id(info)]
        return lambda data: cell[0](data)
    cell = made[id(info)] = []
    optional = frozenset(field.encode_name for field in info.fields if not field.required)
    inner = {field.encode_name: found for field in info.fields if (found := _cleaner(field.type, made)) is not None}

    def clean(data: dict[str, Any]) -> dict[str, Any]:
        kept = {}
        for key, value in data.items():
            if value is None:
                if key in optional:
                    continue
            elif key in inner:
                value = inner[key](value)
            kept[key] = value
        return kept

    cell.append(clean)
    return clean


def _array_cleaner(info: msgspec.inspect.Type, made: dict[int, list[Clean]]) -> Clean | None:
    item_clean = _cleaner(info.item_type, made) if isinstance(info, _ARRAYS) else None
    return None if item_clean is None else lambda data: [item_clean(item) for item in data]


_NULL_FIELD = re.compile(r"^Expected `(?P<expected>.+)`, got `null` - at `(?P<path>\$.*\.(?P<field>[^.\[\]]+))`$")


def _null_is_required(message: str) -> str:
    """msgspec's 'Expected `str`, got `null` - at `$.incident.id`' says which field; also say it is required."""
    found = _NULL_FIELD.match(message)
    if found is None:
        return message
    return f"Required field `{found['field']}` is null (expected `{found['expected']}`) - at `{found['path']}`"


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
