"""Secrets the gateway itself verifies must be worth verifying: no empty Basic password, nothing shorter
than 16 characters, and none of the example `change-me-*` values outside the sandbox. Tracker credentials
follow the trackers' own rules and are not judged here; the secrets their webhooks carry are."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec

from gateway.core.settings import Settings
from gateway.rules.schema import Mappings

MIN_LENGTH = 16
EXAMPLE_PREFIX = "change-me"


class WeakSecret(msgspec.Struct, frozen=True):
    where: str  # "sources.soda: field token", "GATEWAY_API_TOKEN"
    problem: str
    example: bool  # an example value: the sandbox may keep it


def _verified(mappings: Mappings, settings: Settings) -> Iterator[tuple[str, str | None]]:
    for name, source in mappings.sources.items():
        for field in ("secret", "hmac_secret", "token"):
            yield f"sources.{name}: field {field}", getattr(source, field)
        if source.basic is not None:
            yield f"sources.{name}: field basic.password", source.basic.password
    for name, target in mappings.targets.items():  # what a tracker's webhooks prove themselves with (two-way sync)
        sync = getattr(target.config, "sync", None)
        for field in ("webhook_secret", "webhook_token"):
            yield f"targets.{name}: field sync.{field}", (getattr(sync, field, "") or None)
    yield "GATEWAY_API_TOKEN", settings.api_token
    yield "GATEWAY_METRICS_TOKEN", settings.metrics_token
    yield "SLACK_SIGNING_SECRET", settings.slack_signing_secret
    yield "TEAMS_OUTGOING_SECRET", settings.teams_outgoing_secret


def weak_secrets(mappings: Mappings, settings: Settings) -> list[WeakSecret]:
    found: list[WeakSecret] = []
    for where, value in _verified(mappings, settings):
        if value is None:
            continue
        if value.startswith(EXAMPLE_PREFIX):
            found.append(WeakSecret(where, "is an example value (change-me-...): set a real secret", example=True))
        elif not value:
            found.append(WeakSecret(where, "is empty", example=False))
        elif len(value) < MIN_LENGTH:
            found.append(WeakSecret(where, f"is shorter than {MIN_LENGTH} characters", example=False))
    return found
