"""The CLI's maintenance verbs: export, db, preview, sync, emulate."""

from __future__ import annotations

import argparse
import errno
import logging
import sys
from pathlib import Path
from typing import Any

from gateway.run.cli_support import CliError, _print, _runtime, _settings

log = logging.getLogger("gateway.run.cli")


def cmd_export(args: argparse.Namespace) -> int:
    from gateway.run.export import run_export

    runtime, _ = _runtime(args)
    return run_export(runtime, args)


def cmd_db(args: argparse.Namespace) -> int:
    import time

    from gateway.record.mirror import Mirror
    from gateway.record.store import describe

    settings = _settings(args)
    mirror = Mirror(settings.database_url, settings.db_busy_timeout_seconds)  # opening it migrates
    if args.verb == "upgrade":
        print(f"{describe(settings.database_url)}: schema version {mirror.migrate()}")
    else:
        days = settings.retention_days if args.days is None else args.days
        pruned = mirror.prune(time.time(), days)
        print(
            f"pruned {pruned.executions} execution(s), {pruned.attempts} attempt(s), {pruned.events} event(s),"
            f" {pruned.tickets} closed ticket(s) older than {days:g} day(s)"
        )
    mirror.close()
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    from gateway.core.errors import GatewayError
    from gateway.decide.preview import preview
    from gateway.record.runtime import Runtime

    try:
        body = Path(args.file).read_bytes()
    except OSError as exc:  # a mistyped path is the user's to fix: one line, as other bad arguments
        raise CliError(f"{args.file}: {exc.strerror or exc}") from None
    runtime = Runtime.load(_settings(args))
    try:
        _print(preview(runtime, args.source, {}, body))
    except GatewayError as exc:
        print(f"{exc.code}: {exc.detail}", file=sys.stderr)
        return 1
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    """Poll (where the tracker offers it) and reconcile now: what missed webhooks left behind is repaired."""
    from gateway.core.errors import GatewayError
    from gateway.core.outbound import ConnectorError
    from gateway.execute import sync

    runtime, dispatcher = _runtime(args)
    names = [args.target] if args.target else sync.sync_targets(runtime)
    if not names:
        print("no target has a sync: block", file=sys.stderr)
        return 1
    reports: list[dict[str, Any]] = []
    try:
        for name in names:
            report: dict[str, Any] = {"target": name, "changes": [], "errors": []}
            for run in (sync.poll, sync.reconcile):
                try:
                    found = run(runtime, dispatcher, name)
                except ConnectorError as exc:  # the tracker is down or refuses us: say so, go on
                    report["errors"].append(f"{run.__name__}: {runtime.redactor()(exc.message)}")
                    continue
                report["changes"] += found.pop("changes")
                report["errors"] += found.pop("errors", [])
                report.update(found)
            reports.append(report)
    except GatewayError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    _print(reports)
    return 2 if any(report["errors"] for report in reports) else 0


def cmd_emulate(args: argparse.Namespace) -> int:
    import importlib
    import secrets

    module = importlib.import_module(f"connectors.emulators.{args.kind}")
    from gateway.run.sandbox import PORTS

    port = args.port or PORTS[args.kind]
    token = secrets.token_urlsafe(16)

    def ready(listening: int) -> None:  # said once it listens: a taken port is an error, not a token for nothing
        print(
            f"{args.kind} emulator on http://{args.host}:{listening} (control: X-Emulator-Token: {token})", flush=True
        )

    try:
        module.serve(host=args.host, port=port, control_token=token, ready=ready)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise CliError(
            f"port {port} is taken (a running `gateway serve` has its sandbox {args.kind} there: its control token"
            " is in var/sandbox/control-token); choose another with --port"
        ) from None
    return 0
