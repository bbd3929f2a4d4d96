"""Settings from the environment, read once at start-up."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

from gateway.core.redact import Secret

LOOPBACK_NAMES = "localhost,127.0.0.1,::1"


SWITCH: dict[str, bool | None] = {"1": True, "true": True, "yes": True, "on": True, "auto": None}
SWITCH.update({"0": False, "false": False, "no": False, "off": False})


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    mappings: Path = Path("mappings")
    database_url: str = "sqlite:///./var/gateway.db"
    redis_url: str | None = None
    api_token: Secret | None = None
    metrics_token: Secret | None = None
    # Host names the app answers when no API token is set (DNS rebinding); empty: any (in-process use).
    allowed_hosts: tuple[str, ...] = ()
    ticket_prefix: str = "DQ"
    max_body_bytes: int = 1024 * 1024
    max_events_per_delivery: int = 100
    request_timeout_seconds: float = 30.0
    keep_alive_seconds: float = 5.0
    queue_name: str = "gateway"
    lease_seconds: float = 90.0
    retry_budget_seconds: float = 0.5  # longer waits reschedule (the sweeper) and free the worker
    retry_scale: float = 1.0
    notify_wait_seconds: float = 60.0
    group_comment_seconds: float = 60.0  # at most one "anomalies linked" comment per ticket and tracker this often
    sweep_interval_seconds: float = 1.0
    db_busy_timeout_seconds: float = 30.0
    retention_days: float = 90.0
    worker_fork: bool = False
    # `gateway serve` plans deliveries in a writer process of its own: None (auto) on SQLite only (see the property)
    ingest_process_setting: bool | None = None
    slack_signing_secret: Secret | None = None
    teams_outgoing_secret: Secret | None = None
    var_dir: Path = Path("var")
    ui_session_hours: float = 12.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def text(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def number(name: str, default: float, *, zero: bool = True) -> float:
            """`zero`: 0 means something (no wait, keep nothing); else 0 cannot work (a lease over at once, a
            sweeper that never sleeps, every body too large) and is refused like a negative number."""
            value = text(name)
            if value is None:
                return default
            try:
                found = float(value)
            except ValueError:
                raise ValueError(f"{name} must be a number, not {value!r}") from None
            if not math.isfinite(found) or found < 0:  # every setting is a size, a count or a duration
                raise ValueError(f"{name} must be a number, 0 or more, not {value!r}")
            if found == 0 and not zero:
                raise ValueError(f"{name} must be more than 0, not {value!r}")
            return found

        def switch(name: str) -> bool | None:
            """1/0 (true/false, yes/no); None when unset or `auto`."""
            value = (text(name) or "auto").lower()
            if value not in SWITCH:
                raise ValueError(f"{name} must be 1, 0 or auto, not {text(name)!r}")
            return SWITCH[value]

        def count(name: str, default: int) -> int:
            found = number(name, default, zero=False)
            if found < 1 or found != int(found):  # 0.5 bytes was 0: every body refused
                raise ValueError(f"{name} must be a whole number, 1 or more, not {text(name)!r}")
            return int(found)

        return cls(
            mappings=Path(text("GATEWAY_MAPPINGS") or "mappings"),
            database_url=text("GATEWAY_DATABASE_URL") or "sqlite:///./var/gateway.db",
            redis_url=text("REDIS_URL"),
            api_token=text("GATEWAY_API_TOKEN"),
            metrics_token=text("GATEWAY_METRICS_TOKEN"),
            allowed_hosts=tuple(
                h.strip().lower() for h in (text("GATEWAY_ALLOWED_HOSTS") or LOOPBACK_NAMES).split(",") if h.strip()
            ),
            ticket_prefix=text("GATEWAY_TICKET_PREFIX") or "DQ",
            max_body_bytes=count("GATEWAY_MAX_BODY_BYTES", 1024 * 1024),
            max_events_per_delivery=count("GATEWAY_MAX_EVENTS_PER_DELIVERY", 100),
            request_timeout_seconds=number("GATEWAY_REQUEST_TIMEOUT_SECONDS", 30.0, zero=False),
            keep_alive_seconds=number("GATEWAY_KEEP_ALIVE_SECONDS", 5.0, zero=False),
            queue_name=text("GATEWAY_QUEUE") or "gateway",
            lease_seconds=number("GATEWAY_LEASE_SECONDS", 90.0, zero=False),
            retry_budget_seconds=number("GATEWAY_RETRY_BUDGET_SECONDS", 0.5),
            retry_scale=number("GATEWAY_RETRY_SCALE", 1.0, zero=False),
            notify_wait_seconds=number("GATEWAY_NOTIFY_WAIT_SECONDS", 60.0),
            group_comment_seconds=number("GATEWAY_GROUP_COMMENT_SECONDS", 60.0),
            sweep_interval_seconds=number("GATEWAY_SWEEP_INTERVAL_SECONDS", 1.0, zero=False),
            db_busy_timeout_seconds=number("GATEWAY_DB_BUSY_TIMEOUT_SECONDS", 30.0, zero=False),
            retention_days=number("GATEWAY_RETENTION_DAYS", 90.0),
            worker_fork=(text("GATEWAY_WORKER_FORK") or "0").lower() in ("1", "true", "yes"),
            ingest_process_setting=switch("GATEWAY_INGEST_PROCESS"),
            slack_signing_secret=text("SLACK_SIGNING_SECRET"),
            teams_outgoing_secret=text("TEAMS_OUTGOING_SECRET"),
            var_dir=Path(text("GATEWAY_VAR_DIR") or "var"),
            ui_session_hours=number("GATEWAY_UI_SESSION_HOURS", 12.0, zero=False),
        )

    @property
    def ingest_process(self) -> bool:
        """Whether `gateway serve` runs the ingress writer in a process of its own: by default yes, on both
        databases. One interpreter cannot use two cores: the process took SQLite's ingress from 1,665 to 2,391 req/s
        here and PostgreSQL's from 0.30 to 0.44-0.46 of the bare endpoint. PostgreSQL kept the thread while the
        process's steady 100/s showed rare long tails; those came from the ServiceNow poll's first-poll stall, since
        fixed (README, "Performance", "The writer process on PostgreSQL, a third time")."""
        if self.ingest_process_setting is not None:
            return self.ingest_process_setting
        return True

    @property
    def database_path(self) -> Path:
        prefix = "sqlite:///"
        if not self.database_url.startswith(prefix):
            raise ValueError("GATEWAY_DATABASE_URL is not a sqlite:///PATH URL")
        return Path(self.database_url[len(prefix) :])

    @property
    def database_url_absolute(self) -> str:
        """The URL as a process started elsewhere must see it (a SQLite path made absolute)."""
        if self.database_url.startswith("sqlite:///"):
            return f"sqlite:///{self.database_path.resolve()}"
        return self.database_url
