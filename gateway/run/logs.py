"""Logging set up by us, not by Litestar: libraries log request bodies and URLs at INFO.

`GATEWAY_LOG_FORMAT=json` writes one JSON object per line with the ids a line is about
(event, execution, ticket number, target, external key) as fields; every line, text or JSON,
goes through the redactor of the loaded mappings' secrets.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime

from gateway.record.runtime import Runtime

QUIET = (
    "slack_bolt",
    "slack_sdk",
    "urllib3",
    "requests",
    "httpx",
    "httpcore",
    "jira",
    "pysnow",
    "rq",
    "uvicorn.access",
    "great_expectations",
)
# `extra=` keys a gateway log line may carry; the JSON format writes them as fields.
FIELDS = (
    "source",
    "status",
    "event_ids",
    "event_id",
    "execution_id",
    "executions",
    "ticket",
    "action",
    "target",
    "external_key",
    "outcome",
    "error_kind",
    "duration_ms",
    "latency_ms",
)


class _Redacting:
    """Holds the redactor once the mappings are loaded (before that there are no secrets to know)."""

    redact: Callable[[str], str] = staticmethod(lambda text: text)


_redacting = _Redacting()


def set_redactor(redact: Callable[[str], str]) -> None:
    _redacting.redact = redact


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return _redacting.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({name: getattr(record, name) for name in FIELDS if hasattr(record, name)})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return _redacting.redact(json.dumps(line, default=str))


LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")  # named in the error; logging's aliases (WARN) pass too


def log_level(name: str) -> str:
    """GATEWAY_LOG_LEVEL in any case (`debug`); a name logging does not know is a ValueError naming the levels."""
    level = name.strip().upper() or "INFO"
    if level not in logging.getLevelNamesMapping():
        raise ValueError(f"GATEWAY_LOG_LEVEL must be one of {', '.join(LEVELS)}, not {name!r}")
    return level


def configure_logging(level: str | None = None) -> None:
    root = logging.getLogger()
    json_lines = os.environ.get("GATEWAY_LOG_FORMAT", "text").strip().lower() == "json"
    formatter: logging.Formatter = JsonFormatter() if json_lines else TextFormatter()
    found = [h for h in root.handlers if getattr(h, "_gateway", False)]
    if found:
        found[0].setFormatter(formatter)
    else:
        handler = logging.StreamHandler()
        handler.setFormatter(formatter)
        handler._gateway = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("gateway").setLevel(log_level(level or os.environ.get("GATEWAY_LOG_LEVEL", "")))
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


def redact_secrets_of(runtime: Runtime) -> None:
    """From now on every line masks the secrets of these mappings and settings."""
    set_redactor(runtime.redactor())
