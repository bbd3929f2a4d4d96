"""`gateway serve | worker | check | tickets | executions | export | emulate | preview | sync`."""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.core.models import EXECUTION_STATUSES
from gateway.rules.lifecycle import STATES
from gateway.rules.loader import MappingErrors, load_mappings
from gateway.rules.strength import weak_secrets
from gateway.run.cli_ops import cmd_db, cmd_emulate, cmd_export, cmd_preview, cmd_sync
from gateway.run.cli_support import CliError, _print, _runtime, _settings, execution_status, ticket_state
from gateway.run.supervisor import DEFAULT_WORKERS

log = logging.getLogger("gateway.run.cli")


def cmd_check(args: argparse.Namespace) -> int:
    if args.target is not None and not args.live:  # else the target is ignored and the check passes unasked
        raise CliError(f"--target {args.target} applies to the live check: gateway check --live --target {args.target}")
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
    # What `gateway serve` refuses to start with (a CI check may run on placeholders, so warnings, not errors)
    weak = weak_secrets(mappings, settings)
    for secret in weak:
        if not secret.example:
            print(f"warning: {secret.where} {secret.problem}: `gateway serve` does not start with it", file=sys.stderr)
    examples = [secret.where for secret in weak if secret.example]
    if examples:
        print(
            f"warning: example secrets (change-me-...) in {'; '.join(examples)}:"
            " `gateway serve` takes them only while it runs the sandbox trackers",
            file=sys.stderr,
        )
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


def _number(what: str, convert: Callable[[str], Any], low: float, high: float = math.inf, hint: str = "") -> Any:
    """An argument type: the value `convert`ed, finite and from `low` to `high`, else one line saying what it is
    not. Unchecked, `serve --port 99999` listened on 34463 (modulo 65536), `--workers -1` started no worker
    without a word, and `db prune --days -5` put the cutoff in the future and pruned everything finished."""

    def parse(value: str) -> Any:
        try:
            number = convert(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not {what}") from None
        if not (math.isfinite(number) and low <= number <= high):
            raise argparse.ArgumentTypeError(f"{value!r} is not {what} ({hint})")
        return number

    return parse


_port = _number("a port", int, 0, 65535, "0-65535")
_workers = _number("a number of workers", int, 0, hint="0 or more; 0 runs only the web app")
_days = _number("a number of days", float, 0, hint="0 or more")


def _ports(value: str) -> dict[str, int]:
    """`9101,9102`: the sandbox Jira's and ServiceNow's first-choice ports."""
    try:
        jira, servicenow = (_port(part) for part in value.split(","))
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"expected JIRA_PORT,SERVICENOW_PORT (0-65535), not {value!r}") from None
    return {"jira": jira, "servicenow": servicenow}


def cmd_sandbox(args: argparse.Namespace) -> int:
    from gateway.run.sandbox import reset

    settings = _settings(args)
    if not settings.database_url.startswith("sqlite:///"):  # say which option named the server, not the variable
        from gateway.record.store import describe

        given = "--database" if getattr(args, "database", None) else "GATEWAY_DATABASE_URL"
        raise CliError(
            f"{given}: sandbox reset clears the sandbox's SQLite mirror, not {describe(settings.database_url)!r}"
        )
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
        title = " ".join(view["fields"]["short_description"].split())[:60]  # one row a ticket, however it was written
        sla = _sla_text(view["sla"])
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
    from gateway.record.views import execution_view, execution_views

    if args.verb == "list" and args.id:  # else the id is dropped and every execution listed
        raise CliError(f"executions list takes no id: gateway executions show {args.id}")
    if args.verb == "retry" and args.id and args.all_failed:
        raise CliError(f"retry takes an execution id or --all-failed, not both: gateway executions retry {args.id}")
    runtime, dispatcher = _runtime(args)
    try:
        if args.verb == "show" and not args.id:
            print("show needs an execution id (gateway executions lists them)", file=sys.stderr)
            return 2
        if args.verb == "show":
            execution = runtime.mirror.execution(args.id)
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
            for view in execution_views(runtime, found):
                number = view["ticket"]["number"] if view["ticket"] else "-"
                print(
                    f"{view['id']}  {view['status']:<9} {view['action']:<20} {view['target']:<12} {number:<8}"
                    f" {view['error'] or ''}"
                )
    except GatewayError as exc:
        print(f"{exc.code}: {exc.detail}", file=sys.stderr)
        return 1
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

    about = f"run the web app, {DEFAULT_WORKERS} supervised workers and (unset REDIS_URL) an embedded Redis"
    serve = sub.add_parser("serve", parents=[common], help=about, description=about)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8080)
    serve.add_argument(
        "--workers",
        type=_workers,
        default=DEFAULT_WORKERS,
        help=f"worker processes (default {DEFAULT_WORKERS}; 0: none)",
    )
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
    tickets.add_argument("--state", type=ticket_state, help=f"one of {', '.join(STATES)}")
    tickets.add_argument("--source")
    tickets.add_argument("-q")
    tickets.set_defaults(func=cmd_tickets)

    executions = sub.add_parser("executions", parents=[common], help="the execution log: list, show, retry")
    executions.add_argument("verb", nargs="?", choices=["list", "show", "retry"], default="list")
    executions.add_argument("id", nargs="?")
    which = executions.add_mutually_exclusive_group()  # --failed is --status failed: both at once ignored one
    which.add_argument("--failed", action="store_true", help="same as --status failed")
    which.add_argument("--status", type=execution_status, help=f"one of {', '.join(EXECUTION_STATUSES)}")
    executions.add_argument("--target")
    executions.add_argument("--flow")
    executions.add_argument("--all-failed", action="store_true")
    executions.set_defaults(func=cmd_executions)

    db = sub.add_parser("db", parents=[common], help="the mirror database: upgrade (migrate) or prune (retention)")
    db.add_argument("verb", choices=["upgrade", "prune"])
    db.add_argument("--days", type=_days, help="prune what is older than this (default: $GATEWAY_RETENTION_DAYS or 90)")
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
    emulate.add_argument("--port", type=_port)
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
    except Exception as exc:
        psycopg = sys.modules.get("psycopg")  # loaded only for a PostgreSQL mirror; then its errors are the user's
        if psycopg is None or not isinstance(exc, psycopg.Error):
            raise
        print(f"gateway: {type(exc).__name__}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> None:
    from gateway.run.logs import configure_logging

    try:
        configure_logging()
    except ValueError as exc:  # GATEWAY_LOG_LEVEL: one line, as every other setting a user can fix
        print(f"gateway: {exc}", file=sys.stderr)
        sys.exit(2)
    os.umask(0o077)  # whatever a command creates first (var/, the database, an export) is the owner's only
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
