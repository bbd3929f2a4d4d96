"""`gateway export`: every ticket's audit record to a file or stdout, streamed, with a progress bar
on a terminal."""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import IO, Any

from gateway.record.history import FORMATS, count_tickets, export_chunks, ticket_pages
from gateway.record.runtime import Runtime
from gateway.rules.lifecycle import STATES, canonical_state


def parse_since(text: str) -> float:
    """`2026-01-31` or an ISO date-time (UTC unless it says otherwise) -> a timestamp."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {text!r} is not a date such as 2026-01-31 or 2026-01-31T12:00:00Z") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def run_export(runtime: Runtime, args: argparse.Namespace, progress: IO[str] | None = None) -> int:
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    state = canonical_state(args.state) if args.state else None
    if args.state and state is None:
        print(f"--state {args.state!r} is not a ticket state; states: {', '.join(STATES)}", file=sys.stderr)
        return 2
    progress = progress if progress is not None else (sys.stderr if sys.stderr.isatty() else None)
    total = count_tickets(runtime, since=since, state=state) if progress else 0
    target: Any = open(args.output, "w", encoding="utf-8") if args.output else nullcontext(sys.stdout)  # noqa: SIM115
    with target as out:
        written = 0
        for text, written in export_chunks(runtime, ticket_pages(runtime, since=since, state=state), args.format):
            out.write(text)
            if progress and written and (written % 200 == 0 or written == total):
                _bar(progress, written, total)
    if progress:
        progress.write("\n")
    print(f"exported {written} ticket(s)" + (f" to {args.output}" if args.output else ""), file=sys.stderr)
    return 0


def _bar(out: IO[str], done: int, total: int, width: int = 30) -> None:
    filled = width * done // max(total, 1)
    out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} tickets")
    out.flush()


def add_parser(sub: Any, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    export = sub.add_parser(
        "export", parents=[common], help="every ticket with its links, anomalies and history (backups, audits)"
    )
    export.add_argument("--since", help="tickets changed since this date (2026-01-31 or an ISO date-time)")
    export.add_argument("--state", help="only tickets in this state")
    export.add_argument("--format", choices=FORMATS, default="yaml")
    export.add_argument("--output", help="write to this file (default: stdout)")
    parser: argparse.ArgumentParser = export
    return parser
