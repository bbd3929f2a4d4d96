"""Signature, secret and timestamp checks on raw request bytes, before anything is parsed."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
from collections.abc import Mapping

from gateway.core.errors import Unauthorized

TIMESTAMP_TOLERANCE_S = 300.0


def same(given: str | bytes, expected: str | bytes) -> bool:
    """Constant-time comparison of two secrets or digests."""
    a = given.encode() if isinstance(given, str) else given
    b = expected.encode() if isinstance(expected, str) else expected
    return hmac.compare_digest(a, b)


def hmac_hex(key: str | bytes, message: bytes, algorithm: str = "sha256") -> str:
    raw_key = key.encode() if isinstance(key, str) else key
    return hmac.new(raw_key, message, getattr(hashlib, algorithm)).hexdigest()


def hmac_b64(key: bytes, message: bytes, algorithm: str = "sha256") -> str:
    return base64.b64encode(hmac.new(key, message, getattr(hashlib, algorithm)).digest()).decode()


def require_header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name.lower())
    if not value:
        raise Unauthorized(f"missing {name} header", code="missing_signature")
    return value


def check_timestamp(value: str, now: float, tolerance: float = TIMESTAMP_TOLERANCE_S) -> None:
    """Refuse replays: the sender's timestamp (unix seconds) must be within the tolerance."""
    try:
        sent = float(value)
    except ValueError:
        sent = math.nan
    if not math.isfinite(sent):  # 'nan' compares false with everything, so it would pass the age check
        raise Unauthorized("timestamp is not a number of seconds", code="bad_timestamp")
    if abs(now - sent) > tolerance:
        raise Unauthorized(
            f"timestamp is more than {int(tolerance)} s away from the gateway's clock",
            code="stale_timestamp",
        )


def check_secret(headers: Mapping[str, str], header: str, expected: str) -> None:
    if not same(require_header(headers, header), expected):
        raise Unauthorized(f"{header} does not match the configured secret", code="bad_signature")


def check_token(headers: Mapping[str, str], expected: str) -> None:
    """A bearer token in Authorization, or the same token in X-Gateway-Token."""
    auth = headers.get("authorization", "")
    given = auth[7:].strip() if auth.lower().startswith("bearer ") else headers.get("x-gateway-token", "")
    if not given:
        raise Unauthorized(
            "missing token: send Authorization: Bearer <token> or X-Gateway-Token", code="missing_signature"
        )
    if not same(given, expected):
        raise Unauthorized("token does not match", code="bad_signature")


def check_basic(headers: Mapping[str, str], user: str, password: str) -> None:
    auth = headers.get("authorization", "")
    if not auth.lower().startswith("basic "):
        raise Unauthorized("missing Basic authorization", code="missing_signature")
    try:
        decoded = base64.b64decode(auth[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("Basic authorization is not valid base64", code="bad_signature") from None
    given_user, _, given_password = decoded.partition(":")
    if not (same(given_user, user) & same(given_password, password)):
        raise Unauthorized("Basic credentials do not match", code="bad_signature")
