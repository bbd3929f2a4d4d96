"""Logging set up by us, not by Litestar: libraries log request bodies and URLs at INFO."""

from __future__ import annotations

import logging
import os

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
)


def configure_logging(level: str | None = None) -> None:
    root = logging.getLogger()
    if not any(getattr(h, "_gateway", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._gateway = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("gateway").setLevel(level or os.environ.get("GATEWAY_LOG_LEVEL", "INFO"))
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
