"""`gateway serve | worker | check | tickets | executions | export | emulate | preview | sync`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import msgspec

from gateway.core.settings import Settings
from gateway.rules.loader import MappingErrors, load_mappings

log = logging.getLogger("gateway.run.cli")


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


class CliError(Exception):
    """A problem the user can fix, printed as one line (no traceback) with exit code 2."""


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


def cmd_check(args: argparse.Namespace) -> int:
    settings = _settings(args)
    try:
        mappings = load_mappings(settings.mappings)
    except MappingErrors as exc:
        for error in exc.errors:
            print(f"error: {error}", file=sys.stderr)
        print(f"gateway: {len(exc.errors)} problem(s) in {settings.mappings}", file=sys.stderr)
        return 2
    print(
        f"ok: {len(mappings.files)} file(s), {len(mappings.sources)} source(s), {len(mappings.targets)} target(s),"
        f" {len(mappings.channels)} channel(s), {len(mappings.flows)} flow(s), {len(mappings.catalog)} catalog item(s)"
    )
    for flow in mappings.flows:
        actions = ", ".join(kind for kind, _ in flow.actions)
        print(f"  flow {flow.name}: on {flow.trigger.type} from {', '.join(flow.sources or ['any source'])}: {actions}")
    for name, item in mappings.catalog.items():
        print(f"  catalog item {name}: to {', '.join(item.targets)}; open: {', '.join(item.open_fields)}")
    for warning in mappings.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not args.live:
        return 0
    from gateway.run.live_check import check_live

    return check_live(mappings, args.target)


def cmd_serve(args: argparse.Namespace) -> int:
    from gateway.run.serve import serve

    return serve(
        _settings(args),
        host=args.host,
        port=args.port,
        workers=args.workers,
        sandbox=not args.no_sandbox,
        sandbox_ports=args.sandbox_ports,
        insecure=args.insecure,
    )


def _ports(value: str) -> dict[str, int]:
    """`9101,9102`: the sandbox Jira's and ServiceNow's first-choice ports."""
    try:
        jira, servicenow = (int(part) for part in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected JIRA_PORT,SERVICENOW_PORT, not {value!r}") from None
    return {"jira": jira, "servicenow": servicenow}


def cmd_sandbox(args: argparse.Namespace) -> int:
    from gateway.run.sandbox import reset

    settings = _settings(args)
    try:
        removed = reset(Path(settings.var_dir), settings.database_path)
    except (RuntimeError, ValueError) as exc:
        raise CliError(str(exc)) from None
    print(f"sandbox reset: removed {len(removed)} file(s)" + "".join(f"\n  {path}" for path in removed))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from gateway.run.worker import run_worker

    run_worker(_settings(args), burst=args.burst)
    return 0


def _runtime(args: argparse.Namespace) -> tuple[Any, Any]:
    from gateway.dispatch.queue import Dispatcher, connect
    from gateway.record.runtime import Runtime

    settings = _existing_database(_settings(args))
    runtime = Runtime.load(settings)
    dispatcher = None
    if settings.redis_url:
        dispatcher = Dispatcher(
            connect(settings.redis_url), runtime.mirror, settings.queue_name, settings.retry_budget_seconds + 300
        )
    return runtime, dispatcher


def cmd_tickets(args: argparse.Namespace) -> int:
    from gateway.decide.operations import find_ticket
    from gateway.record.views import ticket_view

    runtime, _ = _runtime(args)
    if args.reference:
        _print(ticket_view(runtime, find_ticket(runtime, args.reference), detail=True))
        return 0
    for ticket in runtime.mirror.list_tickets(state=args.state, source=args.source, q=args.q):
        view = ticket_view(runtime, ticket)
        links = " ".join(f"{link['target']}={link['external_key']}" for link in view["links"])
        title, sla = view["fields"]["short_description"][:60], _sla_text(view["sla"])
        print(f"{view['number']:<8} {view['state']:<12} {title:<60} {sla:<18} {links}")
    return 0


def _sla_text(sla: dict[str, Any] | None) -> str:
    """The list's SLA column: breached, or the time left on the running timer."""
    if sla is None:
        return "sla -"
    if sla["response_breached"] or sla["resolution_breached"]:
        return "sla BREACHED"
    left = sla["response_left_s"] if sla["response_left_s"] is not None else sla["resolution_left_s"]
    if left is None:
        return "sla met"
    hours, minutes = divmod(max(int(left), 0) // 60, 60)
    return f"sla {hours}h{minutes:02d}m left" + (" (held)" if sla["resolution_paused"] else "")


def cmd_executions(args: argparse.Namespace) -> int:
    from gateway.core.errors import GatewayError
    from gateway.decide import operations as actions
    from gateway.record.views import execution_view

    runtime, dispatcher = _runtime(args)
    try:
        if args.verb == "show":
            execution = runtime.mirror.execution(args.id or "")
            if execution is None:
                print(f"no execution {args.id!r}", file=sys.stderr)
                return 1
            _print(execution_view(runtime, execution))
        elif args.verb == "retry" and args.all_failed:
            retried = actions.retry_executions(runtime, dispatcher, target=args.target, flow=args.flow)
            print(f"retried {len(retried)} execution(s)")
        elif args.verb == "retry":
            if not args.id:
                print("retry needs an execution id or --all-failed", file=sys.stderr)
                return 2
            _print(execution_view(runtime, actions.retry_execution(runtime, dispatcher, args.id)))
        else:
            status = "failed" if args.failed else args.status
            found = runtime.mirror.list_executions(status=status, target=args.target, flow=args.flow)
            if not found:
                print("no executions match", file=sys.stderr)
            for execution in found:
                view = execution_view(runtime, execution, attempts=False)
                number = view["ticket"]["number"] if view["ticket"] else "-"
                print(
                    f"{view['id']}  {view['status']:<9} {view['action']:<20} {view['target']:<12} {number:<8}"
                    f" {view['error'] or ''}"
                )
    except GatewayError as exc:
        print(f"{exc.code}: {exc.detail}", file=sys.stderr)
        return 1
    return 0


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

    runtime = Runtime.load(_settings(args))
    try:
        _print(preview(runtime, args.source, {}, Path(args.file).read_bytes()))
    except GatewayError as exc:
        print(f"{exc.code}: {exc.detail}", file=sys.stderr)
        return 1
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    """Poll (where the tracker offers it) and reconcile now: what missed webhooks left behind is repaired."""
    from gateway.core.errors import GatewayError
    from gateway.execute import sync

    runtime, dispatcher = _runtime(args)
    names = [args.target] if args.target else sync.sync_targets(runtime)
    if not names:
        print("no target has a sync: block", file=sys.stderr)
        return 1
    try:
        _print([{**sync.poll(runtime, dispatcher, n), **sync.reconcile(runtime, dispatcher, n)} for n in names])
    except GatewayError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    return 0


def cmd_emulate(args: argparse.Namespace) -> int:
    import importlib
    import secrets

    module = importlib.import_module(f"connectors.emulators.{args.kind}")
    from gateway.run.sandbox import PORTS

    port = args.port or PORTS[args.kind]
    token = secrets.token_urlsafe(16)
    print(f"{args.kind} emulator on http://{args.host}:{port} (control: X-Emulator-Token: {token})", flush=True)
    module.serve(host=args.host, port=port, control_token=token)
    return 0


def _directory(value: str) -> str:
    if not Path(value).is_dir():
        raise argparse.ArgumentTypeError(f"no such directory: {value}")
    return value


def _global_options() -> argparse.ArgumentParser:
    """Options every verb takes, before or after it; SUPPRESS keeps a verb from resetting one given before it."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--mappings",
        type=_directory,
        default=argparse.SUPPRESS,
        help="mappings directory (default: $GATEWAY_MAPPINGS or ./mappings)",
    )
    common.add_argument(
        "--database",
        default=argparse.SUPPRESS,
        help="the SQLite mirror file or a postgresql:// URL (default: $GATEWAY_DATABASE_URL, ./var/gateway.db)",
    )
    return common


def parser() -> argparse.ArgumentParser:
    common = _global_options()
    root = argparse.ArgumentParser(prog="gateway", description="Data-quality ticketing gateway", parents=[common])
    sub = root.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve", parents=[common], help="run the web app, a worker and (unset REDIS_URL) an embedded Redis"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--no-sandbox", action="store_true", help="never start the tracker emulators")
    serve.add_argument(
        "--sandbox-ports",
        type=_ports,
        metavar="JIRA,SERVICENOW",
        help="the sandbox emulators' ports (default 9001,9002; a taken port falls back to a free one)",
    )
    serve.add_argument("--insecure", action="store_true", help="allow a non-loopback --host without GATEWAY_API_TOKEN")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", parents=[common], help="run one RQ worker (REDIS_URL required)")
    worker.add_argument("--burst", action="store_true")
    worker.set_defaults(func=cmd_worker)

    check = sub.add_parser("check", parents=[common], help="load and check the mappings")
    check.add_argument("--live", action="store_true", help="also compare each target with its tracker (read-only)")
    check.add_argument("--target", help="with --live: only this target")
    check.set_defaults(func=cmd_check)

    tickets = sub.add_parser("tickets", parents=[common], help="list tickets, or show one")
    tickets.add_argument("reference", nargs="?", help="DQ-42 or 42")
    tickets.add_argument("--state")
    tickets.add_argument("--source")
    tickets.add_argument("-q")
    tickets.set_defaults(func=cmd_tickets)

    executions = sub.add_parser("executions", parents=[common], help="the execution log: list, show, retry")
    executions.add_argument("verb", nargs="?", choices=["list", "show", "retry"], default="list")
    executions.add_argument("id", nargs="?")
    executions.add_argument("--failed", action="store_true")
    executions.add_argument("--status")
    executions.add_argument("--target")
    executions.add_argument("--flow")
    executions.add_argument("--all-failed", action="store_true")
    executions.set_defaults(func=cmd_executions)

    db = sub.add_parser("db", parents=[common], help="the mirror database: upgrade (migrate) or prune (retention)")
    db.add_argument("verb", choices=["upgrade", "prune"])
    db.add_argument("--days", type=float, help="prune what is older than this (default: $GATEWAY_RETENTION_DAYS or 90)")
    db.set_defaults(func=cmd_db)

    preview = sub.add_parser(
        "preview", parents=[common], help="dry-run a payload: events, matching flows, fields per target"
    )
    preview.add_argument("--source", required=True, help="the source name under sources:")
    preview.add_argument("file", help="the payload file")
    preview.set_defaults(func=cmd_preview)

    sandbox = sub.add_parser("sandbox", parents=[common], help="the sandbox trackers: reset forgets their tickets")
    sandbox.add_argument("verb", choices=["reset"], help="reset: clear the sandbox trackers and the mirror together")
    sandbox.set_defaults(func=cmd_sandbox)
    from gateway.run.export import add_parser as add_export

    add_export(sub, common).set_defaults(func=cmd_export)

    sync = sub.add_parser(
        "sync", parents=[common], help="two-way sync now: poll and reconcile tracker records with the mirror"
    )
    sync.add_argument("--target", help="only this target (default: every target with a sync: block)")
    sync.set_defaults(func=cmd_sync)

    emulate = sub.add_parser("emulate", parents=[common], help="run a loopback tracker emulator")
    emulate.add_argument("kind", choices=["jira", "servicenow"])
    emulate.add_argument("--host", default="127.0.0.1")
    emulate.add_argument("--port", type=int)
    emulate.set_defaults(func=cmd_emulate)
    return root


def _run(args: argparse.Namespace) -> int:
    """The verb, with the problems a user can fix as one line on stderr instead of a traceback."""
    import sqlite3

    from gateway.core.errors import GatewayError

    try:
        code: int = args.func(args)
        sys.stdout.flush()
        return code
    except CliError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    except MappingErrors as exc:
        for error in exc.errors:
            print(f"error: {error}", file=sys.stderr)
        print(f"gateway: {len(exc.errors)} problem(s) in the mappings (`gateway check` lists them)", file=sys.stderr)
        return 2
    except GatewayError as exc:
        print(f"gateway: {exc.code}: {exc.detail}", file=sys.stderr)
        return 1
    except (sqlite3.Error, OSError) as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        print(f"gateway: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> None:
    from gateway.run.logs import configure_logging

    configure_logging()
    args = parser().parse_args(argv)
    try:
        code = _run(args)
    except BrokenPipeError:  # `gateway tickets | head`: the reader left; say nothing, like other tools
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 141
    sys.exit(code)


if __name__ == "__main__":
    main()
