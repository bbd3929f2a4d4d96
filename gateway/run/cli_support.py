"""What every CLI verb needs: settings from the options, the database it names, the runtime, printing."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import msgspec

from gateway.core.models import EXECUTION_STATUSES
from gateway.core.settings import Settings
from gateway.rules.lifecycle import STATES, canonical_state

log = logging.getLogger("gateway.run.cli")


DATABASE_SCHEMES = ("sqlite:///", "postgresql://", "postgres://")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class CliError(Exception):
    """A problem the user can fix, printed as one line (no traceback) with exit code 2."""


def ticket_state(value: str) -> str:
    """`--state`: a ticket state, read as chat reads it ('in progress'); anything else would list nothing."""
    state = canonical_state(value)
    if state is None:
        raise argparse.ArgumentTypeError(f"{value!r} is not a ticket state; states: {', '.join(STATES)}")
    return state


def execution_status(value: str) -> str:
    """`--status`: an execution status; anything else would list nothing."""
    if value not in EXECUTION_STATUSES:
        statuses = ", ".join(EXECUTION_STATUSES)
        raise argparse.ArgumentTypeError(f"{value!r} is not an execution status; statuses: {statuses}")
    return value


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _settings(args: argparse.Namespace) -> Settings:
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if getattr(args, "mappings", None):
        settings = msgspec.structs.replace(settings, mappings=Path(args.mappings))
    if getattr(args, "database", None):
        url = args.database if "://" in args.database else f"sqlite:///{args.database}"
        settings = msgspec.structs.replace(settings, database_url=url)
    if not settings.database_url.startswith(DATABASE_SCHEMES):  # the store would raise it deep in a traceback
        from gateway.record.store import describe  # psycopg with it: only on this error path

        given = "--database" if getattr(args, "database", None) else "GATEWAY_DATABASE_URL"
        raise CliError(
            f"{given}: {describe(settings.database_url)!r} is not a database: give a file, sqlite:///PATH or"
            " postgresql://USER:PASS@HOST:PORT/DB"
        )
    if settings.redis_url and not settings.redis_url.startswith(REDIS_SCHEMES):  # redis-py raises it at connect
        scheme = settings.redis_url.partition("://")[0] if "://" in settings.redis_url else "no scheme"
        raise CliError(f"REDIS_URL: must be redis://HOST:PORT, rediss://HOST:PORT or unix:///PATH, not {scheme!r}")
    return settings


def _existing_database(settings: Settings) -> Settings:
    """Commands that read the mirror need one: creating an empty database elsewhere would hide the mistake."""
    if not settings.database_url.startswith("sqlite:///"):
        return settings  # a server database: connecting tells
    try:
        path = settings.database_path
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if not path.is_file():
        raise CliError(
            f"no database at {path} (run where `gateway serve` runs, or pass --database / set GATEWAY_DATABASE_URL)"
        )
    return settings


def _runtime(args: argparse.Namespace) -> tuple[Any, Any]:
    from gateway.dispatch.queue import Dispatcher
    from gateway.record.runtime import Runtime

    settings = _existing_database(_settings(args))
    runtime = Runtime.load(settings)
    dispatcher = None
    if settings.redis_url:
        dispatcher = Dispatcher.for_runtime(runtime)
    return runtime, dispatcher
