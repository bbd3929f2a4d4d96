"""What the web process and the workers share: settings, mappings, the mirror."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from gateway.core.redact import Redactor, secret_values
from gateway.core.settings import Settings
from gateway.record.mirror import Mirror
from gateway.rules.loader import load_mappings
from gateway.rules.schema import Mappings


@dataclass
class Runtime:
    settings: Settings
    mappings: Mappings
    mirror: Mirror
    clock: Callable[[], float] = field(default_factory=lambda: time.time)  # tests inject one (SLA timers, breaches)

    @classmethod
    def load(
        cls, settings: Settings | None = None, env: Mapping[str, str] | None = None, *, migrate: bool = True
    ) -> Runtime:
        """`migrate=False` for a process whose parent migrated the database already (no write at start)."""
        settings = settings or Settings.from_env()
        mappings = load_mappings(settings.mappings, env)
        mirror = Mirror(settings.database_url, settings.db_busy_timeout_seconds, migrate=migrate)
        return cls(settings=settings, mappings=mappings, mirror=mirror)

    _redactor: tuple[object, object, Redactor] | None = field(default=None, init=False, repr=False)

    def redactor(self) -> Redactor:
        """Every secret of the mappings and the settings, masked: what runs, previews and pages all use.
        Built once per mappings and settings (walking them is a millisecond, and every job asks)."""
        cached = self._redactor
        if cached is not None and cached[0] is self.mappings and cached[1] is self.settings:
            return cached[2]
        redactor = Redactor([*self.mappings.secrets(), *secret_values(self.settings)])
        self._redactor = (self.mappings, self.settings, redactor)
        return redactor

    def number(self, ticket_id: int) -> str:
        return f"{self.settings.ticket_prefix}-{ticket_id}"

    def ticket_id(self, reference: str) -> int | None:
        """`42`, `DQ-42` or `dq-42` -> 42."""
        text = reference.strip()
        prefix = self.settings.ticket_prefix.lower() + "-"
        if text.lower().startswith(prefix):
            text = text[len(prefix) :]
        # ASCII digits only ('²' is a digit to str.isdigit) and within SQLite's 64-bit integers.
        if not (text.isascii() and text.isdigit()) or len(text) > 18:
            return None
        return int(text)
